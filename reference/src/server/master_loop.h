#pragma once
// The main thread of a PROCESS or THREAD master: it owns the signals the server reserves
// (SIG-4: SIGTERM stop, SIGUSR1/SIGUSR2 reload), runs Start/Shutdown-side callbacks, watches
// child processes through pidfds and takes work posted by the reactor threads.
#include <sys/types.h>

#include <functional>
#include <memory>
#include <vector>

#include "procspec/event_loop.h"
#include "procspec/unique_fd.h"
#include "server/mailbox.h"
#include "server/server_core.h"

namespace procspec::detail {

class MasterLoop {
 public:
  static Result<std::unique_ptr<MasterLoop>> create(ServerCore& core);
  ~MasterLoop();
  MasterLoop(const MasterLoop&) = delete;
  MasterLoop& operator=(const MasterLoop&) = delete;

  EventLoop& loop() { return *loop_; }
  void post(Mailbox::Task task) { mailbox_->post(std::move(task)); }

  // SIGTERM (Server::shutdown sends it too): runs once.
  void on_stop_requested(std::function<void()> fn) { on_stop_ = std::move(fn); }
  // SIGUSR1/SIGUSR2; unset: the mode cannot reload and says so in the log.
  void on_reload_requested(std::function<void(int signo)> fn) { on_reload_ = std::move(fn); }
  // Calls on_exit (on this thread) when the child exits; reap it with reap_child().
  Status watch_child(pid_t pid, std::function<void()> on_exit);
  void reap_child(pid_t pid);

  // Installs the signal handlers, runs the Start callback, serves until stop().
  Status run();
  void stop() { loop_->stop(); }
  bool stopping() const noexcept { return stopping_; }
  void mark_stopping() noexcept { stopping_ = true; }

 private:
  MasterLoop(ServerCore& core, std::unique_ptr<EventLoop> loop, std::unique_ptr<Mailbox> mailbox)
      : core_(core), loop_(std::move(loop)), mailbox_(std::move(mailbox)) {}

  ServerCore& core_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<Mailbox> mailbox_;
  std::function<void()> on_stop_;
  std::function<void(int)> on_reload_;
  std::vector<UniqueFd> pidfds_;
  bool stopping_ = false;
};

}  // namespace procspec::detail

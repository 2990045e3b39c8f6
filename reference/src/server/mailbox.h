#pragma once
// Mailbox: how one thread asks another thread's event loop to run something. EventLoop::defer
// is for the loop's own thread; the PROCESS/THREAD master's threads (main, reactors, THREAD
// workers) talk to each other through a mailbox each: post() from any thread, the callbacks run
// on the owner's loop, in order.
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "procspec/event_loop.h"
#include "procspec/result.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

class Mailbox {
 public:
  using Task = std::function<void()>;
  static Result<std::unique_ptr<Mailbox>> create();
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // On the owner's thread: start/stop running posted tasks on `loop`. Tasks posted before
  // attach() wait for it.
  Status attach(EventLoop& loop);
  void detach();
  // Any thread.
  void post(Task task);

 private:
  explicit Mailbox(UniqueFd efd) : efd_(std::move(efd)) {}
  void run_posted();

  UniqueFd efd_;
  EventLoop* loop_ = nullptr;
  std::mutex mutex_;
  std::vector<Task> queue_;
};

}  // namespace procspec::detail

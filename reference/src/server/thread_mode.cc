// THREAD mode layout (SRV-THREAD-1), as Swoole 6 lays it out: one process; the main thread keeps
// the signals and the Start/Shutdown callbacks; `worker_num` worker threads each accept on the
// shared listening socket and are the reactor of the connections they accept, exactly as BASE
// workers are (the same BaseWorker), so a request makes no hop between threads at all. Nothing
// can restart a thread that crashed: a fatal error in a worker ends the whole process, and the
// kernel closes every client connection with it (SRV-THREAD-2).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "procspec/log.h"
#include "procspec/role.h"
#include "server/base_worker.h"
#include "server/mailbox.h"
#include "server/master_loop.h"
#include "server/server_core.h"
#include "server/server_threads.h"

namespace procspec::detail {
namespace {

class ThreadMode final : public ModeRunner {
 public:
  Status run(ServerCore& core) override {
    core_ = &core;
    if (auto st = check_settings(core.settings); !st) return st;
    const int workers = core.settings.worker_num;
    for (int w = 0; w < workers; ++w) {
      auto inbox = Mailbox::create();
      if (!inbox) return forward_error(std::move(inbox).error());
      inboxes_.push_back(std::move(*inbox));
    }
    auto master = MasterLoop::create(core);
    if (!master) return forward_error(std::move(master).error());
    master_ = master->get();
    set_current_role(Role::master);
    core.master_pid = ::getpid();
    core.manager_pid = 0;
    master_->on_stop_requested([this] { stop_workers(); });

    Status st;
    {
      ThreadedMasterGuard threaded;
      start_workers(core);
      st = master_->run();
      if (!st) stop_workers();
      for (auto& t : threads_) t.join();
      threads_.clear();
    }
    if (core.events.on_shutdown) core.events.on_shutdown(*core.facade);
    master->reset();
    inboxes_.clear();
    set_current_role(Role::plain);
    if (!st) return st;
    std::lock_guard<std::mutex> lock(mutex_);
    return worker_error_;
  }

  Status shutdown() override {
    if (::kill(core_->master_pid, SIGTERM) != 0) return sys_fail(errno, "shutdown: kill(master)");
    return {};
  }

  Status reload() override {
    return fail(errc::wrong_role, "reload: THREAD mode cannot replace its worker threads (use PROCESS or BASE)");
  }

 private:
  static Status check_settings(const ServerSettings& s) {
    if (s.max_request > 0) {
      return fail(errc::invalid_setting, "max_request " + std::to_string(s.max_request) +
                                             ": THREAD mode does not recycle worker threads (use PROCESS or BASE)");
    }
    if (s.ipc != ChannelType::thread) {
      return fail(errc::invalid_setting, std::string("ipc ") + std::string(channel_type_name(s.ipc)) +
                                             ": THREAD mode has no reactor-to-worker channel; its worker threads own "
                                             "their connections (SRV-THREAD-1); channels are PROCESS mode's");
    }
    return {};
  }

  void start_workers(ServerCore& core) {
    const int workers = core.settings.worker_num;
    running_ = workers;
    for (int w = 0; w < workers; ++w) {
      threads_.push_back(start_thread_without_signals([this, &core, w] {
        BaseWorker worker(core, w, inboxes_);
        if (auto st = worker.run(); !st) {
          log_error("worker thread " + std::to_string(w) + ": " + st.error().message);
          {
            std::lock_guard<std::mutex> lock(mutex_);
            if (worker_error_) worker_error_ = st;
          }
          // A server missing a worker would look healthy while serving less: stop all of it.
          master_->post([this] { stop_workers(); });
        }
        if (running_.fetch_sub(1) == 1) master_->post([this] { master_->stop(); });
      }));
    }
  }

  // Graceful (SRV-11): each worker answers what it received, then closes and ends its thread.
  void stop_workers() {
    for (auto& inbox : inboxes_) inbox->post(&BaseWorker::stop_current);
  }

  ServerCore* core_ = nullptr;
  MasterLoop* master_ = nullptr;
  std::vector<std::unique_ptr<Mailbox>> inboxes_;
  std::vector<std::thread> threads_;
  std::atomic<int> running_{0};
  std::mutex mutex_;
  Status worker_error_;
};

}  // namespace

std::unique_ptr<ModeRunner> make_thread_mode() { return std::make_unique<ThreadMode>(); }

}  // namespace procspec::detail

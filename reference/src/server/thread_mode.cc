// THREAD mode layout (SRV-THREAD-1): one process; reactor threads own the connections and hand
// packets to worker threads over in-process channels (the `thread` channel unless `ipc` names
// another). Nothing can restart a thread that crashed: a fatal error in a worker ends the whole
// process, and the kernel closes every client connection with it (SRV-THREAD-2).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "procspec/log.h"
#include "procspec/role.h"
#include "server/channel_worker.h"
#include "server/master_loop.h"
#include "server/reactor_group.h"
#include "server/server_core.h"

namespace procspec::detail {
namespace {

class ThreadMode final : public ModeRunner {
 public:
  Status run(ServerCore& core) override {
    core_ = &core;
    if (core.settings.max_request > 0) {
      return fail(errc::invalid_setting, "max_request " + std::to_string(core.settings.max_request) +
                                             ": THREAD mode does not recycle worker threads (use PROCESS or BASE)");
    }
    const int workers = core.settings.worker_num;
    auto pairs = make_server_channels(core);
    if (!pairs) return forward_error(std::move(pairs).error());
    auto group = ReactorGroup::create(core, *pairs);
    if (!group) return forward_error(std::move(group).error());
    auto master = MasterLoop::create(core);
    if (!master) return forward_error(std::move(master).error());
    group_ = group->get();
    master_ = master->get();
    set_current_role(Role::master);
    core.master_pid = ::getpid();
    core.manager_pid = 0;

    master_->on_stop_requested([this, workers] {
      group_->shutdown([this, workers] {
        master_->post([this, workers] {
          for (int w = 0; w < workers; ++w) group_->shutdown_worker(w);
        });
      });
    });
    Status st = group_->start();
    if (st) start_workers(core, *pairs);
    if (st) st = master_->run();
    if (!st) {
      for (int w = 0; w < workers; ++w) group_->shutdown_worker(w);
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
    Status reactors_st = group_->stop_and_join();
    if (core.events.on_shutdown) core.events.on_shutdown(*core.facade);
    master->reset();
    group->reset();
    set_current_role(Role::plain);
    if (!st) return st;
    return reactors_st;
  }

  Status shutdown() override {
    if (::kill(core_->master_pid, SIGTERM) != 0) return sys_fail(errno, "shutdown: kill(master)");
    return {};
  }

  Status reload() override {
    return fail(errc::wrong_role, "reload: THREAD mode cannot replace its worker threads (use PROCESS or BASE)");
  }

 private:
  void start_workers(ServerCore& core, std::vector<ChannelPair>& pairs) {
    const int workers = core.settings.worker_num;
    const int reactors = core.settings.reactor_num;
    running_ = workers;
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);  // the threads inherit it: signals are the main thread's
    for (int w = 0; w < workers; ++w) {
      std::vector<Channel*> links;
      for (int r = 0; r < reactors; ++r) links.push_back(pairs[channel_index(w, r, reactors)].worker.get());
      threads_.emplace_back([this, &core, w, links = std::move(links)]() mutable {
        ChannelWorker worker(core, w, std::move(links), /*own_process=*/false);
        if (auto st = worker.run(); !st) log_error("worker thread " + std::to_string(w) + ": " + st.error().message);
        if (running_.fetch_sub(1) == 1) master_->post([this] { master_->stop(); });
      });
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  ServerCore* core_ = nullptr;
  ReactorGroup* group_ = nullptr;
  MasterLoop* master_ = nullptr;
  std::vector<std::thread> threads_;
  std::atomic<int> running_{0};
};

}  // namespace

std::unique_ptr<ModeRunner> make_thread_mode() { return std::make_unique<ThreadMode>(); }

}  // namespace procspec::detail

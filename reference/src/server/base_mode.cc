// BASE mode layout (SRV-BASE-1): with one worker and nothing to manage the starting process is
// the worker; otherwise it becomes the manager (shared with Process\Pool) and forks worker_num
// workers, each a full reactor on the shared listening socket.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "pool/manager.h"
#include "procspec/log.h"
#include "procspec/role.h"
#include "server/base_worker.h"
#include "server/server_core.h"
#include "server/worker_services.h"

namespace procspec::detail {
namespace {

class BaseMode final : public ModeRunner {
 public:
  Status run(ServerCore& core) override {
    core_ = &core;
    const auto& s = core.settings;
    // SRV-BASE-1: user processes need a manager as much as task workers do.
    single_ = s.worker_num == 1 && s.task_worker_num == 0 && s.max_request == 0 && !core.services->needs_manager();
    return single_ ? run_single(core) : run_managed(core);
  }

  Status shutdown() override {
    if (single_) {
      if (!worker_) return fail(errc::not_started, "shutdown: the worker is not running");
      worker_->begin_stop();
      return {};
    }
    // manager_ points into the manager's stack; a forked worker holds a stale copy of it.
    if (manager_ && ::getpid() == core_->manager_pid) {
      manager_->request_shutdown();
      return {};
    }
    if (::kill(core_->manager_pid, SIGTERM) != 0) return sys_fail(errno, "shutdown: kill(manager)");
    return {};
  }

  Status reload() override {
    if (single_) {
      return fail(errc::wrong_role, "reload: a BASE server with one worker and nothing to manage is a single process "
                                    "and cannot reload (SRV-BASE-1)");
    }
    if (manager_ && ::getpid() == core_->manager_pid) {
      manager_->request_reload({SlotKind::worker, SlotKind::task_worker});
      return {};
    }
    if (::kill(core_->manager_pid, SIGUSR1) != 0) return sys_fail(errno, "reload: kill(manager)");
    return {};
  }

 private:
  Status run_single(ServerCore& core) {
    set_current_role(Role::worker);
    core.master_pid = ::getpid();
    core.manager_pid = 0;
    if (core.events.on_start) core.events.on_start(*core.facade);
    BaseWorker worker(core, 0);
    worker_ = &worker;
    auto st = worker.run();
    worker_ = nullptr;
    if (core.events.on_shutdown) core.events.on_shutdown(*core.facade);
    return st;
  }

  Status run_managed(ServerCore& core) {
    set_current_role(Role::manager);
    core.master_pid = ::getpid();
    core.manager_pid = ::getpid();
    ManagerOptions options;
    options.max_wait_time = std::chrono::milliseconds(static_cast<long long>(core.settings.max_wait_time * 1000));
    // SRV-6: a worker recycled by max_request exits 0 on purpose; it is not a crash to back off from.
    if (core.settings.max_request > 0) {
      options.planned_exit = [](const ChildExit& exit) { return exit.code == 0 && exit.signal == 0; };
    }
    apply_service_manager_options(options);
    Manager manager(options, nullptr);
    for (int id = 0; id < core.settings.worker_num; ++id) {
      manager.add_slot(SlotKind::worker, [&core](int worker_id) {
        set_current_role(Role::worker);
        BaseWorker worker(core, worker_id);
        auto st = worker.run();
        if (!st) log_error("worker " + std::to_string(worker_id) + ": " + st.error().message);
        return st ? 0 : 1;
      });
    }
    // After the workers, so task workers get ids worker_num.. and user processes the ones after.
    if (auto st = register_service_slots(manager, core); !st) return st;
    ManagerHooks hooks;
    hooks.on_start = [&core] {
      if (core.events.on_start) core.events.on_start(*core.facade);
      if (core.events.on_manager_start) core.events.on_manager_start(*core.facade);
    };
    hooks.on_shutdown = [&core] {
      if (core.events.on_manager_stop) core.events.on_manager_stop(*core.facade);
      if (core.events.on_shutdown) core.events.on_shutdown(*core.facade);
    };
    hooks.on_child_exit = [&core](const ChildExit& exit) {
      if ((exit.code != 0 || exit.signal != 0) && core.events.on_worker_error) {
        core.events.on_worker_error(*core.facade, WorkerError{exit.id, exit.pid, exit.code, exit.signal});
      }
    };
    manager_ = &manager;
    auto st = manager.run(hooks);
    manager_ = nullptr;
    return st;
  }

  ServerCore* core_ = nullptr;
  bool single_ = true;
  BaseWorker* worker_ = nullptr;
  Manager* manager_ = nullptr;
};

}  // namespace

std::unique_ptr<ModeRunner> make_base_mode() { return std::make_unique<BaseMode>(); }

}  // namespace procspec::detail

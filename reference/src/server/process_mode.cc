// PROCESS mode layout (SRV-PROC-1): the master forks the manager first, while it still has one
// thread, then starts reactor_num reactor threads that own every connection; the manager forks
// worker_num workers that talk to the reactors over channels (the `ipc` setting, IPC-1).
//
//   master: main thread (signals, control link)      manager (Manager, shared with the Pool)
//           reactor threads ⇄ channels ⇄ worker processes (children of the manager)
//
// A worker that dies is settled by the master before its replacement starts (control_link.h).
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/after_fork.h"
#include "pool/manager.h"
#include "procspec/log.h"
#include "procspec/role.h"
#include "server/channel_worker.h"
#include "server/control_link.h"
#include "server/master_loop.h"
#include "server/reactor_group.h"
#include "server/server_core.h"
#include "server/worker_services.h"

namespace procspec::detail {
namespace {

class ProcessMode final : public ModeRunner {
 public:
  Status run(ServerCore& core) override {
    core_ = &core;
    auto pairs = make_server_channels(core);
    if (!pairs) return forward_error(std::move(pairs).error());
    auto link = make_control_link();
    if (!link) return forward_error(std::move(link).error());
    auto [master_end, manager_end] = std::move(*link);

    set_current_role(Role::master);
    core.master_pid = ::getpid();
    // The manager's signals stay blocked from fork until its signalfd takes them over: a reload
    // forwarded by the master at once must not find the default action (death) in place.
    sigset_t manager_signals, old_mask;
    sigemptyset(&manager_signals);
    for (int signo : {SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM}) sigaddset(&manager_signals, signo);
    ::pthread_sigmask(SIG_BLOCK, &manager_signals, &old_mask);
    std::fflush(nullptr);
    const pid_t manager = ::fork();
    if (manager == 0) {
      master_end.reset();
      ::_exit(run_manager(core, *pairs, std::move(manager_end)));
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (manager < 0) return sys_fail(errno, "fork (manager)");
    core.manager_pid = manager;
    manager_end.reset();
    for (auto& pair : *pairs) pair.worker.reset();
    return run_master(core, *pairs, std::move(master_end));
  }

  Status shutdown() override {
    if (::kill(core_->master_pid, SIGTERM) != 0) return sys_fail(errno, "shutdown: kill(master)");
    return {};
  }

  Status reload() override {
    if (::kill(core_->manager_pid, SIGUSR1) != 0) return sys_fail(errno, "reload: kill(manager)");
    return {};
  }

 private:
  Status run_master(ServerCore& core, std::vector<ChannelPair>& pairs, UniqueFd control) {
    auto group = ReactorGroup::create(core, pairs);
    if (!group) return abandon(forward_error(std::move(group).error()));
    auto master = MasterLoop::create(core);
    if (!master) return abandon(forward_error(std::move(master).error()));
    group_ = group->get();
    master_ = master->get();
    const pid_t manager = core.manager_pid;

    // The control link: a worker died, settle it in every reactor, then let the manager restart it.
    auto on_control = [this, fd = control.get()] {
      for (;;) {
        auto message = receive_control(fd);
        if (!message) {
          (void)master_->loop().remove(fd);  // the manager is gone; its pidfd says so too
          return;
        }
        if (!*message) return;
        const int worker = (*message)->worker;
        group_->worker_exited(worker, [this, fd, worker] {
          master_->post([fd, worker] {
            (void)send_control(fd, ControlMessage{ControlMessage::Type::release_worker, worker, 0, 0, 0});
          });
        });
      }
    };
    Status st = master_->loop().add(control.get(), on_control);
    if (st) st = master_->watch_child(manager, [this] { on_manager_exit(); });
    if (st) {
      master_->on_stop_requested([this, manager] {
        group_->shutdown([this, manager] {
          // Connections are drained: now the workers may go (their stop handshake still needs
          // the reactors, which run until the manager is gone).
          master_->post([manager] { ::kill(manager, SIGTERM); });
        });
      });
      master_->on_reload_requested([manager](int signo) { ::kill(manager, signo); });
      st = group_->start();
    }
    if (st) st = master_->run();  // on_start runs in there, on the main thread
    if (!st) ::kill(manager, SIGTERM);
    Status reactors = group_->stop_and_join();
    (void)master_->loop().remove(control.get());
    master_->reap_child(manager);
    if (core.events.on_shutdown) core.events.on_shutdown(*core.facade);
    master->reset();
    group->reset();
    set_current_role(Role::plain);
    if (!st) return st;
    if (manager_failed_) return fail(errc::not_started, "the manager process died; the server stopped");
    return reactors;
  }

  void on_manager_exit() {
    if (!master_->stopping()) {
      int status = 0;
      std::string how = "exited";
      if (::waitpid(core_->manager_pid, &status, WNOHANG) == core_->manager_pid) {
        how = WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                  : "exited with code " + std::to_string(WEXITSTATUS(status));
      }
      log_error("master: the manager process " + how + " unexpectedly; shutting the server down");
      manager_failed_ = true;
      group_->shutdown([this] { master_->post([this] { master_->stop(); }); });
      master_->mark_stopping();
      return;
    }
    master_->stop();
  }

  // Start failed after the manager was forked: it must not outlive us.
  Status abandon(Status st) {
    ::kill(core_->manager_pid, SIGTERM);
    int status = 0;
    while (::waitpid(core_->manager_pid, &status, 0) < 0 && errno == EINTR) {
    }
    set_current_role(Role::plain);
    return st;
  }

  static int run_manager(ServerCore& core, std::vector<ChannelPair>& pairs, UniqueFd control) {
    run_after_fork_child_hooks();
    set_current_role(Role::manager);
    const pid_t master = ::getppid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != master) return 1;
    core.manager_pid = ::getpid();
    core.listen_fd.reset();
    for (auto& pair : pairs) pair.reactor.reset();
    const int reactors = core.settings.reactor_num;

    ManagerOptions options;
    options.max_wait_time = std::chrono::milliseconds(static_cast<long long>(core.settings.max_wait_time * 1000));
    if (core.settings.max_request > 0) {
      options.planned_exit = [](const ChildExit& exit) { return exit.code == 0 && exit.signal == 0; };
    }
    apply_service_manager_options(options);  // task workers stop after the workers (SRV-11)
    Manager manager(options, nullptr);
    for (int id = 0; id < core.settings.worker_num; ++id) {
      manager.add_slot(SlotKind::worker, [&core, &pairs, reactors](int worker_id) {
        set_current_role(Role::worker);
        std::vector<Channel*> links;
        for (std::size_t i = 0; i < pairs.size(); ++i) {
          if (static_cast<int>(i) / reactors == worker_id) links.push_back(pairs[i].worker.get());
          else pairs[i].worker.reset();  // another worker's: not ours to read
        }
        ChannelWorker worker(core, worker_id, std::move(links));
        auto st = worker.run();
        if (!st) log_error("worker " + std::to_string(worker_id) + ": " + st.error().message);
        return st ? 0 : 1;
      });
    }
    // Task workers (SRV-8) and user processes (SRV-10) after the workers, so their ids follow.
    auto services = register_service_slots(manager, core, [&pairs] {
      for (auto& pair : pairs) pair.worker.reset();  // reactor<->worker channels are not theirs
    });
    if (!services) {
      log_error("manager: " + services.error().message);
      return 1;
    }
    ManagerHooks hooks;
    hooks.on_start = [&core] {
      if (core.events.on_manager_start) core.events.on_manager_start(*core.facade);
    };
    hooks.on_shutdown = [&core] {
      if (core.events.on_manager_stop) core.events.on_manager_stop(*core.facade);
    };
    hooks.on_child_exit = [&core, &manager, fd = control.get()](const ChildExit& exit) {
      if ((exit.code != 0 || exit.signal != 0) && core.events.on_worker_error) {
        core.events.on_worker_error(*core.facade, WorkerError{exit.id, exit.pid, exit.code, exit.signal});
      }
      if (exit.kind != SlotKind::worker) return;
      manager.hold_restart(exit.id);
      const ControlMessage message{ControlMessage::Type::worker_exited, exit.id, exit.pid, exit.code, exit.signal};
      if (!send_control(fd, message)) {
        manager.release_restart(exit.id);  // no master to wait for; it is going away too
      }
    };
    hooks.control_fd = control.get();
    hooks.on_control = [&manager, fd = control.get()] {
      for (;;) {
        auto message = receive_control(fd);
        if (!message) {
          log_error("manager: the master is gone; shutting down");
          manager.request_shutdown();
          return false;
        }
        if (!*message) return true;
        if ((*message)->type == ControlMessage::Type::release_worker) manager.release_restart((*message)->worker);
      }
    };
    auto st = manager.run(hooks);
    std::fflush(nullptr);
    return st ? 0 : 1;
  }

  ServerCore* core_ = nullptr;
  ReactorGroup* group_ = nullptr;
  MasterLoop* master_ = nullptr;
  bool manager_failed_ = false;
};

}  // namespace

std::unique_ptr<ModeRunner> make_process_mode() { return std::make_unique<ProcessMode>(); }

}  // namespace procspec::detail

// The shared half of the server's services (worker_services.h): what start() makes before any
// fork, and the manager slots of task workers (SRV-8) and user processes (SRV-10).
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include <fstream>
#include <string>

#include "loop/signal_internal.h"
#include "pool/manager.h"
#include "pool/user_process_body.h"
#include "procspec/log.h"
#include "procspec/role.h"
#include "server/server_core.h"
#include "server/worker_services.h"

namespace procspec::detail {
namespace {

std::size_t read_msgmax() {
  std::ifstream in("/proc/sys/kernel/msgmax");
  std::size_t v = 0;
  return (in >> v && v > 64) ? v : 8192;
}

// A task worker: its inbox (and, with task_ipc_mode 2/3, its queue receivers) in an event loop.
// SIGTERM (reload, or shutdown once the event workers are gone) stops it between two tasks;
// the tasks it already took in are run before it exits.
int run_task_worker(ServerCore& core, int worker_id) {
  set_current_role(Role::task_worker);
  core.listen_fd.reset();
  const std::string who = "task worker " + std::to_string(worker_id);
  auto loop = EventLoop::create();
  if (!loop) {
    log_error(who + ": " + loop.error().message);
    return 1;
  }
  EventLoop& l = **loop;
  auto services = WorkerServices::attach(core, worker_id, &l);
  if (!services) {
    log_error(who + ": " + services.error().message);
    return 1;
  }
  if (auto st = set_signal_internal(SIGTERM, [&l](int) { l.stop(); }); !st) {
    log_error(who + ": " + st.error().message);
    return 1;
  }
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::pthread_sigmask(SIG_UNBLOCK, &term, nullptr);  // held since fork (manager.h)
  Server& server = *core.facade;
  if (core.events.on_worker_start) core.events.on_worker_start(server, worker_id);
  auto st = l.run();
  (*services)->finish_held_work();
  if (core.events.on_worker_stop) core.events.on_worker_stop(server, worker_id);
  (void)remove_signal_internal(SIGTERM);
  services->reset();
  if (!st) {
    log_error(who + ": " + st.error().message);
    return 1;
  }
  return 0;
}

}  // namespace

ServerServices::~ServerServices() { release(); }

Status ServerServices::prepare(ServerCore& core) {
  worker_num = core.settings.worker_num;
  task_worker_num = core.settings.task_worker_num;
  task_ipc_mode = core.settings.task_ipc_mode;
  if (core.mode == ServerMode::thread && needs_manager()) {
    return fail(errc::invalid_setting,
                "start: task_worker_num " + std::to_string(task_worker_num) + " / " + std::to_string(user_processes.size()) +
                    " add_process: task workers and user processes are processes, which THREAD mode does not have "
                    "in this implementation; use PROCESS or BASE mode");
  }
  if (task_worker_num > 0 && !core.events.on_task)
    return fail(errc::invalid_setting, "start: task_worker_num is " + std::to_string(task_worker_num) +
                                           " but the Task event (on_task) is not set");
  const long long ids = static_cast<long long>(user_base()) + static_cast<long long>(user_processes.size());
  if (ids > 65535)
    return fail(errc::invalid_setting, "start: worker_num + task_worker_num + user processes = " + std::to_string(ids) +
                                           " exceeds 65535 (a worker id is 16 bits on the wire)");
  if (core.mode == ServerMode::thread) return {};

  ChannelOptions options;
  options.max_length = kMaxServiceMessage;
  auto inbox = make_channels(ChannelType::uds_dgram, static_cast<std::size_t>(user_base()), options);
  if (!inbox) return forward_error(std::move(inbox).error());
  inboxes = std::move(*inbox);
  if (task_worker_num == 0) return {};

  if (task_ipc_mode != 1) {
    // Capacity 1: a busy task worker's receiver holds at most one task ahead, so idle task
    // workers get the rest of the shared queue (mode 3's preemption).
    options.queue_capacity = 1;
    auto queues = make_channels(ChannelType::sysvmsg, static_cast<std::size_t>(task_worker_num) + 1, options);
    if (!queues) return forward_error(std::move(queues).error());
    task_queues = std::move(*queues);
    queue_msgmax = read_msgmax();
  }
  task_state_bytes = sizeof(std::atomic<int>) * (static_cast<std::size_t>(task_worker_num) + 1);
  void* mem = ::mmap(nullptr, task_state_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return sys_fail(errno, "start: mmap(task worker table)");
  task_state = static_cast<std::atomic<int>*>(mem);
  for (int i = 0; i <= task_worker_num; ++i) new (&task_state[i]) std::atomic<int>(0);
  return {};
}

void ServerServices::release() noexcept {
  inboxes.clear();
  task_queues.clear();
  if (task_state) {
    ::munmap(task_state, task_state_bytes);
    task_state = nullptr;
  }
}

void apply_service_manager_options(ManagerOptions& options) { options.stop_last = {SlotKind::task_worker}; }

Status register_service_slots(Manager& manager, ServerCore& core, std::function<void()> in_child) {
  if (!core.services) return fail(errc::not_started, "register_service_slots: the server's services were not prepared");
  ServerServices& s = *core.services;
  for (int t = 0; t < s.task_worker_num; ++t) {
    const int id = s.worker_num + t;
    manager.add_slot(SlotKind::task_worker, [&core, id, in_child](int) {
      if (in_child) in_child();
      return run_task_worker(core, id);
    });
  }
  for (std::size_t i = 0; i < s.user_processes.size(); ++i) {
    const int id = s.user_base() + static_cast<int>(i);
    const UserProcessFactory* factory = &s.user_processes[i];
    manager.add_slot(SlotKind::user, [&core, id, factory, in_child](int) {
      if (in_child) in_child();
      core.listen_fd.reset();
      std::unique_ptr<WorkerServices> sender;
      return run_user_process_body(id, *factory, [&](EventLoop&) {
        auto a = WorkerServices::attach(core, id, nullptr);
        if (a) {
          sender = std::move(*a);
        } else {
          log_error("user process #" + std::to_string(id) + ": " + a.error().message);
        }
      });
    });
  }
  return {};
}

}  // namespace procspec::detail

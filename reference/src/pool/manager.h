#pragma once
// Manager: the process that owns a set of children (pool workers, server workers, task workers,
// user processes), keeps each slot running and stops them all on request. Shared by Pool and
// Server. It runs in the calling process and returns from run() only after every child it
// started has been reaped (POOL-4: no zombie, no orphan).
//
//   - restart: a child that exits or dies is started again in the same slot with a new pid; the
//     exit is logged with its code and signal and reported to on_child_exit (POOL-3), with a
//     back-off for children that die right after starting (POOL-10);
//   - reaping: waitpid(-1, WNOHANG) until 0/ECHILD on every wake-up, because SIGCHLD coalesces
//     (WAIT-7): one signal may stand for many exits;
//   - shutdown (SIGTERM, a stop signal, or request_shutdown()): SIGTERM to every child at once,
//     user processes included (POOL-13), SIGKILL to the survivors after max_wait_time, reap all;
//   - reload (SIGUSR1; SIGUSR2 = task workers only when there are any, else the same): one child
//     at a time gets SIGTERM, the next only after its replacement started (POOL-5); a child still
//     alive after max_wait_time is killed.
// Children get PR_SET_PDEATHSIG(SIGTERM) so the manager's death ends them (POOL-8). A child body
// starts with SIGTERM blocked and must unblock it (after installing its handler, if any).
// Call run() from a single-threaded process: the signal mask it sets is the calling thread's.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "pool/manager_signals.h"
#include "pool/restart_backoff.h"
#include "pool/worker_table.h"
#include "procspec/result.h"

namespace procspec::detail {

struct ChildExit;

struct ManagerOptions {
  std::chrono::milliseconds max_wait_time{3000};
  RestartBackoff backoff{};
  // An exit that is part of normal operation (a Server worker reaching max_request): restarted
  // at once and never counted as a crash, however short its uptime. Empty: none is.
  std::function<bool(const ChildExit&)> planned_exit;
  std::vector<int> stop_signals;  // besides SIGTERM, e.g. SIGINT for a program run from a terminal
  const char* child_label = "worker";  // in log lines
};

struct ChildExit {
  int id;
  SlotKind kind;
  pid_t pid;
  int code;    // exit status if it exited, else 0
  int signal;  // the signal that killed it, else 0
  std::chrono::milliseconds uptime;
};

struct ManagerHooks {
  std::function<void()> on_start;     // after signals are set up, before the first fork
  std::function<void()> on_shutdown;  // after every child was reaped
  std::function<void(const ChildExit&)> on_child_exit;  // every exit while running (not at shutdown)
  // One more fd the manager waits on (the PROCESS master's control link), and its handler;
  // the handler returns false to stop watching it (the other side closed).
  int control_fd = -1;
  std::function<bool()> on_control;
};

class Manager {
 public:
  Manager(ManagerOptions options, SharedSlots* mirror);
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Before run(). Returns the slot id (0, 1, ... in call order).
  int add_slot(SlotKind kind, ChildBody body);
  std::size_t slot_count() const noexcept { return table_.size(); }

  // Runs the manager loop until shutdown; all children reaped when it returns.
  Status run(const ManagerHooks& hooks);

  // From a hook running in the manager process.
  void request_shutdown() noexcept { shutdown_requested_ = true; }
  void request_reload(std::vector<SlotKind> kinds);
  // From on_child_exit: restart this slot only after release_restart(). The PROCESS master
  // settles a dead worker's connections and channel before a replacement may touch them; a
  // rolling reload waits for the replacement as it does without a hold (POOL-5).
  void hold_restart(int slot_id);
  void release_restart(int slot_id);

  bool running() const noexcept { return phase_ == Phase::running; }
  pid_t manager_pid() const noexcept { return manager_pid_; }
  // Children reaped during the last shutdown (pool-shutdown probe).
  std::size_t reaped_at_shutdown() const noexcept { return reaped_at_shutdown_; }

 private:
  enum class Phase { idle, running, stopping };

  void spawn(WorkerSlot& slot);
  [[noreturn]] void run_child(WorkerSlot& slot, pid_t parent);
  void on_signal(int signo);
  void reap_all();
  void on_exit(WorkerSlot& slot, int status);
  void start_due_respawns();
  void begin_shutdown();
  void advance_reload();
  void check_deadlines();
  int poll_timeout_ms() const;
  bool held(int slot_id) const;

  ManagerOptions options_;
  WorkerTable table_;
  std::optional<ManagerSignals> signals_;
  const ManagerHooks* hooks_ = nullptr;
  Phase phase_ = Phase::idle;
  pid_t manager_pid_ = 0;
  bool shutdown_requested_ = false;
  std::optional<Clock::time_point> kill_deadline_;  // shutdown: SIGKILL at this time
  bool killed_all_ = false;
  std::size_t reaped_at_shutdown_ = 0;

  // Rolling reload: ids still to restart, the one being restarted and its deadline.
  std::vector<int> reload_queue_;
  std::optional<int> reloading_;
  std::optional<Clock::time_point> reload_deadline_;

  std::vector<int> held_;  // slot ids whose restart waits for release_restart()
};

}  // namespace procspec::detail

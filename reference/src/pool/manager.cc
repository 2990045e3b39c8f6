#include "pool/manager.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>

#include "base/after_fork.h"
#include "loop/signal_internal.h"
#include "procspec/log.h"
#include "procspec/signals.h"

namespace procspec::detail {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string signal_label(int signo) {
  const char* abbrev = ::sigabbrev_np(signo);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(signo);
}

std::string kind_label(SlotKind kind, const char* worker_label) {
  switch (kind) {
    case SlotKind::worker: return worker_label;
    case SlotKind::task_worker: return "task worker";
    case SlotKind::user: return "user process";
  }
  return "child";
}

}  // namespace

Manager::Manager(ManagerOptions options, SharedSlots* mirror)
    : options_(std::move(options)), table_(mirror) {}

int Manager::add_slot(SlotKind kind, ChildBody body) {
  PROCSPEC_CHECK(phase_ == Phase::idle, "Manager::add_slot after run()");
  return table_.add(kind, std::move(body));
}

Status Manager::run(const ManagerHooks& hooks) {
  PROCSPEC_CHECK(phase_ == Phase::idle, "Manager::run is not reentrant");
  auto sig = ManagerSignals::open(options_.stop_signals);
  if (!sig) return forward_error(std::move(sig).error());
  signals_.emplace(std::move(*sig));
  hooks_ = &hooks;
  manager_pid_ = ::getpid();
  phase_ = Phase::running;
  shutdown_requested_ = false;
  killed_all_ = false;
  kill_deadline_.reset();
  reaped_at_shutdown_ = 0;

  int control_fd = hooks.control_fd;
  if (hooks.on_start) hooks.on_start();
  if (!shutdown_requested_) {
    for (auto& slot : table_.slots()) spawn(slot);
  }

  for (;;) {
    if (shutdown_requested_ && phase_ == Phase::running) begin_shutdown();
    if (phase_ == Phase::stopping && table_.running_count() == 0) break;
    // The second fd: handlers user code registered through signals.h (signals the manager role
    // does not reserve) are announced on the signal pipe; the pipe exists once one was set.
    // The user-handler pipe exists once a handler was set; -1 entries are skipped by poll.
    pollfd p[3] = {{signals_->fd(), POLLIN, 0}, {signal_pipe_read_fd(), POLLIN, 0}, {control_fd, POLLIN, 0}};
    if (::poll(p, 3, poll_timeout_ms()) < 0 && errno != EINTR) {
      log_error(std::string("manager: poll: ") + ::strerror(errno));
    }
    for (int signo : signals_->drain()) on_signal(signo);
    Signals::dispatch();
    if (p[2].fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) && hooks.on_control && !hooks.on_control()) {
      control_fd = -1;
    }
    // Every wake-up reaps everything: SIGCHLD coalesces, and a deadline wake-up may find exits
    // whose signal is still queued behind it (WAIT-7).
    reap_all();
    check_deadlines();
  }

  if (hooks.on_shutdown) hooks.on_shutdown();
  signals_.reset();
  hooks_ = nullptr;
  phase_ = Phase::idle;
  held_.clear();
  reload_queue_.clear();
  reloading_.reset();
  reload_deadline_.reset();
  return {};
}

void Manager::spawn(WorkerSlot& slot) {
  // Unflushed stdio would be written twice, once by each process.
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) run_child(slot, parent);
  if (pid < 0) {
    const int err = errno;
    const int crashes = slot.crash_count + 1;
    table_.set_crash_count(slot, crashes);
    const milliseconds delay = std::max(options_.backoff.delay(crashes), milliseconds(100));
    slot.respawn_at = Clock::now() + delay;
    log_error("manager: fork for " + kind_label(slot.kind, options_.child_label) + " #" +
              std::to_string(slot.id) + " failed: " + ::strerror(err) + "; retrying in " +
              std::to_string(delay.count()) + " ms");
    return;
  }
  table_.mark_started(slot, pid);
}

void Manager::run_child(WorkerSlot& slot, pid_t parent) {
  run_after_fork_child_hooks();
  signals_->reset_in_child();
  // POOL-8: the manager's death must end its children. PDEATHSIG fires when the parent dies
  // after this call; if it died between fork() and here we were already reparented and the
  // signal will never come, so check the parent is still the one that forked us.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(1);
  const int code = slot.body(slot.id);
  std::fflush(nullptr);
  ::_exit(code);
}

void Manager::on_signal(int signo) {
  if (signals_->is_stop_signal(signo)) {
    if (phase_ == Phase::running) log_info("manager: " + signal_label(signo) + " received; shutting down");
    begin_shutdown();
    return;
  }
  if (signo == SIGUSR1) {
    request_reload({SlotKind::worker, SlotKind::task_worker});
  } else if (signo == SIGUSR2) {
    const bool has_tasks = std::any_of(table_.slots().begin(), table_.slots().end(),
                                       [](const WorkerSlot& s) { return s.kind == SlotKind::task_worker; });
    request_reload({has_tasks ? SlotKind::task_worker : SlotKind::worker});
  }
  // SIGCHLD: reaping happens on every wake-up. SIGALRM: reserved, deadlines use poll timeouts.
}

void Manager::reap_all() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0) return;
    if (pid < 0) {
      if (errno == EINTR) continue;
      return;  // ECHILD: nothing left
    }
    if (WorkerSlot* slot = table_.find_pid(pid)) {
      on_exit(*slot, status);
    } else {
      log_debug("manager: reaped pid " + std::to_string(pid) + ", not one of its children");
    }
  }
}

void Manager::on_exit(WorkerSlot& slot, int status) {
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  const int signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  const auto uptime = duration_cast<milliseconds>(Clock::now() - slot.started_at);
  const ChildExit exit{slot.id, slot.kind, slot.pid, code, signo, uptime};
  const bool requested = slot.stop_requested;
  const std::string who = kind_label(slot.kind, options_.child_label) + " #" + std::to_string(slot.id) +
                          " (pid " + std::to_string(slot.pid) + ")";
  table_.mark_exited(slot, code, signo);
  if (phase_ != Phase::running) {
    ++reaped_at_shutdown_;
    return;
  }

  const std::string how = signo ? "killed by " + signal_label(signo) : "exited with code " + std::to_string(code);
  if (requested) {
    log_info("manager: " + who + " " + how + " for reload; restarting");
  } else if (signo != 0 || code != 0) {
    log_warn("manager: " + who + " " + how + "; restarting");
  } else {
    log_info("manager: " + who + " " + how + "; restarting");
  }
  if (hooks_ && hooks_->on_child_exit) hooks_->on_child_exit(exit);
  if (phase_ != Phase::running || shutdown_requested_) return;  // the hook asked for shutdown

  int crashes = 0;
  const bool planned = requested || (options_.planned_exit && options_.planned_exit(exit));
  if (!planned && options_.backoff.is_crash(uptime)) crashes = slot.crash_count + 1;
  table_.set_crash_count(slot, crashes);
  const milliseconds delay = options_.backoff.delay(crashes);
  if (held(slot.id)) {
    // start_due_respawns starts it once released; a reload of this slot resumes at the release.
    slot.respawn_at = Clock::now() + delay;
    if (reloading_ && *reloading_ == slot.id) reload_deadline_.reset();
    return;
  }
  if (delay.count() > 0) {
    slot.respawn_at = Clock::now() + delay;
    log_warn("manager: " + who + " died " + std::to_string(uptime.count()) + " ms after start (crash #" +
             std::to_string(crashes) + " in a row); next start in " + std::to_string(delay.count()) + " ms");
  } else {
    spawn(slot);
  }
  if (reloading_ && *reloading_ == slot.id) {
    reloading_.reset();
    reload_deadline_.reset();
    advance_reload();
  }
}

void Manager::start_due_respawns() {
  const auto now = Clock::now();
  for (auto& slot : table_.slots()) {
    if (slot.pid == 0 && slot.respawn_at && *slot.respawn_at <= now && !held(slot.id)) spawn(slot);
  }
}

bool Manager::held(int slot_id) const {
  return std::find(held_.begin(), held_.end(), slot_id) != held_.end();
}

void Manager::hold_restart(int slot_id) {
  if (!held(slot_id)) held_.push_back(slot_id);
}

void Manager::release_restart(int slot_id) {
  held_.erase(std::remove(held_.begin(), held_.end(), slot_id), held_.end());
  if (phase_ != Phase::running || slot_id < 0 || static_cast<std::size_t>(slot_id) >= table_.size()) return;
  WorkerSlot& slot = table_.at(slot_id);
  if (slot.pid == 0 && slot.respawn_at && *slot.respawn_at <= Clock::now()) spawn(slot);
  // Releases follow the exit they answer, so a slot being reloaded has its replacement (or its
  // back-off) by now: the reload moves on.
  if (reloading_ && *reloading_ == slot_id) {
    reloading_.reset();
    advance_reload();
  }
}

void Manager::begin_shutdown() {
  if (phase_ != Phase::running) return;
  phase_ = Phase::stopping;
  reload_queue_.clear();
  reloading_.reset();
  reload_deadline_.reset();
  // POOL-13: workers and user processes get SIGTERM in the same pass, so a user process's grace
  // period runs concurrently with the workers', not after it.
  for (auto& slot : table_.slots()) {
    slot.respawn_at.reset();
    if (slot.pid == 0) continue;
    slot.stop_requested = true;
    ::kill(slot.pid, SIGTERM);  // ESRCH: it already died and will be reaped below
  }
  kill_deadline_ = Clock::now() + options_.max_wait_time;
}

void Manager::request_reload(std::vector<SlotKind> kinds) {
  if (phase_ != Phase::running) return;
  if (reloading_ || !reload_queue_.empty()) {
    log_info("manager: reload already in progress; request ignored");
    return;
  }
  for (const auto& slot : table_.slots()) {
    if (std::find(kinds.begin(), kinds.end(), slot.kind) != kinds.end()) reload_queue_.push_back(slot.id);
  }
  log_info("manager: reloading " + std::to_string(reload_queue_.size()) + " children one at a time");
  advance_reload();
}

void Manager::advance_reload() {
  while (!reloading_ && !reload_queue_.empty()) {
    WorkerSlot& slot = table_.at(reload_queue_.front());
    reload_queue_.erase(reload_queue_.begin());
    // A slot waiting out a back-off starts with the current code anyway.
    if (slot.pid == 0) continue;
    slot.stop_requested = true;
    ::kill(slot.pid, SIGTERM);
    reloading_ = slot.id;
    reload_deadline_ = Clock::now() + options_.max_wait_time;
  }
  if (!reloading_ && reload_queue_.empty() && reload_deadline_) reload_deadline_.reset();
}

void Manager::check_deadlines() {
  const auto now = Clock::now();
  if (reloading_ && reload_deadline_ && now >= *reload_deadline_) {
    WorkerSlot& slot = table_.at(*reloading_);
    if (slot.pid != 0) {
      log_warn("manager: force kill " + kind_label(slot.kind, options_.child_label) + " #" +
               std::to_string(slot.id) + " (pid " + std::to_string(slot.pid) + "): still running " +
               std::to_string(options_.max_wait_time.count()) + " ms after the reload SIGTERM");
      ::kill(slot.pid, SIGKILL);
    }
    reload_deadline_.reset();
  }
  if (phase_ == Phase::stopping && !killed_all_ && kill_deadline_ && now >= *kill_deadline_) {
    for (auto& slot : table_.slots()) {
      if (slot.pid == 0) continue;
      log_warn("manager: " + kind_label(slot.kind, options_.child_label) + " #" + std::to_string(slot.id) +
               " (pid " + std::to_string(slot.pid) + ") still running " +
               std::to_string(options_.max_wait_time.count()) + " ms after SIGTERM; sending SIGKILL");
      ::kill(slot.pid, SIGKILL);
    }
    killed_all_ = true;
  }
  if (phase_ == Phase::running) start_due_respawns();
}

int Manager::poll_timeout_ms() const {
  std::optional<Clock::time_point> next;
  auto consider = [&next](const std::optional<Clock::time_point>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& slot : table_.slots()) {
    if (slot.pid == 0 && !held(slot.id)) consider(slot.respawn_at);
  }
  consider(reload_deadline_);
  if (!killed_all_) consider(kill_deadline_);
  if (!next) return -1;
  const auto left = *next - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up: waking a little early would just loop once more.
  return static_cast<int>(duration_cast<milliseconds>(left).count()) + 1;
}

}  // namespace procspec::detail

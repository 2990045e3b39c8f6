// Process::kill, Process::wait and the registry of children owned by Process objects.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/after_fork.h"
#include "base/fork_safe_lock.h"
#include "os/child_registry.h"
#include "procspec/log.h"
#include "procspec/process.h"

namespace procspec {
namespace detail {
namespace {

struct Entry {
  pid_t owner;  // the process that started the child: entries inherited across fork are stale
  pid_t pid;
  std::optional<ExitStatus> reaped;
};

ForkSafeSpinLock g_lock;
std::vector<Entry>* g_entries = nullptr;

void reset_lock_after_fork() noexcept { g_lock.reset_after_fork(); }

std::vector<Entry>& entries() {
  if (!g_entries) {
    add_after_fork_child_hook(&reset_lock_after_fork);
    g_entries = new std::vector<Entry>();  // never freed: children may run after static destructors
  }
  return *g_entries;
}

Entry* find(pid_t pid) {
  const pid_t self = ::getpid();
  for (auto& e : entries()) {
    if (e.pid == pid && e.owner == self) return &e;
  }
  return nullptr;
}

}  // namespace

void registry_add(pid_t pid) {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  if (Entry* e = find(pid)) {
    e->reaped.reset();
    return;
  }
  // Drop entries inherited from an ancestor while we are here.
  const pid_t self = ::getpid();
  auto& v = entries();
  std::erase_if(v, [self](const Entry& e) { return e.owner != self; });
  v.push_back(Entry{self, pid, std::nullopt});
}

void registry_remove(pid_t pid) {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  const pid_t self = ::getpid();
  std::erase_if(entries(), [pid, self](const Entry& e) { return e.pid == pid && e.owner == self; });
}

void registry_record(const ExitStatus& status) {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  if (Entry* e = find(status.pid)) e->reaped = status;
}

std::optional<ExitStatus> registry_reaped(pid_t pid) {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  if (Entry* e = find(pid)) return e->reaped;
  return std::nullopt;
}

ExitStatus decode_wait_status(pid_t pid, int status) {
  ExitStatus st;
  st.pid = pid;
  if (WIFEXITED(status)) st.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) st.signal = WTERMSIG(status);
  return st;
}

}  // namespace detail

std::string ExitStatus::to_string() const {
  if (signal != 0) return "pid " + std::to_string(pid) + " killed by signal " + std::to_string(signal);
  return "pid " + std::to_string(pid) + " exited with code " + std::to_string(code);
}

Status Process::kill(pid_t pid, int sig) {
  // kill(0) and kill(-1) would signal a process group or every process we may signal: never
  // what a caller holding a pid meant.
  if (pid <= 0) return fail(errc::invalid_argument, "kill: pid " + std::to_string(pid) + " is not a process id");
  if (::kill(pid, sig) == 0) return {};
  const int err = errno;
  std::string what = "kill(" + std::to_string(pid) + ", " + std::to_string(sig) + ")";
  // WAIT-5: sig 0 is a liveness probe; "no such process" is its answer, not a fault.
  if (!(sig == 0 && err == ESRCH)) log_warn(what + " failed: " + std::strerror(err));
  return sys_fail(err, what);
}

WaitResult Process::wait(bool blocking) {
  int status = 0;
  for (;;) {
    pid_t pid = ::waitpid(-1, &status, blocking ? 0 : WNOHANG);
    if (pid > 0) {
      ExitStatus st = detail::decode_wait_status(pid, status);
      detail::registry_record(st);
      return WaitResult{st, {}};
    }
    if (pid == 0) return WaitResult{std::nullopt, {}};  // WAIT-2: children still running
    const int err = errno;
    if (err == EINTR) continue;  // WAIT-4: a handler ran; the caller still wants a child
    // WAIT-3: ECHILD is the normal "nothing to wait for"; anything else is a real fault.
    if (err != ECHILD) log_error(std::string("waitpid(-1) failed: ") + std::strerror(err));
    return WaitResult{std::nullopt, std::error_code(err, std::system_category())};
  }
}

}  // namespace procspec

#pragma once
// Fork helpers for tests that need another process without the Process class: a child that runs
// a function and ends with _exit, a bounded wait, and a watchdog that stops a loop at a deadline.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "base/after_fork.h"
#include "procspec/event_loop.h"

namespace procspec::test {

// Forks; the child runs the after-fork hooks (unless told not to), then fn, and _exits with its
// return value (never returning into GoogleTest). Returns the child's pid, or -1.
inline pid_t fork_child(const std::function<int()>& fn, bool run_hooks = true) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (run_hooks) detail::run_after_fork_child_hooks();
    ::_exit(fn());
  }
  return pid;
}

struct ChildExit {
  bool exited = false;  // false: killed by a signal, or timed out (then killed)
  int code = -1;
  int signal = 0;
  bool timed_out = false;
};

// Waits for pid at most `limit`; a child still running then is SIGKILLed and reaped.
inline ChildExit wait_child(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  ChildExit out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return out;
    if (std::chrono::steady_clock::now() >= deadline) {
      out.timed_out = true;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (WIFEXITED(status)) {
    out.exited = !out.timed_out;
    out.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
  }
  return out;
}

// Calls loop.stop() from its own thread if the test has not finished by the deadline: bounds a
// run() whose only exit is an event (a signal) without a timer (TMR-3 forbids one beside alarm).
class LoopWatchdog {
 public:
  LoopWatchdog(EventLoop& loop, std::chrono::milliseconds limit)
      : thread_([this, &loop, limit](std::stop_token st) {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, st, limit, [] { return false; })) {
            if (!st.stop_requested()) {
              fired_ = true;
              loop.stop();
            }
          }
        }) {}
  bool fired() {
    std::lock_guard lock(mu_);
    return fired_;
  }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  bool fired_ = false;
  std::jthread thread_;  // last: joined first on destruction
};

}  // namespace procspec::test

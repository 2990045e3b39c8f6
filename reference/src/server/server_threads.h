#pragma once
// How a server process splits signals between its threads, and what having threads forbids.
// Signals the server reserves (SIG-4) belong to one thread: a worker process's own loop, or a
// PROCESS/THREAD master's main thread; every other thread starts with all signals blocked.
#include <functional>
#include <thread>

#include "procspec/result.h"

namespace procspec::detail {

// While one is alive in a master, creating a Process there is refused (PRC-1: forking a process
// whose other threads may hold locks can leave the child deadlocked).
class ThreadedMasterGuard {
 public:
  ThreadedMasterGuard();
  ~ThreadedMasterGuard();
  ThreadedMasterGuard(const ThreadedMasterGuard&) = delete;
  ThreadedMasterGuard& operator=(const ThreadedMasterGuard&) = delete;
};

// A thread that inherits a mask with every signal blocked (the caller's mask is unchanged).
std::thread start_thread_without_signals(std::function<void()> body);

// A worker that is its own process: SIGTERM (refused to worker code by SIG-2) means "stop
// gracefully"; the manager forks workers with SIGTERM blocked so a stop cannot land before the
// handler, which is why it is unblocked here. release_sigterm_stop() undoes the handler.
Status take_sigterm_as_stop(std::function<void()> begin_stop);
void release_sigterm_stop() noexcept;

}  // namespace procspec::detail

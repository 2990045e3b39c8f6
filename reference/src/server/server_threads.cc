#include "server/server_threads.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>

#include "loop/signal_internal.h"
#include "os/process_hooks.h"
#include "procspec/role.h"

namespace procspec::detail {
namespace {

std::atomic<int> g_threaded_masters{0};

Status refuse_in_threaded_master() {
  if (current_role() == Role::master && g_threaded_masters.load() > 0) {
    return fail(errc::wrong_role, "Process: cannot create a process in the master after the server started "
                                  "(its threads are running; use Server add_process or a worker)");
  }
  return {};
}

}  // namespace

ThreadedMasterGuard::ThreadedMasterGuard() {
  set_process_create_guard(&refuse_in_threaded_master);
  ++g_threaded_masters;
}

ThreadedMasterGuard::~ThreadedMasterGuard() { --g_threaded_masters; }

std::thread start_thread_without_signals(std::function<void()> body) {
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread t(std::move(body));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

Status take_sigterm_as_stop(std::function<void()> begin_stop) {
  if (auto st = set_signal_internal(SIGTERM, [fn = std::move(begin_stop)](int) { fn(); }); !st) return st;
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::pthread_sigmask(SIG_UNBLOCK, &term, nullptr);
  return {};
}

void release_sigterm_stop() noexcept { (void)remove_signal_internal(SIGTERM); }

}  // namespace procspec::detail

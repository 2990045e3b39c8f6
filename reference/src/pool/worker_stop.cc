#include "pool/worker_stop.h"

#include <poll.h>

#include <cerrno>

#include "procspec/signals.h"

namespace procspec::detail {
namespace {
// The one process-wide fact a signal handler may touch.
volatile sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) { g_stop = 1; }
}  // namespace

void install_stop_handler() noexcept {
  g_stop = 0;
  struct sigaction sa {};
  sa.sa_handler = &on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() noexcept { return g_stop != 0; }
void request_stop() noexcept { g_stop = 1; }

void block_stop_signal() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void unblock_stop_signal() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

bool wait_readable_or_stop(int fd) noexcept {
  sigset_t during;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &during);
  sigdelset(&during, SIGTERM);
  pollfd p{fd, POLLIN, 0};
  while (!g_stop) {
    int rc = ::ppoll(&p, 1, nullptr, &during);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
    // A handler registered through signals.h (a worker's own SIGTERM handler, SIG-5) runs here.
    Signals::dispatch();
  }
  return false;
}

}  // namespace procspec::detail

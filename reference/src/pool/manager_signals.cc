#include "pool/manager_signals.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "procspec/log.h"

namespace procspec::detail {

namespace {
constexpr int kManagerSignals[] = {SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM};
}

Result<ManagerSignals> ManagerSignals::open(std::span<const int> extra_stop_signals) {
  ManagerSignals s;
  auto add = [&s](int signo) {
    for (std::size_t i = 0; i < s.count_; ++i) {
      if (s.signals_[i] == signo) return true;
    }
    if (s.count_ == kMaxSignals) return false;
    s.signals_[s.count_++] = signo;
    return true;
  };
  for (int signo : kManagerSignals) add(signo);
  for (int signo : extra_stop_signals) {
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
      return fail(errc::invalid_setting, "stop signal " + std::to_string(signo) + " cannot be caught");
    if (!add(signo)) return fail(errc::invalid_setting, "too many stop signals");
  }

  sigset_t set;
  sigemptyset(&set);
  for (std::size_t i = 0; i < s.count_; ++i) sigaddset(&set, s.signals_[i]);
  // Block first, then reset dispositions: a signal arriving in between stays pending instead of
  // killing us with its default action.
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, &s.previous_mask_); rc != 0)
    return sys_fail(rc, "pthread_sigmask(block manager signals)");
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (std::size_t i = 0; i < s.count_; ++i) {
    ::sigaction(s.signals_[i], &dfl, &s.previous_actions_[i]);
    if (s.previous_actions_[i].sa_handler == SIG_IGN && s.signals_[i] == SIGCHLD)
      log_info("manager: SIGCHLD was ignored by the launcher; reset to default so children can be reaped");
  }
  s.restore_ = true;
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return sys_fail(errno, "signalfd(manager signals)");
  s.fd_.reset(fd);
  return s;
}

ManagerSignals::ManagerSignals(ManagerSignals&& other) noexcept
    : fd_(std::move(other.fd_)),
      previous_mask_(other.previous_mask_),
      signals_(other.signals_),
      previous_actions_(other.previous_actions_),
      count_(other.count_),
      restore_(std::exchange(other.restore_, false)) {}

ManagerSignals::~ManagerSignals() {
  if (!restore_) return;
  fd_.reset();
  // Signals still pending (a late SIGCHLD) are discarded rather than delivered to the restored
  // dispositions: draining through a throwaway signalfd is not possible once it is closed, so
  // we accept a pending SIGCHLD reaching a default (ignoring) disposition.
  for (std::size_t i = 0; i < count_; ++i) ::sigaction(signals_[i], &previous_actions_[i], nullptr);
  ::pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

std::vector<int> ManagerSignals::drain() {
  std::vector<int> out;
  signalfd_siginfo info[16];
  for (;;) {
    ssize_t n = ::read(fd_.get(), info, sizeof info);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: nothing more
    }
    std::size_t count = static_cast<std::size_t>(n) / sizeof(signalfd_siginfo);
    for (std::size_t i = 0; i < count; ++i) out.push_back(static_cast<int>(info[i].ssi_signo));
    if (count < sizeof info / sizeof info[0]) break;
  }
  return out;
}

bool ManagerSignals::is_stop_signal(int signo) const noexcept {
  if (signo == SIGTERM) return true;
  for (std::size_t i = 0; i < count_; ++i) {
    if (signals_[i] != signo) continue;
    for (int reserved : kManagerSignals) {
      if (reserved == signo) return false;
    }
    return true;
  }
  return false;
}

void ManagerSignals::reset_in_child() noexcept {
  // The child must not close our UniqueFd through its destructor (it never runs: children
  // _exit), so close the number directly and forget it.
  ::close(fd_.release());
  restore_ = false;
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (std::size_t i = 0; i < count_; ++i) ::sigaction(signals_[i], &dfl, nullptr);
  // Everything unblocked except SIGTERM: a stop that arrives before the child's body installed
  // its handler stays pending instead of killing it half-initialised; the body unblocks it.
  sigset_t only_term;
  sigemptyset(&only_term);
  sigaddset(&only_term, SIGTERM);
  ::pthread_sigmask(SIG_SETMASK, &only_term, nullptr);
}

}  // namespace procspec::detail

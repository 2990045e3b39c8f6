#pragma once
// ManagerSignals: the manager's own signals (SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM, plus any
// extra stop signals such as SIGINT for a CLI) read from a signalfd the manager owns.
//
// Why not the user-facing signal API (signals.h): these signals are the manager's control
// surface and are reserved in the manager role (SIG-3), so no user handler may own them; and the
// manager must see every SIGCHLD wake-up in its own loop, ordered with its deadlines, without an
// event loop or a handler table that user code can change. A signalfd read in the same poll as
// the deadlines gives exactly that, with no async-signal context at all.
//
// POOL-11: a launcher may start us with SIGCHLD ignored (then the kernel reaps children itself
// and signalfd never sees SIGCHLD) or with signals blocked. open() therefore resets the
// dispositions of the signals it takes to SIG_DFL and blocks them itself; the previous mask and
// dispositions come back when the object is destroyed (start() returns). Children must not
// inherit any of this: reset_in_child() gives them default dispositions and an empty mask
// (but for SIGTERM, held until the child's body is ready for it).
#include <signal.h>

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "procspec/result.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

class ManagerSignals {
 public:
  static Result<ManagerSignals> open(std::span<const int> extra_stop_signals);
  ManagerSignals(ManagerSignals&& other) noexcept;
  ManagerSignals& operator=(ManagerSignals&&) = delete;
  ManagerSignals(const ManagerSignals&) = delete;
  ManagerSignals& operator=(const ManagerSignals&) = delete;
  ~ManagerSignals();

  int fd() const noexcept { return fd_.get(); }
  // Every signal pending on the fd, in arrival order (non-blocking; empty if none).
  std::vector<int> drain();
  bool is_stop_signal(int signo) const noexcept;

  // In a freshly forked child: closes the fd and restores default dispositions and a mask with
  // only SIGTERM blocked — the child body unblocks it once its stop handling is in place.
  void reset_in_child() noexcept;

 private:
  ManagerSignals() = default;
  static constexpr std::size_t kMaxSignals = 16;
  UniqueFd fd_;
  sigset_t previous_mask_{};
  std::array<int, kMaxSignals> signals_{};
  std::array<struct sigaction, kMaxSignals> previous_actions_{};
  std::size_t count_ = 0;
  bool restore_ = false;
};

}  // namespace procspec::detail

#pragma once
// Signals: process-wide signal handlers whose callbacks run in an event loop, never inside the
// async signal context (SIG-6), so a handler may call any procspec API. Role rules (SIG-2..SIG-5)
// come from current_role() (role.h): a signal the role reserves is refused with
// errc::signal_reserved and a message naming the signal and the role.
//
// Where handlers run: in the EventLoop of the thread that registered the first handler (the
// "signal thread"); if that thread has no running loop, pending handlers run when it calls
// dispatch(). Handlers are installed without SA_RESTART: a blocking call (waitpid, msgrcv, read)
// interrupted by a handled signal fails with EINTR; its caller should call dispatch() and retry.
// Registering from another thread is allowed; its handler still runs on the signal thread.
// Handlers do not keep EventLoop::run() alive unless the loop has set_wait_signal(true) (Swoole's
// wait_signal). remove() of a signal the role reserves is refused like set(): the Pool/Server's
// own registration (src/loop/signal_internal.h) stays in place.
// Fork: a forked child starts with no handlers; every signal we installed is back to SIG_DFL.
#include <cstddef>
#include <functional>
#include <string>

#include "procspec/result.h"
#include "procspec/role.h"

namespace procspec {

using SignalHandler = std::function<void(int signo)>;

class Signals {
 public:
  static constexpr int kMaxSignal = 64;

  // SIG-1: registers (or replaces: the old handler is released) the handler of signo 1..64.
  // A null handler removes, like remove(). SIGKILL/SIGSTOP (and glibc's internal 32/33) are
  // refused by the kernel/libc: EINVAL. A reserved signal → errc::signal_reserved.
  static Status set(int signo, SignalHandler handler);
  // SIG_IGN: the signal is ignored; counts as registered (remove() restores SIG_DFL).
  static Status ignore(int signo);
  // Restores SIG_DFL and releases the handler. Never registered → errc::invalid_argument.
  static Status remove(int signo);
  static bool is_registered(int signo) noexcept;
  // Number of registered signals (handlers and ignores).
  static std::size_t count() noexcept;

  // Runs the handlers of signals that arrived since the last dispatch; returns how many ran.
  // Called by the event loop; safe to call from any thread (handlers run on the caller).
  static std::size_t dispatch();
};

// The refusal rule of SIG-2..SIG-5: true if `role` may not register signo.
bool signal_reserved_for(int signo, Role role) noexcept;
// "SIGTERM" for 15, "SIGRTMIN+3" style for real-time signals, "signal 99" otherwise.
std::string signal_name(int signo);
// Parses "15", "TERM" or "SIGTERM"; 0 if not a signal.
int signal_from_name(const std::string& text) noexcept;

}  // namespace procspec

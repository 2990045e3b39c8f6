// Signals (SIG-1..SIG-7). Delivery uses a self-pipe, not signalfd: signalfd only works if the
// signal is blocked in EVERY thread, and threads we do not own (GoogleTest's, a user's, the
// sanitizers') would take the signal through the default action instead. The async handler only
// sets a per-signal flag and writes one byte to a non-blocking pipe (both async-signal-safe); the
// event loop reads the pipe and runs the handlers, so a handler may call any API (SIG-6).
#include "procspec/signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/after_fork.h"
#include "loop/loop_access.h"
#include "loop/signal_internal.h"
#include "procspec/unique_fd.h"

namespace procspec {
namespace {

constexpr int kSlots = Signals::kMaxSignal + 1;

// Shared with the async handler: lock-free atomics only.
std::array<std::atomic<int>, kSlots> g_pending{};
std::array<std::atomic<bool>, kSlots> g_installed{};  // dispositions we changed (fork restores)
std::atomic<int> g_wake_write{-1};

struct Entry {
  std::shared_ptr<SignalHandler> handler;  // null: SIG_IGN
};

struct SignalState {
  std::mutex mu;
  std::array<std::optional<Entry>, kSlots> table;
  std::size_t count = 0;
  UniqueFd read_end;
  UniqueFd write_end;
  std::optional<std::thread::id> signal_thread;
  EventLoop* attached = nullptr;
};

// Leaked on purpose (never destroyed): handlers may run until exit, and the fork hook abandons a
// state whose mutex another thread may have held at fork.
std::atomic<SignalState*> g_state{nullptr};

extern "C" void on_signal(int signo) {
  const int saved = errno;
  if (signo > 0 && signo < kSlots) g_pending[static_cast<std::size_t>(signo)].store(1);
  const int fd = g_wake_write.load();
  if (fd >= 0) {
    const char byte = 1;
    // A full pipe (EAGAIN) is fine: it is already readable, and the flag above is what counts.
    static_cast<void>(::write(fd, &byte, 1));
  }
  errno = saved;
}

void after_fork_child() noexcept {
  g_wake_write.store(-1);
  SignalState* s = g_state.exchange(nullptr);
  for (int signo = 1; signo < kSlots; ++signo) {
    const auto i = static_cast<std::size_t>(signo);
    g_pending[i].store(0);
    if (g_installed[i].exchange(false)) {
      struct sigaction sa {};
      sa.sa_handler = SIG_DFL;
      ::sigaction(signo, &sa, nullptr);
    }
  }
  if (s) {
    ::close(s->read_end.release());
    ::close(s->write_end.release());
  }
}

Result<SignalState*> state() {
  if (SignalState* s = g_state.load()) return s;
  detail::add_after_fork_child_hook(&after_fork_child);
  auto fresh = std::make_unique<SignalState>();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return sys_fail(errno, "pipe2(signal pipe)");
  fresh->read_end = UniqueFd(fds[0]);
  fresh->write_end = UniqueFd(fds[1]);
  SignalState* expected = nullptr;
  if (g_state.compare_exchange_strong(expected, fresh.get())) {
    g_wake_write.store(fresh->write_end.get());
    return fresh.release();
  }
  return expected;  // another thread won the race; ours is discarded
}

Status check_range(int signo, const char* call) {
  if (signo < 1 || signo > Signals::kMaxSignal) {
    return fail(errc::invalid_argument, std::string(call) + ": signal " + std::to_string(signo) +
                                            " is outside 1.." + std::to_string(Signals::kMaxSignal));
  }
  return {};
}

Status check_role(int signo, const char* call) {
  const Role role = current_role();
  if (!signal_reserved_for(signo, role)) return {};
  return fail(errc::signal_reserved, std::string(call) + ": " + signal_name(signo) + " is reserved in the " +
                                         std::string(role_name(role)) + " role");
}

Status set_disposition(int signo, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART (as Swoole): a blocking call interrupted by a handled signal returns EINTR, so
  // its caller can run Signals::dispatch() and then retry (WAIT-4). epoll_wait returns EINTR
  // either way.
  sa.sa_flags = 0;
  if (::sigaction(signo, &sa, nullptr) != 0) {
    const int err = errno;
    std::string what = "sigaction(" + signal_name(signo) + ")";
    if (signo == SIGKILL || signo == SIGSTOP) what += ": the kernel never lets a process catch or ignore it";
    return sys_fail(err, what);
  }
  g_installed[static_cast<std::size_t>(signo)].store(handler != SIG_DFL);
  return {};
}

void attach_if_signal_thread(SignalState& s) {
  EventLoop* loop = EventLoop::current();
  if (!loop) return;
  {
    std::lock_guard lock(s.mu);
    if (s.signal_thread != std::this_thread::get_id() || s.attached == loop) return;
    s.attached = loop;
  }
  const int fd = s.read_end.get();
  auto r = detail::LoopAccess::watch_internal(*loop, fd, [] { Signals::dispatch(); });
  if (!r) {
    std::lock_guard lock(s.mu);
    s.attached = nullptr;
  }
}

// handler null = SIG_IGN.
Status install(int signo, std::shared_ptr<SignalHandler> handler, const char* call) {
  auto st = state();
  if (!st) return forward_error(std::move(st).error());
  SignalState& s = **st;
  std::optional<Entry> old;  // released after the lock: its destructor is user code
  {
    std::lock_guard lock(s.mu);
    if (auto d = set_disposition(signo, handler ? &on_signal : SIG_IGN); !d) {
      return fail(d.error().code, std::string(call) + ": " + d.error().message);
    }
    auto& slot = s.table[static_cast<std::size_t>(signo)];
    if (!slot) ++s.count;
    old = std::exchange(slot, Entry{std::move(handler)});
    if (!s.signal_thread) s.signal_thread = std::this_thread::get_id();
  }
  attach_if_signal_thread(s);
  return {};
}

Status uninstall(int signo, const char* call) {
  SignalState* s = g_state.load();
  std::optional<Entry> old;
  {
    std::unique_lock<std::mutex> lock;
    if (s) lock = std::unique_lock(s->mu);
    if (!s || !s->table[static_cast<std::size_t>(signo)]) {
      return fail(errc::invalid_argument, std::string(call) + ": " + signal_name(signo) + " has no handler to remove");
    }
    if (auto d = set_disposition(signo, SIG_DFL); !d) return d;
    old = std::exchange(s->table[static_cast<std::size_t>(signo)], std::nullopt);
    --s->count;
    g_pending[static_cast<std::size_t>(signo)].store(0);
  }
  return {};
}

}  // namespace

bool signal_reserved_for(int signo, Role role) noexcept {
  switch (role) {
    case Role::worker:
    case Role::task_worker:  // SIG-2
      return signo == SIGTERM;
    case Role::manager:  // SIG-3
      return signo == SIGTERM || signo == SIGUSR1 || signo == SIGUSR2 || signo == SIGALRM || signo == SIGCHLD;
    case Role::master:  // SIG-4 (Swoole 6 allows SIGALRM in the master)
      return signo == SIGTERM || signo == SIGUSR1 || signo == SIGUSR2 || signo == SIGCHLD;
    case Role::plain:
    case Role::user:
    case Role::pool_worker:  // SIG-1, SIG-5
      return false;
  }
  return false;
}

std::string signal_name(int signo) {
  if (signo >= SIGRTMIN && signo <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(signo - SIGRTMIN);
  if (const char* abbrev = ::sigabbrev_np(signo)) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(signo);
}

int signal_from_name(const std::string& text) noexcept {
  if (text.empty()) return 0;
  char* end = nullptr;
  const long n = std::strtol(text.c_str(), &end, 10);
  if (*end == '\0') return n >= 1 && n <= Signals::kMaxSignal ? static_cast<int>(n) : 0;
  std::string name = text.rfind("SIG", 0) == 0 ? text.substr(3) : text;
  for (int signo = 1; signo < NSIG; ++signo) {
    if (const char* abbrev = ::sigabbrev_np(signo); abbrev && name == abbrev) return signo;
  }
  return 0;
}

Status Signals::set(int signo, SignalHandler handler) {
  if (!handler) return remove(signo);
  if (auto s = check_range(signo, "Signals::set"); !s) return s;
  if (auto s = check_role(signo, "Signals::set"); !s) return s;
  return install(signo, std::make_shared<SignalHandler>(std::move(handler)), "Signals::set");
}

Status Signals::ignore(int signo) {
  if (auto s = check_range(signo, "Signals::ignore"); !s) return s;
  if (auto s = check_role(signo, "Signals::ignore"); !s) return s;
  return install(signo, nullptr, "Signals::ignore");
}

Status Signals::remove(int signo) {
  if (auto s = check_range(signo, "Signals::remove"); !s) return s;
  if (auto s = check_role(signo, "Signals::remove"); !s) return s;
  return uninstall(signo, "Signals::remove");
}

bool Signals::is_registered(int signo) noexcept {
  SignalState* s = g_state.load();
  if (!s || signo < 1 || signo > kMaxSignal) return false;
  std::lock_guard lock(s->mu);
  return s->table[static_cast<std::size_t>(signo)].has_value();
}

std::size_t Signals::count() noexcept {
  SignalState* s = g_state.load();
  if (!s) return 0;
  std::lock_guard lock(s->mu);
  return s->count;
}

std::size_t Signals::dispatch() {
  SignalState* s = g_state.load();
  if (!s) return 0;
  char buf[256];
  while (::read(s->read_end.get(), buf, sizeof buf) > 0) {
  }
  std::size_t ran = 0;
  for (int signo = 1; signo < kSlots; ++signo) {
    if (g_pending[static_cast<std::size_t>(signo)].exchange(0) == 0) continue;
    std::shared_ptr<SignalHandler> handler;
    {
      std::lock_guard lock(s->mu);
      if (auto& slot = s->table[static_cast<std::size_t>(signo)]) handler = slot->handler;
    }
    // Called outside the lock with our own reference: the handler may re-register or remove
    // its own signal (releasing the table's reference) while it runs.
    if (handler) {
      (*handler)(signo);
      ++ran;
    }
  }
  return ran;
}

namespace detail {

Status set_signal_internal(int signo, SignalHandler handler) {
  if (!handler) return remove_signal_internal(signo);
  if (auto s = check_range(signo, "set_signal_internal"); !s) return s;
  return install(signo, std::make_shared<SignalHandler>(std::move(handler)), "set_signal_internal");
}

Status ignore_signal_internal(int signo) {
  if (auto s = check_range(signo, "ignore_signal_internal"); !s) return s;
  return install(signo, nullptr, "ignore_signal_internal");
}

Status remove_signal_internal(int signo) {
  if (auto s = check_range(signo, "remove_signal_internal"); !s) return s;
  return uninstall(signo, "remove_signal_internal");
}

Status ensure_signal_state() {
  auto s = state();
  if (!s) return forward_error(std::move(s).error());
  return {};
}

void attach_signals(EventLoop& loop) {
  SignalState* s = g_state.load();
  if (!s || EventLoop::current() != &loop) return;
  attach_if_signal_thread(*s);
}

void detach_signals(EventLoop& loop) noexcept {
  SignalState* s = g_state.load();
  if (!s) return;
  std::lock_guard lock(s->mu);
  if (s->attached == &loop) s->attached = nullptr;
}

}  // namespace detail
}  // namespace procspec

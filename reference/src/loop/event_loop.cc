#include "procspec/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/after_fork.h"
#include "loop/loop_access.h"
#include "loop/signal_internal.h"
#include "loop/timer_heap.h"
#include "procspec/signals.h"
#include "procspec/timer.h"
#include "procspec/unique_fd.h"

namespace procspec {
namespace {
thread_local EventLoop* t_loop = nullptr;
constexpr int kMaxEvents = 64;
}  // namespace

struct EventLoop::State {
  struct Watch {
    std::uint32_t serial;
    bool internal;
    Callback on_readable;
    Callback on_writable;
  };

  UniqueFd epoll;
  UniqueFd wake;  // eventfd written by stop()
  std::thread::id owner = std::this_thread::get_id();
  // shared_ptr: a callback keeps its own Watch alive even if it removes or modifies its fd.
  std::unordered_map<int, std::shared_ptr<Watch>> watches;
  std::size_t user_watches = 0;
  std::uint32_t next_serial = 1;
  std::vector<Callback> deferred;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> running{false};
  bool abandoned = false;  // inherited by a forked child: see after_fork_child

  void check_owner(const char* what) const {
    if (std::this_thread::get_id() != owner) {
      detail::check_failed("owner thread", __FILE__, __LINE__, what);
    }
  }

  Status watch(int fd, Callback on_readable, Callback on_writable, bool internal, int op) {
    if (fd < 0) return fail(errc::invalid_argument, "event loop: fd " + std::to_string(fd) + " is negative");
    if (!on_readable && !on_writable) {
      return fail(errc::invalid_argument, "event loop: fd " + std::to_string(fd) + " needs a read or write callback");
    }
    auto w = std::make_shared<Watch>(Watch{next_serial++, internal, std::move(on_readable), std::move(on_writable)});
    epoll_event ev{};
    ev.events = (w->on_readable ? EPOLLIN | EPOLLRDHUP : 0u) | (w->on_writable ? EPOLLOUT : 0u);
    ev.data.u64 = (std::uint64_t{w->serial} << 32) | static_cast<std::uint32_t>(fd);
    if (::epoll_ctl(epoll.get(), op, fd, &ev) != 0) {
      return sys_fail(errno, (op == EPOLL_CTL_ADD ? "epoll_ctl(ADD, " : "epoll_ctl(MOD, ") + std::to_string(fd) + ")");
    }
    auto& slot = watches[fd];
    if (slot && !slot->internal) --user_watches;
    slot = std::move(w);
    if (!internal) ++user_watches;
    return {};
  }

  void dispatch(const epoll_event& ev) {
    const int fd = static_cast<int>(ev.data.u64 & 0xffffffffu);
    const auto serial = static_cast<std::uint32_t>(ev.data.u64 >> 32);
    auto it = watches.find(fd);
    if (it == watches.end() || it->second->serial != serial) return;  // removed or replaced earlier
    std::shared_ptr<Watch> w = it->second;
    const bool failed = (ev.events & (EPOLLERR | EPOLLHUP)) != 0;
    const bool readable = (ev.events & (EPOLLIN | EPOLLRDHUP)) != 0 || failed;
    const bool writable = (ev.events & EPOLLOUT) != 0 || (failed && !w->on_readable);
    if (readable && w->on_readable) w->on_readable();
    if (!writable || !w->on_writable) return;
    it = watches.find(fd);  // the read callback may have removed or replaced this fd
    if (it != watches.end() && it->second == w) w->on_writable();
  }

  bool alive(bool wait_signal) const {
    return user_watches > 0 || !deferred.empty() || Timer::count() > 0 ||
           (wait_signal && Signals::count() > 0);
  }

  int poll_timeout() const {
    if (!deferred.empty()) return 0;
    auto next = detail::next_timer_deadline();
    if (!next) return -1;
    auto left = *next - detail::TimerClock::now();
    if (left.count() <= 0) return 0;
    // Round up: a timeout that ends before the deadline would only cost an extra wake-up, but
    // rounding down to 0 ms would spin.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  }
};

namespace {
void after_fork_child() noexcept {
  // The child shares the parent's epoll instance (same open file description): an epoll_ctl here
  // would change the PARENT's registrations. So the child only closes its copies and forgets the
  // loop; the callbacks are leaked, not destroyed (they may own the parent's objects).
  EventLoop* loop = t_loop;
  t_loop = nullptr;
  if (loop) detail::LoopAccess::abandon(*loop);
}
}  // namespace

namespace detail {
Status LoopAccess::watch_internal(EventLoop& loop, int fd, EventLoop::Callback on_readable) {
  loop.state_->check_owner("EventLoop internal watch");
  if (loop.state_->watches.count(fd)) return {};
  return loop.state_->watch(fd, std::move(on_readable), {}, true, EPOLL_CTL_ADD);
}
bool LoopAccess::on_owner_thread(const EventLoop& loop) noexcept {
  return std::this_thread::get_id() == loop.state_->owner;
}
void LoopAccess::abandon(EventLoop& loop) noexcept {
  auto& s = *loop.state_;
  s.abandoned = true;
  ::close(s.epoll.release());
  ::close(s.wake.release());
}
}  // namespace detail

EventLoop::EventLoop(std::unique_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  if (t_loop != nullptr) {
    return fail(errc::already_started, "EventLoop::create: this thread already has an event loop (one loop per thread)");
  }
  detail::add_after_fork_child_hook(&after_fork_child);
  auto state = std::make_unique<State>();
  state->epoll = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!state->epoll.valid()) return sys_fail(errno, "epoll_create1");
  state->wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!state->wake.valid()) return sys_fail(errno, "eventfd");
  const int wake_fd = state->wake.get();
  auto drain = [wake_fd] {
    std::uint64_t n = 0;
    static_cast<void>(::read(wake_fd, &n, sizeof n));
  };
  if (auto s = state->watch(wake_fd, drain, {}, true, EPOLL_CTL_ADD); !s) return forward_error(std::move(s).error());
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(state)));
  t_loop = loop.get();
  detail::attach_signals(*loop);
  return loop;
}

EventLoop* EventLoop::current() noexcept { return t_loop; }

EventLoop::~EventLoop() {
  if (state_->abandoned) {
    static_cast<void>(state_.release());  // see after_fork_child
    return;
  }
  state_->check_owner("EventLoop destroyed on another thread");
  PROCSPEC_CHECK(!state_->running.load(), "EventLoop destroyed while running");
  detail::detach_signals(*this);
  if (t_loop == this) t_loop = nullptr;
}

Status EventLoop::add(int fd, Callback on_readable, Callback on_writable) {
  state_->check_owner("EventLoop::add on another thread");
  if (state_->watches.count(fd)) {
    return sys_fail(EEXIST, "EventLoop::add: fd " + std::to_string(fd) + " is already watched");
  }
  return state_->watch(fd, std::move(on_readable), std::move(on_writable), false, EPOLL_CTL_ADD);
}

Status EventLoop::modify(int fd, Callback on_readable, Callback on_writable) {
  state_->check_owner("EventLoop::modify on another thread");
  auto it = state_->watches.find(fd);
  if (it == state_->watches.end() || it->second->internal) {
    return sys_fail(ENOENT, "EventLoop::modify: fd " + std::to_string(fd) + " is not watched");
  }
  return state_->watch(fd, std::move(on_readable), std::move(on_writable), false, EPOLL_CTL_MOD);
}

Status EventLoop::remove(int fd) {
  state_->check_owner("EventLoop::remove on another thread");
  auto it = state_->watches.find(fd);
  if (it == state_->watches.end() || it->second->internal) {
    return sys_fail(ENOENT, "EventLoop::remove: fd " + std::to_string(fd) + " is not watched");
  }
  // The fd may already be closed by its owner (then the kernel dropped it from the epoll set).
  if (::epoll_ctl(state_->epoll.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != EBADF && errno != ENOENT) {
    return sys_fail(errno, "epoll_ctl(DEL, " + std::to_string(fd) + ")");
  }
  state_->watches.erase(it);
  --state_->user_watches;
  return {};
}

bool EventLoop::contains(int fd) const {
  auto it = state_->watches.find(fd);
  return it != state_->watches.end() && !it->second->internal;
}

std::size_t EventLoop::watched() const noexcept { return state_->user_watches; }

void EventLoop::defer(Callback cb) {
  PROCSPEC_CHECK(cb != nullptr, "EventLoop::defer needs a callback");
  state_->check_owner("EventLoop::defer on another thread");
  state_->deferred.push_back(std::move(cb));
}

bool EventLoop::running() const noexcept { return state_->running.load(); }

void EventLoop::stop() noexcept {
  state_->stop_requested.store(true);
  const std::uint64_t one = 1;
  static_cast<void>(::write(state_->wake.get(), &one, sizeof one));
}

Status EventLoop::run() {
  State& s = *state_;
  PROCSPEC_CHECK(!s.abandoned, "EventLoop::run on a loop inherited across fork");
  s.check_owner("EventLoop::run on another thread");
  PROCSPEC_CHECK(!s.running.load(), "EventLoop::run is not reentrant");
  s.running.store(true);
  detail::attach_signals(*this);
  Status result;
  std::array<epoll_event, kMaxEvents> events{};
  for (;;) {
    if (s.stop_requested.exchange(false)) break;
    if (!s.deferred.empty()) {
      std::vector<Callback> batch;
      batch.swap(s.deferred);
      for (auto& cb : batch) cb();
    }
    if (s.stop_requested.exchange(false)) break;
    if (!s.alive(wait_signal_)) break;
    const int n = ::epoll_wait(s.epoll.get(), events.data(), kMaxEvents, s.poll_timeout());
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal: its pipe byte wakes the next epoll_wait
      result = sys_fail(errno, "epoll_wait");
      break;
    }
    for (int i = 0; i < n; ++i) s.dispatch(events[static_cast<std::size_t>(i)]);
    detail::fire_due_timers(detail::TimerClock::now());
  }
  s.running.store(false);
  return result;
}

}  // namespace procspec

// Timer and alarm (TMR-1..TMR-4). One atomic word decides the process's clock source (TMR-3):
// low 32 bits count live timers in all threads, high 32 bits hold the armed itimer types. A lock
// would do too, but a forked child of a threaded parent could inherit it locked; an atomic can be
// reset by the after-fork hook without that risk.
#include "procspec/timer.h"

#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <limits>
#include <string>

#include "base/after_fork.h"
#include "loop/timer_heap.h"

namespace procspec {
namespace {

using detail::TimerHeap;

constexpr std::uint64_t kCountMask = 0xffffffffu;
constexpr int kTypeShift = 32;
// Deadlines are nanoseconds on a 64-bit clock: cap intervals far below overflow (~292 years).
constexpr std::int64_t kMaxIntervalMs = std::int64_t{1} << 40;  // ~34 years

std::atomic<std::uint64_t> g_clock{0};
std::atomic<TimerId> g_next_id{1};
thread_local std::unique_ptr<TimerHeap> t_heap;

void on_timers_removed(std::size_t n) noexcept { g_clock.fetch_sub(n); }

void after_fork_child() noexcept {
  // TMR-4. The inherited heap is leaked on purpose: destroying it would run the destructors of
  // the parent's callbacks (which may own Process objects that kill and reap on destruction).
  static_cast<void>(t_heap.release());
  g_clock.store(0);
  g_next_id.store(1);
  // Linux does not pass itimers to a fork child (fork(2)); disarming again costs nothing and
  // keeps the rule true on kernels that might.
  const itimerval zero{};
  for (int type : {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF}) ::setitimer(type, &zero, nullptr);
}

TimerHeap& heap() {
  if (!t_heap) {
    detail::add_after_fork_child_hook(&after_fork_child);
    t_heap = std::make_unique<TimerHeap>(&on_timers_removed);
  }
  return *t_heap;
}

std::string conflict_message(const char* call) {
  return std::string(call) +
         ": timer and alarm cannot be used together (one clock source per process): an alarm is "
         "armed; alarm(0) disarms it";
}

Status reserve_timer_slot(const char* call) {
  std::uint64_t cur = g_clock.load();
  do {
    if ((cur >> kTypeShift) != 0) return fail(errc::timer_alarm_conflict, conflict_message(call));
  } while (!g_clock.compare_exchange_weak(cur, cur + 1));
  return {};
}

Result<TimerId> add_timer(const char* call, std::int64_t ms, bool periodic, TimerHeap::Callback cb) {
  if (ms < Timer::kMinIntervalMs || ms > kMaxIntervalMs) {
    return fail(errc::invalid_argument, std::string(call) + ": interval " + std::to_string(ms) +
                                            " ms is outside 1.." + std::to_string(kMaxIntervalMs) + " ms");
  }
  if (auto s = reserve_timer_slot(call); !s) return forward_error(std::move(s).error());
  const TimerId id = g_next_id.fetch_add(1);
  const std::chrono::nanoseconds interval = std::chrono::milliseconds(ms);
  heap().add(id, detail::TimerClock::now() + interval,
             periodic ? interval : std::chrono::nanoseconds(0), std::move(cb));
  return id;
}

}  // namespace

Result<TimerId> Timer::after(std::int64_t ms, std::function<void()> cb) {
  PROCSPEC_CHECK(cb != nullptr, "Timer::after needs a callback");
  return add_timer("Timer::after", ms, false, [cb = std::move(cb)](TimerId) { cb(); });
}

Result<TimerId> Timer::tick(std::int64_t ms, std::function<void(TimerId)> cb) {
  PROCSPEC_CHECK(cb != nullptr, "Timer::tick needs a callback");
  return add_timer("Timer::tick", ms, true, std::move(cb));
}

Status Timer::clear(TimerId id) {
  if (t_heap && t_heap->erase(id)) return {};
  return fail(errc::invalid_argument,
              "Timer::clear: timer " + std::to_string(id) + " is not pending in this thread");
}

std::size_t Timer::count() noexcept { return t_heap ? t_heap->size() : 0; }

std::size_t Timer::process_count() noexcept { return g_clock.load() & kCountMask; }

int Timer::alarm_signal(int type) noexcept {
  switch (type) {
    case ITIMER_REAL: return SIGALRM;
    case ITIMER_VIRTUAL: return SIGVTALRM;
    case ITIMER_PROF: return SIGPROF;
    default: return 0;
  }
}

bool Timer::alarm_armed() noexcept { return (g_clock.load() >> kTypeShift) != 0; }

Status Timer::alarm(std::int64_t usec, int type) {
  if (alarm_signal(type) == 0) {
    return fail(errc::invalid_argument, "alarm: type " + std::to_string(type) +
                                            " is not ITIMER_REAL, ITIMER_VIRTUAL or ITIMER_PROF");
  }
  if (usec < 0) {
    return fail(errc::invalid_argument, "alarm: " + std::to_string(usec) + " usec is negative; 0 disarms");
  }
  detail::add_after_fork_child_hook(&after_fork_child);
  const std::uint64_t bit = std::uint64_t{1} << (kTypeShift + type);
  itimerval tv{};
  if (usec == 0) {
    // TMR-3 (procspec): disarming is always allowed, timers or not.
    if (::setitimer(type, &tv, nullptr) != 0) return sys_fail(errno, "setitimer(disarm)");
    g_clock.fetch_and(~bit);
    return {};
  }
  std::uint64_t cur = g_clock.load();
  do {
    if (const auto timers = cur & kCountMask; timers != 0) {
      return fail(errc::timer_alarm_conflict,
                  "alarm: timer and alarm cannot be used together (one clock source per process): " +
                      std::to_string(timers) + " timer(s) pending; clear them first");
    }
  } while (!g_clock.compare_exchange_weak(cur, cur | bit));
  const bool was_armed = (cur & bit) != 0;
  // TMR-2: it_value.tv_usec must stay below 1e6 (setitimer rejects it otherwise).
  tv.it_value.tv_sec = static_cast<time_t>(usec / 1'000'000);
  tv.it_value.tv_usec = static_cast<suseconds_t>(usec % 1'000'000);
  tv.it_interval = tv.it_value;
  if (::setitimer(type, &tv, nullptr) != 0) {
    const int err = errno;
    if (!was_armed) g_clock.fetch_and(~bit);
    return sys_fail(err, "setitimer");
  }
  return {};
}

namespace detail {

std::optional<TimePoint> next_timer_deadline() {
  return t_heap ? t_heap->next_deadline() : std::nullopt;
}

std::size_t fire_due_timers(TimePoint now) { return t_heap ? t_heap->fire_due(now) : 0; }

}  // namespace detail
}  // namespace procspec

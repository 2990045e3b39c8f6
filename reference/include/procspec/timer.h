#pragma once
// Timer: one-shot (after) and periodic (tick) timers of the calling thread, fired by that thread's
// EventLoop (event_loop.h) in deadline order, never before their deadline on the monotonic clock
// (TMR-1). Pending timers keep the thread's loop running. Ids are process-wide, start at 1 and
// only increase; clear() finds only timers of the calling thread.
//
// Alarm: Timer::alarm arms setitimer (TMR-2). One clock source per process (TMR-3): while any
// timer exists in any thread, alarm(usec > 0) fails with errc::timer_alarm_conflict, and while
// an alarm is armed, after()/tick() fail with the same error; alarm(0) is always allowed.
// Fork (TMR-4): a forked child starts with no timers and no alarm, whatever its parent had.
#include <sys/time.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "procspec/result.h"

namespace procspec {

using TimerId = std::int64_t;

class Timer {
 public:
  static constexpr std::int64_t kMinIntervalMs = 1;

  // Runs cb once, ms milliseconds from now. ms < 1 → errc::invalid_argument; an armed alarm →
  // errc::timer_alarm_conflict. On error cb is never called.
  static Result<TimerId> after(std::int64_t ms, std::function<void()> cb);
  // Runs cb(id) every ms milliseconds until cleared. Periods missed while the thread was busy are
  // skipped, not fired in a burst: the next run is the first period boundary after now.
  static Result<TimerId> tick(std::int64_t ms, std::function<void(TimerId)> cb);
  // Stops a pending timer of this thread (a callback may clear its own tick). Unknown id, an
  // already fired after(), or a timer of another thread → errc::invalid_argument.
  static Status clear(TimerId id);
  // Pending timers of the calling thread.
  static std::size_t count() noexcept;
  // Pending timers of the whole process (what TMR-3 looks at).
  static std::size_t process_count() noexcept;

  // setitimer(type) with it_value = it_interval = usec (repeating): SIGALRM for ITIMER_REAL,
  // SIGVTALRM for ITIMER_VIRTUAL, SIGPROF for ITIMER_PROF; usec ≥ 1e6 carries into seconds.
  // usec == 0 disarms `type` (always allowed). usec < 0 or an unknown type → invalid_argument.
  // Handle the signal with Signals::set first: its default action ends the process.
  static Status alarm(std::int64_t usec, int type = ITIMER_REAL);
  // Whether any alarm type is armed through Timer::alarm in this process.
  static bool alarm_armed() noexcept;
  // The signal an alarm of `type` delivers, 0 for an unknown type.
  static int alarm_signal(int type) noexcept;
};

}  // namespace procspec

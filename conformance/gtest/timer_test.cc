// Timers and alarm: TMR-1 (after/tick/clear, order, never early, no burst), TMR-2 (setitimer
// carry and types), TMR-3 (procspec exclusivity), TMR-4 (a forked child inherits neither).
#include "procspec/timer.h"

#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "loop/signal_internal.h"
#include "loop/timer_heap.h"
#include "procspec/event_loop.h"
#include "procspec/signals.h"
#include "support/forked.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::fork_child;
using test::wait_child;

std::unique_ptr<EventLoop> make_loop() {
  auto loop = EventLoop::create();
  PROCSPEC_CHECK(loop.has_value(), "EventLoop::create");
  return std::move(loop).value();
}

itimerval current_itimer(int type) {
  itimerval tv{};
  ::getitimer(type, &tv);
  return tv;
}

class TimerTest : public test::LeakCheckedTest {
 protected:
  void SetUp() override {
    // The signal pipe lives as long as the process: create it before the fd snapshot.
    ASSERT_TRUE(detail::ensure_signal_state());
    test::LeakCheckedTest::SetUp();
  }
  void TearDown() override {
    for (int type : {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF}) EXPECT_TRUE(Timer::alarm(0, type));
    test::LeakCheckedTest::TearDown();
  }
};

TEST_F(TimerTest, TMR1_AfterRunsOnceNeverEarly) {
  auto loop = make_loop();
  int runs = 0;
  const auto added = Clock::now();
  Clock::time_point fired_at{};
  auto id = Timer::after(5, [&] {
    ++runs;
    fired_at = Clock::now();
  });
  ASSERT_TRUE(id);
  EXPECT_EQ(Timer::count(), 1u);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(runs, 1);
  EXPECT_GE(fired_at - added, 5ms);  // never early: an inequality on the monotonic clock
  EXPECT_EQ(Timer::count(), 0u);
  EXPECT_FALSE(Timer::clear(*id)) << "an after() that fired is gone";
}

TEST_F(TimerTest, TMR1_TickRepeatsWithItsIdUntilCleared) {
  auto loop = make_loop();
  std::vector<TimerId> seen;
  auto id = Timer::tick(1, [&](TimerId self) {
    seen.push_back(self);
    if (seen.size() == 3) {
      EXPECT_TRUE(Timer::clear(self));
    }
  });
  ASSERT_TRUE(id);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(seen, (std::vector<TimerId>{*id, *id, *id}));
  EXPECT_EQ(Timer::count(), 0u);
}

TEST_F(TimerTest, TMR1_IdsStartAtOneAndIncrease) {
  // A fresh process (a forked child after the reset hooks) starts counting at 1.
  const pid_t pid = fork_child([] {
    TimerId expected = 1;
    for (int i = 0; i < 5; ++i) {
      auto id = i % 2 ? Timer::tick(1000, [](TimerId) {}) : Timer::after(1000, [] {});
      if (!id || *id != expected++) return 1;
      if (i == 2 && !Timer::clear(*id)) return 2;  // clearing never recycles an id
    }
    auto last = Timer::after(1000, [] {});
    return last && *last == 6 ? 0 : 3;
  });
  ASSERT_GT(pid, 0);
  EXPECT_EQ(wait_child(pid).code, 0);
}

TEST_F(TimerTest, TMR1_ZeroOrNegativeIntervalIsAnError) {
  bool called = false;
  for (std::int64_t ms : {0, -1, -1000}) {
    auto a = Timer::after(ms, [&] { called = true; });
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, errc::invalid_argument);
    EXPECT_NE(a.error().message.find(std::to_string(ms)), std::string::npos) << a.error().message;
    auto t = Timer::tick(ms, [&](TimerId) { called = true; });
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, errc::invalid_argument);
  }
  EXPECT_EQ(Timer::count(), 0u);
  auto loop = make_loop();
  ASSERT_TRUE(loop->run());
  EXPECT_FALSE(called);
}

TEST_F(TimerTest, TMR1_ClearStopsAPendingTimerAndUnknownIdsAreErrors) {
  auto loop = make_loop();
  bool fired = false;
  auto id = Timer::after(1, [&] { fired = true; });
  ASSERT_TRUE(id);
  ASSERT_TRUE(Timer::clear(*id));
  auto again = Timer::clear(*id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::invalid_argument);
  EXPECT_FALSE(Timer::clear(987654321));
  ASSERT_TRUE(loop->run());
  EXPECT_FALSE(fired);
}

TEST_F(TimerTest, TMR1_FiresInDeadlineOrderNeverEarly) {
  const auto seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> ms(16);
  for (auto& m : ms) m = 1 + static_cast<std::int64_t>(rng() % 40);
  struct Added {
    std::int64_t ms;
    Clock::time_point before, after;  // the timer's deadline is in [before + ms, after + ms]
  };
  std::vector<Added> added;
  std::vector<std::size_t> fired;
  auto loop = make_loop();
  for (std::int64_t m : ms) {
    const std::size_t index = added.size();
    added.push_back({m, Clock::now(), {}});
    ASSERT_TRUE(Timer::after(m, [&added, &fired, index] {
      EXPECT_GE(Clock::now() - added[index].before, std::chrono::milliseconds(added[index].ms)) << "fired early";
      fired.push_back(index);
    }));
    added.back().after = Clock::now();
  }
  ASSERT_TRUE(loop->run());
  ASSERT_EQ(fired.size(), ms.size());
  // Deadline order, checked without assuming how long the adds took: if A fired before B, then
  // A's deadline <= B's, so A's earliest possible deadline cannot exceed B's latest.
  for (std::size_t i = 1; i < fired.size(); ++i) {
    const Added& a = added[fired[i - 1]];
    const Added& b = added[fired[i]];
    EXPECT_LE(a.before + std::chrono::milliseconds(a.ms), b.after + std::chrono::milliseconds(b.ms))
        << "timer " << fired[i - 1] << " (" << a.ms << " ms) fired before timer " << fired[i] << " ("
        << b.ms << " ms)";
  }
}

TEST(TimerHeap, TMR1_HeapOrdersByDeadlineThenId) {
  const auto seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  detail::TimerHeap heap;
  const detail::TimePoint t0{};
  std::vector<std::pair<std::int64_t, TimerId>> expected;
  std::vector<std::pair<std::int64_t, TimerId>> fired;
  for (TimerId id = 1; id <= 500; ++id) {
    const auto at = static_cast<std::int64_t>(rng() % 50);  // many ties
    expected.emplace_back(at, id);
    heap.add(id, t0 + std::chrono::milliseconds(at), {}, [&fired, at](TimerId self) { fired.emplace_back(at, self); });
  }
  // Clear a random third: cleared timers never fire.
  std::vector<std::pair<std::int64_t, TimerId>> kept;
  for (auto& e : expected) {
    if (rng() % 3 == 0) {
      EXPECT_TRUE(heap.erase(e.second));
    } else {
      kept.push_back(e);
    }
  }
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(heap.fire_due(t0 + 10s), kept.size());
  EXPECT_EQ(fired, kept);
  EXPECT_EQ(heap.size(), 0u);
}

TEST(TimerHeap, TMR1_PeriodicTimerSkipsMissedPeriods) {
  detail::TimerHeap heap;
  const detail::TimePoint t0{};
  int runs = 0;
  heap.add(1, t0 + 10ms, 10ms, [&](TimerId) { ++runs; });
  EXPECT_EQ(heap.fire_due(t0 + 9ms), 0u) << "never early";
  EXPECT_EQ(heap.fire_due(t0 + 10ms), 1u);
  // 8 periods missed: one run, not a burst of 8, and the next deadline is the next boundary.
  EXPECT_EQ(heap.fire_due(t0 + 95ms), 1u);
  EXPECT_EQ(runs, 2);
  ASSERT_TRUE(heap.next_deadline());
  EXPECT_EQ(*heap.next_deadline(), t0 + 100ms);
}

// spec: TMR-1
TEST_F(TimerTest, TMR1_TimerAddedDuringDispatchDoesNotFireInThatPass) {
  auto loop = make_loop();
  std::vector<std::string> log;
  ASSERT_TRUE(Timer::after(1, [&] {
    log.push_back("first");
    ASSERT_TRUE(Timer::after(1, [&] { log.push_back("added"); }));
    // Sleep past the new timer's deadline: it is due, but belongs to the next pass.
    std::this_thread::sleep_for(5ms);
    loop->defer([&] { log.push_back("next-pass"); });
  }));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(log, (std::vector<std::string>{"first", "next-pass", "added"}));
}

TEST_F(TimerTest, TMR1_BusyPeriodicTimerDoesNotBurst) {
  auto loop = make_loop();
  int runs = 0;
  bool marker_ran = true;
  ASSERT_TRUE(Timer::tick(1, [&](TimerId self) {
    // Each run must come from a new pass: the marker deferred by the previous run has run.
    EXPECT_TRUE(marker_ran) << "run " << runs << " fired in the same pass as the previous one";
    marker_ran = false;
    loop->defer([&] { marker_ran = true; });
    if (++runs == 1) std::this_thread::sleep_for(20ms);  // misses ~20 periods
    if (runs == 4) {
      EXPECT_TRUE(Timer::clear(self));
    }
  }));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(runs, 4);
}

TEST_F(TimerTest, TMR2_AlarmCarriesMicrosecondsIntoSeconds) {
  struct Case {
    std::int64_t usec;
    time_t sec;
    suseconds_t rest;
  };
  for (Case c : {Case{2'500'000, 2, 500'000}, Case{1'000'000, 1, 0}, Case{999'999, 0, 999'999},
                 Case{61'000'001, 61, 1}}) {
    SCOPED_TRACE(c.usec);
    ASSERT_TRUE(Timer::alarm(c.usec));
    const itimerval tv = current_itimer(ITIMER_REAL);
    EXPECT_EQ(tv.it_interval.tv_sec, c.sec);
    EXPECT_EQ(tv.it_interval.tv_usec, c.rest);
    EXPECT_TRUE(Timer::alarm_armed());
  }
  ASSERT_TRUE(Timer::alarm(0));
  const itimerval off = current_itimer(ITIMER_REAL);
  EXPECT_EQ(off.it_value.tv_sec, 0);
  EXPECT_EQ(off.it_value.tv_usec, 0);
  EXPECT_FALSE(Timer::alarm_armed());
}

TEST_F(TimerTest, TMR2_TypeSelectsTheClockAndTheSignal) {
  EXPECT_EQ(Timer::alarm_signal(ITIMER_REAL), SIGALRM);
  EXPECT_EQ(Timer::alarm_signal(ITIMER_VIRTUAL), SIGVTALRM);
  EXPECT_EQ(Timer::alarm_signal(ITIMER_PROF), SIGPROF);
  for (int type : {ITIMER_VIRTUAL, ITIMER_PROF}) {
    ASSERT_TRUE(Timer::alarm(3'000'000, type));
    EXPECT_EQ(current_itimer(type).it_interval.tv_sec, 3);
    ASSERT_TRUE(Timer::alarm(0, type));
    EXPECT_EQ(current_itimer(type).it_value.tv_sec, 0);
  }
  auto bad_type = Timer::alarm(1000, 7);
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().code, errc::invalid_argument);
  auto negative = Timer::alarm(-1);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().code, errc::invalid_argument);
  EXPECT_FALSE(Timer::alarm_armed());
}

TEST_F(TimerTest, TMR2_AlarmRepeatsAndDeliversSigalrmToTheLoop) {
  auto loop = make_loop();
  loop->set_wait_signal(true);
  int alarms = 0;
  ASSERT_TRUE(Signals::set(SIGALRM, [&](int) {
    if (++alarms == 3) {
      EXPECT_TRUE(Timer::alarm(0));
      loop->stop();
    }
  }));
  ASSERT_TRUE(Timer::alarm(2000));
  test::LoopWatchdog watchdog(*loop, 20s);
  ASSERT_TRUE(loop->run());
  EXPECT_FALSE(watchdog.fired());
  EXPECT_EQ(alarms, 3);
  EXPECT_TRUE(Signals::remove(SIGALRM));
}

TEST_F(TimerTest, TMR3_AlarmWhileATimerExistsIsRefused) {
  auto id = Timer::after(60'000, [] {});
  ASSERT_TRUE(id);
  auto a = Timer::alarm(100'000);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, errc::timer_alarm_conflict);
  EXPECT_NE(a.error().message.find("timer and alarm cannot be used together"), std::string::npos)
      << a.error().message;
  EXPECT_EQ(current_itimer(ITIMER_REAL).it_value.tv_sec, 0) << "a refused alarm arms nothing";
  EXPECT_EQ(current_itimer(ITIMER_REAL).it_value.tv_usec, 0);
  EXPECT_FALSE(Timer::alarm_armed());
  ASSERT_TRUE(Timer::clear(*id));
}

TEST_F(TimerTest, TMR3_AlarmZeroIsAlwaysAllowed) {
  auto id = Timer::tick(60'000, [](TimerId) {});
  ASSERT_TRUE(id);
  EXPECT_TRUE(Timer::alarm(0));
  EXPECT_TRUE(Timer::alarm(0, ITIMER_PROF));
  ASSERT_TRUE(Timer::clear(*id));
}

TEST_F(TimerTest, TMR3_AlarmIsAllowedAgainOnceNoTimerRemains) {
  auto loop = make_loop();
  auto cleared = Timer::after(60'000, [] {});
  ASSERT_TRUE(cleared);
  ASSERT_TRUE(Timer::after(1, [] {}));
  EXPECT_FALSE(Timer::alarm(100'000));
  ASSERT_TRUE(Timer::clear(*cleared));
  EXPECT_FALSE(Timer::alarm(100'000)) << "one timer still pending";
  ASSERT_TRUE(loop->run());  // the other fires and is gone
  EXPECT_EQ(Timer::process_count(), 0u);
  EXPECT_TRUE(Timer::alarm(10'000'000)) << "not sticky (Swoole keeps refusing)";
  EXPECT_TRUE(Timer::alarm(0));
}

TEST_F(TimerTest, TMR3_TimerAfterAnArmedAlarmIsRefused) {
  ASSERT_TRUE(Timer::alarm(10'000'000));
  bool called = false;
  auto a = Timer::after(10, [&] { called = true; });
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, errc::timer_alarm_conflict);
  EXPECT_NE(a.error().message.find("timer and alarm cannot be used together"), std::string::npos);
  auto t = Timer::tick(10, [&](TimerId) { called = true; });
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, errc::timer_alarm_conflict);
  EXPECT_EQ(Timer::count(), 0u);
  ASSERT_TRUE(Timer::alarm(0));
  auto ok = Timer::after(10, [] {});
  ASSERT_TRUE(ok) << "allowed once the alarm is disarmed";
  ASSERT_TRUE(Timer::clear(*ok));
  EXPECT_FALSE(called);
}

// spec: TMR-3
TEST_F(TimerTest, TMR3_TimersOfOtherThreadsCountForTheProcess) {
  std::mutex mu;
  std::condition_variable cv;
  bool added = false;
  bool release = false;
  std::jthread other([&] {
    ASSERT_TRUE(Timer::after(60'000, [] {}));
    std::unique_lock lock(mu);
    added = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    // Thread exit destroys its pending timers.
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return added; });
  }
  EXPECT_EQ(Timer::count(), 0u);
  EXPECT_EQ(Timer::process_count(), 1u);
  auto refused = Timer::alarm(100'000);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::timer_alarm_conflict);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  other.join();
  EXPECT_EQ(Timer::process_count(), 0u);
  EXPECT_TRUE(Timer::alarm(10'000'000));
}

TEST_F(TimerTest, TMR4_ForkedChildStartsWithNoTimers) {
  auto tick = Timer::tick(60'000, [](TimerId) {});
  auto after = Timer::after(60'000, [] {});
  ASSERT_TRUE(tick && after);
  const pid_t pid = fork_child([] {
    if (Timer::count() != 0 || Timer::process_count() != 0) return 1;
    if (!Timer::alarm(0)) return 2;
    if (!Timer::alarm(10'000'000)) return 3;  // no inherited timer blocks the alarm
    if (!Timer::alarm(0)) return 4;
    auto loop = EventLoop::create();
    if (!loop || !(*loop)->run()) return 5;  // nothing inherited keeps it running
    auto id = Timer::after(1000, [] {});
    return id && *id == 1 ? 0 : 6;
  });
  ASSERT_GT(pid, 0);
  EXPECT_EQ(wait_child(pid).code, 0);
  EXPECT_EQ(Timer::count(), 2u) << "the parent keeps its own";
  EXPECT_TRUE(Timer::clear(*tick));
  EXPECT_TRUE(Timer::clear(*after));
}

TEST_F(TimerTest, TMR4_ForkedChildStartsWithNoAlarm) {
  ASSERT_TRUE(Signals::ignore(SIGALRM));  // belt and braces: the alarm is 10 s anyway
  ASSERT_TRUE(Timer::alarm(10'000'000));
  // Without our hooks: Linux itself does not pass itimers to a fork child (fork(2)).
  const pid_t raw = fork_child(
      [] {
        const itimerval tv = current_itimer(ITIMER_REAL);
        return tv.it_value.tv_sec == 0 && tv.it_value.tv_usec == 0 ? 0 : 1;
      },
      /*run_hooks=*/false);
  ASSERT_GT(raw, 0);
  EXPECT_EQ(wait_child(raw).code, 0) << "the kernel passed the itimer to the child";
  // With the hooks: our bookkeeping agrees, so the child may use timers at once.
  const pid_t hooked = fork_child([] {
    if (Timer::alarm_armed()) return 1;
    auto id = Timer::after(1000, [] {});
    return id ? 0 : 2;
  });
  ASSERT_GT(hooked, 0);
  EXPECT_EQ(wait_child(hooked).code, 0);
  EXPECT_TRUE(Timer::alarm_armed()) << "the parent keeps its alarm";
  ASSERT_TRUE(Timer::alarm(0));
  ASSERT_TRUE(Signals::remove(SIGALRM));
}

}  // namespace
}  // namespace procspec

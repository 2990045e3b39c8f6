// Timers (TMR-1): after/tick/clear, ids, deadline order, never early, no burst after a busy
// period, and the timer heap itself. (alarm, its exclusivity with timers and fork: see
// timer_alarm_test.cc.)
#include "procspec/timer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "loop/timer_heap.h"
#include "procspec/event_loop.h"
#include "support/forked.h"
#include "support/loop.h"
#include "support/seed.h"
#include "support/timer_fixture.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::fork_child;
using test::make_loop;
using test::TimerTest;
using test::wait_child;

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

}  // namespace
}  // namespace procspec

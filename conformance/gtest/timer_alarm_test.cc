// alarm (TMR-2: setitimer's carry, types and signals), its exclusivity with timers (TMR-3,
// procspec), and a forked child inheriting neither timers nor an alarm (TMR-4).
#include "procspec/timer.h"

#include <signal.h>
#include <sys/time.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "procspec/event_loop.h"
#include "procspec/signals.h"
#include "support/forked.h"
#include "support/loop.h"
#include "support/timer_fixture.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using test::fork_child;
using test::make_loop;
using test::TimerTest;
using test::wait_child;

itimerval current_itimer(int type) {
  itimerval tv{};
  ::getitimer(type, &tv);
  return tv;
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

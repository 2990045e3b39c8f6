// Process::signal / Process::alarm are Swoole's spelling of Signals and Timer::alarm: the same
// role and clock rules must hold through them.
#include <gtest/gtest.h>
#include <signal.h>

#include "loop/signal_internal.h"
#include "procspec/process.h"
#include "procspec/role.h"
#include "procspec/timer.h"
#include "support/leak_check.h"

namespace procspec {
namespace {

class ProcessSignal : public test::LeakCheckedTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(detail::ensure_signal_state());  // the process-wide signal pipe lives until exit
    LeakCheckedTest::SetUp();
  }
  void TearDown() override {
    set_current_role(Role::plain);
    LeakCheckedTest::TearDown();
  }
};

// spec: SIG-2
TEST_F(ProcessSignal, SIG1_RegisterReplaceAndRemoveThroughProcess) {
  ASSERT_TRUE(Process::signal(SIGUSR2, [](int) {}));
  ASSERT_TRUE(Process::signal(SIGUSR2, [](int) {}));  // replaces
  EXPECT_TRUE(Signals::is_registered(SIGUSR2));
  ASSERT_TRUE(Process::signal(SIGUSR2, nullptr));    // removes
  EXPECT_FALSE(Signals::is_registered(SIGUSR2));
  set_current_role(Role::worker);
  auto refused = Process::signal(SIGTERM, [](int) {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::signal_reserved);
}

TEST_F(ProcessSignal, TMR3_AlarmThroughProcessKeepsOneClockSource) {
  auto timer = Timer::after(60000, [] {});
  ASSERT_TRUE(timer);
  auto refused = Process::alarm(100000);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::timer_alarm_conflict);
  EXPECT_TRUE(Process::alarm(0));
  ASSERT_TRUE(Timer::clear(*timer));
}

}  // namespace
}  // namespace procspec

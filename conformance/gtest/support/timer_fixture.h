#pragma once
// The fixture of the Timer test files: the signal pipe made before the fd snapshot, and every
// itimer disarmed after each test.
#include <gtest/gtest.h>
#include <sys/time.h>

#include "loop/signal_internal.h"
#include "procspec/timer.h"
#include "support/leak_check.h"

namespace procspec::test {

class TimerTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    // The signal pipe lives as long as the process: create it before the fd snapshot.
    ASSERT_TRUE(detail::ensure_signal_state());
    LeakCheckedTest::SetUp();
  }
  void TearDown() override {
    for (int type : {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF}) EXPECT_TRUE(Timer::alarm(0, type));
    LeakCheckedTest::TearDown();
  }
};

}  // namespace procspec::test

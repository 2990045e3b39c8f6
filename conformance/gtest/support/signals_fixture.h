#pragma once
// The fixture of the Signals test files: SignalsTest (plain role, signal pipe made before the fd
// snapshot, every handler removed afterwards, a loop run bounded by a watchdog), a child that
// sends us signals, and the current disposition of a signal.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "loop/signal_internal.h"
#include "procspec/event_loop.h"
#include "procspec/role.h"
#include "procspec/signals.h"
#include "support/forked.h"
#include "support/leak_check.h"

namespace procspec::test {

inline constexpr Role kAllRoles[] = {Role::plain, Role::master, Role::manager, Role::worker,
                                     Role::task_worker, Role::user, Role::pool_worker};

// A process that sends `count` signals to us and exits.
inline pid_t send_from_child(int signo, int count = 1) {
  const pid_t target = ::getpid();
  return fork_child([target, signo, count] {
    for (int i = 0; i < count; ++i) {
      if (::kill(target, signo) != 0) return 1;
    }
    return 0;
  });
}

inline void* current_disposition(int signo) {
  struct sigaction sa {};
  ::sigaction(signo, nullptr, &sa);
  return reinterpret_cast<void*>(sa.sa_handler);
}
inline void* const kDefault = reinterpret_cast<void*>(SIG_DFL);
inline void* const kIgnore = reinterpret_cast<void*>(SIG_IGN);

class SignalsTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    set_current_role(Role::plain);
    // The signal pipe lives as long as the process: create it before the fd snapshot.
    ASSERT_TRUE(detail::ensure_signal_state());
    LeakCheckedTest::SetUp();
  }
  void TearDown() override {
    for (int signo = 1; signo <= Signals::kMaxSignal; ++signo) {
      if (Signals::is_registered(signo)) {
        EXPECT_TRUE(detail::remove_signal_internal(signo));
      }
    }
    set_current_role(Role::plain);
    LeakCheckedTest::TearDown();
  }

  // Runs the loop until `done` or a 20 s watchdog; fails the test on the watchdog.
  void run_until_stopped(EventLoop& loop) {
    loop.set_wait_signal(true);
    LoopWatchdog watchdog(loop, std::chrono::seconds(20));
    ASSERT_TRUE(loop.run());
    EXPECT_FALSE(watchdog.fired()) << "no signal arrived before the deadline";
  }
};

}  // namespace procspec::test

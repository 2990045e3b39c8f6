// Signals: registering, replacing, removing and ignoring (SIG-1), a forked child's clean slate,
// and signal and role names. Every delivered signal comes from ANOTHER process (a forked sender
// that kill()s this one), never from raise(): that is how users and managers send them.
// (Reserved signals by role: signals_roles_test.cc; where handlers run: signals_delivery_test.cc.)
#include "procspec/signals.h"

#include <signal.h>

#include <memory>
#include <string>

#include "procspec/event_loop.h"
#include "procspec/role.h"
#include "support/forked.h"
#include "support/loop.h"
#include "support/signals_fixture.h"

namespace procspec {
namespace {

using test::current_disposition;
using test::fork_child;
using test::kAllRoles;
using test::kDefault;
using test::kIgnore;
using test::make_loop;
using test::send_from_child;
using test::SignalsTest;
using test::wait_child;

TEST_F(SignalsTest, SIG1_PlainRegistersAnySignalButKillAndStop) {
  const pid_t pid = fork_child([] {
    for (int signo = 1; signo <= Signals::kMaxSignal; ++signo) {
      auto r = Signals::set(signo, [](int) {});
      // glibc keeps 32 and 33 for its threads (SIGCANCEL, SIGSETXID) and refuses them like the
      // kernel refuses SIGKILL and SIGSTOP.
      const bool refused = signo == SIGKILL || signo == SIGSTOP || signo == 32 || signo == 33;
      if (refused) {
        if (r || r.error().code != std::errc::invalid_argument) return 100 + signo;
        if (Signals::is_registered(signo)) return 200;
        continue;
      }
      if (!r) return signo;
      if (!Signals::remove(signo)) return 150 + (signo % 50);
    }
    return Signals::count() == 0 ? 0 : 201;
  });
  ASSERT_GT(pid, 0);
  const auto ex = wait_child(pid);
  EXPECT_TRUE(ex.exited) << "killed by signal " << ex.signal;
  EXPECT_EQ(ex.code, 0) << "<100: that signal was refused; 100+N: signal N was not refused as EINVAL";
}

TEST_F(SignalsTest, SIG1_KillAndStopErrorsNameTheSignal) {
  auto r = Signals::set(SIGKILL, [](int) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::invalid_argument);
  EXPECT_NE(r.error().message.find("SIGKILL"), std::string::npos) << r.error().message;
  EXPECT_FALSE(Signals::ignore(SIGSTOP));
  EXPECT_EQ(Signals::count(), 0u);
}

TEST_F(SignalsTest, SIG1_HandlerRunsForASignalFromAnotherProcess) {
  auto loop = make_loop();
  int got = 0;
  ASSERT_TRUE(Signals::set(SIGUSR1, [&](int signo) {
    got = signo;
    loop->stop();
  }));
  const pid_t sender = send_from_child(SIGUSR1);
  ASSERT_GT(sender, 0);
  run_until_stopped(*loop);
  EXPECT_EQ(got, SIGUSR1);
  EXPECT_EQ(wait_child(sender).code, 0);
}

TEST_F(SignalsTest, SIG1_ReRegisterReplacesAndReleasesTheOldHandler) {
  auto loop = make_loop();
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  std::string ran;
  ASSERT_TRUE(Signals::set(SIGUSR2, [token, &ran](int) { ran += "old"; }));
  token.reset();
  EXPECT_FALSE(watch.expired()) << "the registered handler holds its captures";
  ASSERT_TRUE(Signals::set(SIGUSR2, [&](int) {
    ran += "new";
    loop->stop();
  }));
  EXPECT_TRUE(watch.expired()) << "the replaced handler was released";
  EXPECT_EQ(Signals::count(), 1u);
  const pid_t sender = send_from_child(SIGUSR2);
  run_until_stopped(*loop);
  EXPECT_EQ(ran, "new");
  EXPECT_EQ(wait_child(sender).code, 0);
}

TEST_F(SignalsTest, SIG1_NullHandlerRemovesAndRestoresTheDefault) {
  ASSERT_TRUE(Signals::set(SIGUSR1, [](int) {}));
  EXPECT_NE(current_disposition(SIGUSR1), kDefault);
  ASSERT_TRUE(Signals::set(SIGUSR1, nullptr));
  EXPECT_FALSE(Signals::is_registered(SIGUSR1));
  EXPECT_EQ(current_disposition(SIGUSR1), kDefault);
}

TEST_F(SignalsTest, SIG1_RemovingANeverRegisteredSignalIsAnError) {
  auto r = Signals::remove(SIGUSR1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_NE(r.error().message.find("SIGUSR1"), std::string::npos) << r.error().message;
  EXPECT_FALSE(Signals::set(SIGHUP, nullptr)) << "a null handler for an unregistered signal too";
  EXPECT_EQ(current_disposition(SIGUSR1), kDefault);
}

TEST_F(SignalsTest, SIG1_IgnoreDiscardsTheSignal) {
  ASSERT_TRUE(Signals::ignore(SIGUSR1));
  EXPECT_EQ(current_disposition(SIGUSR1), kIgnore);
  EXPECT_TRUE(Signals::is_registered(SIGUSR1));
  // kill() returns after the signal is generated; an ignored signal is discarded right there,
  // so once the sender has exited we know it arrived and did nothing.
  const pid_t sender = send_from_child(SIGUSR1, 3);
  EXPECT_EQ(wait_child(sender).code, 0);
  EXPECT_EQ(Signals::dispatch(), 0u);
  ASSERT_TRUE(Signals::remove(SIGUSR1));
  EXPECT_EQ(current_disposition(SIGUSR1), kDefault);
}

TEST_F(SignalsTest, SIG1_SignalNumbersOutsideOneToSixtyFourAreErrors) {
  for (int signo : {0, -1, 65, 128}) {
    auto r = Signals::set(signo, [](int) {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_argument);
    EXPECT_FALSE(Signals::ignore(signo));
    EXPECT_FALSE(Signals::remove(signo));
  }
}

// PRC-2's signal half: a forked child starts with no handler and default dispositions.
TEST_F(SignalsTest, AfterForkChildStartsWithNoHandlers) {
  ASSERT_TRUE(Signals::set(SIGUSR1, [](int) {}));
  ASSERT_TRUE(Signals::ignore(SIGUSR2));
  const pid_t pid = fork_child([] {
    if (Signals::count() != 0 || Signals::is_registered(SIGUSR1)) return 1;
    if (current_disposition(SIGUSR1) != kDefault || current_disposition(SIGUSR2) != kDefault) return 2;
    if (Signals::remove(SIGUSR1)) return 3;  // nothing to remove
    return 0;
  });
  ASSERT_GT(pid, 0);
  EXPECT_EQ(wait_child(pid).code, 0);
  EXPECT_EQ(Signals::count(), 2u) << "the parent keeps its own";
}

TEST_F(SignalsTest, RoleIsKeptAcrossFork) {
  set_current_role(Role::manager);
  const pid_t pid = fork_child([] { return current_role() == Role::manager ? 0 : 1; });
  ASSERT_GT(pid, 0);
  EXPECT_EQ(wait_child(pid).code, 0);
}

TEST(SignalNames, RoundTrip) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_from_name("SIGUSR1"), SIGUSR1);
  EXPECT_EQ(signal_from_name("USR2"), SIGUSR2);
  EXPECT_EQ(signal_from_name("15"), SIGTERM);
  EXPECT_EQ(signal_from_name("NOPE"), 0);
  for (Role role : kAllRoles) EXPECT_EQ(role_from_name(role_name(role)), role);
}

}  // namespace
}  // namespace procspec

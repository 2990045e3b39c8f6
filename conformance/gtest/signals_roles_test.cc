// Signals by role (SIG-2..SIG-5, SIG-7): what workers, task workers, the manager and the master
// keep for themselves is refused, users and pool workers may take SIGTERM, and in every role
// each allowed register / unregister leaves the process alive and the internal handlers intact.
#include "procspec/signals.h"

#include <signal.h>

#include <string>

#include "loop/signal_internal.h"
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
using test::make_loop;
using test::send_from_child;
using test::SignalsTest;
using test::wait_child;

// spec: SIG-2
TEST_F(SignalsTest, SIG2_WorkerAndTaskWorkerRefuseSigterm) {
  for (Role role : {Role::worker, Role::task_worker}) {
    set_current_role(role);
    auto r = Signals::set(SIGTERM, [](int) {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::signal_reserved);
    EXPECT_NE(r.error().message.find("SIGTERM"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(std::string(role_name(role))), std::string::npos) << r.error().message;
    EXPECT_FALSE(Signals::ignore(SIGTERM));
    EXPECT_EQ(current_disposition(SIGTERM), kDefault);
    EXPECT_TRUE(Signals::set(SIGUSR1, [](int) {})) << "only SIGTERM is reserved";
    EXPECT_TRUE(Signals::remove(SIGUSR1));
  }
}

TEST_F(SignalsTest, SIG3_ManagerRefusesTermUsr1Usr2AlrmChld) {
  set_current_role(Role::manager);
  for (int signo : {SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD}) {
    auto r = Signals::set(signo, [](int) {});
    ASSERT_FALSE(r) << signo;
    EXPECT_EQ(r.error().code, errc::signal_reserved);
    EXPECT_NE(r.error().message.find(signal_name(signo)), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("manager"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(Signals::set(SIGINT, [](int) {}));
  EXPECT_TRUE(Signals::remove(SIGINT));
}

TEST_F(SignalsTest, SIG4_MasterRefusesTermUsr1Usr2ChldButAllowsAlrm) {
  set_current_role(Role::master);
  for (int signo : {SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD}) {
    auto r = Signals::set(signo, [](int) {});
    ASSERT_FALSE(r) << signo;
    EXPECT_EQ(r.error().code, errc::signal_reserved);
    EXPECT_NE(r.error().message.find("master"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(Signals::set(SIGALRM, [](int) {})) << "Swoole 6 allows SIGALRM in the master";
  EXPECT_TRUE(Signals::remove(SIGALRM));
}

TEST_F(SignalsTest, SIG5_UserAndPoolWorkerMayTakeSigterm) {
  for (Role role : {Role::user, Role::pool_worker}) {
    SCOPED_TRACE(std::string(role_name(role)));
    set_current_role(role);
    auto loop = make_loop();
    int got = 0;
    ASSERT_TRUE(Signals::set(SIGTERM, [&](int signo) {
      got = signo;
      loop->stop();
    }));
    const pid_t sender = send_from_child(SIGTERM);
    run_until_stopped(*loop);
    EXPECT_EQ(got, SIGTERM) << "the handler replaced the default stop";
    EXPECT_EQ(wait_child(sender).code, 0);
    ASSERT_TRUE(Signals::remove(SIGTERM));
  }
}

// SIG-7 (procspec): in every role, every register / unregister / ignore the role allows leaves the
// process running; what the role reserves is refused and the internal handler survives.
TEST_F(SignalsTest, SIG7_EveryAllowedRegisterAndUnregisterKeepsEveryRoleAlive) {
  for (Role role : kAllRoles) {
    SCOPED_TRACE(std::string(role_name(role)));
    const pid_t pid = fork_child([role] {
      set_current_role(role);
      auto loop = EventLoop::create();
      if (!loop) return 1;
      EventLoop& l = **loop;
      // What a Pool/Server would hold for itself in that role.
      for (int signo = 1; signo <= Signals::kMaxSignal; ++signo) {
        if (signal_reserved_for(signo, role) && !detail::set_signal_internal(signo, [](int) {})) return 2;
      }
      auto one_pass = [&l] {
        l.defer([] {});
        return l.run().has_value();
      };
      for (int signo = 1; signo <= Signals::kMaxSignal; ++signo) {
        if (signo == SIGKILL || signo == SIGSTOP || signo == 32 || signo == 33) continue;
        if (signal_reserved_for(signo, role)) {
          if (Signals::set(signo, [](int) {}) || Signals::remove(signo)) return 3;
          if (!Signals::is_registered(signo)) return 4;  // the internal handler is untouched
          continue;
        }
        if (!Signals::set(signo, [](int) {}) || !one_pass()) return 5;
        if (!Signals::set(signo, [](int) {}) || !one_pass()) return 6;  // replace
        if (!Signals::remove(signo) || !one_pass()) return 7;
        if (!Signals::ignore(signo) || !one_pass()) return 8;
        if (!Signals::remove(signo) || !one_pass()) return 9;
      }
      return one_pass() ? 0 : 10;
    });
    ASSERT_GT(pid, 0);
    const auto ex = wait_child(pid);
    EXPECT_TRUE(ex.exited) << "the " << role_name(role) << " died of signal " << ex.signal;
    EXPECT_EQ(ex.code, 0);
  }
}

// spec: SIG-3 SIG-7
TEST_F(SignalsTest, SIG7_ManagerUnregisteringKeepsItsInternalSigtermHandler) {
  set_current_role(Role::manager);
  auto loop = make_loop();
  int internal_runs = 0;
  ASSERT_TRUE(detail::set_signal_internal(SIGTERM, [&](int) {
    ++internal_runs;
    loop->stop();
  }));
  ASSERT_TRUE(Signals::set(SIGINT, [](int) {}));
  ASSERT_TRUE(Signals::remove(SIGINT));  // Swoole's manager crashed around here
  auto refused = Signals::remove(SIGTERM);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::signal_reserved);
  const pid_t sender = send_from_child(SIGTERM);
  run_until_stopped(*loop);
  EXPECT_EQ(internal_runs, 1) << "the manager is alive and its own handler ran";
  EXPECT_EQ(wait_child(sender).code, 0);
  ASSERT_TRUE(detail::remove_signal_internal(SIGTERM));
}

}  // namespace
}  // namespace procspec

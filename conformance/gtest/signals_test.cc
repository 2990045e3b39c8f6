// Signals by role (SIG-1..SIG-7). Every delivered signal comes from ANOTHER process (a forked
// sender that kill()s this one), never from raise(): that is how users and managers send them.
#include "procspec/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loop/signal_internal.h"
#include "procspec/event_loop.h"
#include "procspec/role.h"
#include "procspec/timer.h"
#include "procspec/unique_fd.h"
#include "support/forked.h"
#include "support/leak_check.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using test::fork_child;
using test::wait_child;

constexpr Role kAllRoles[] = {Role::plain, Role::master, Role::manager, Role::worker,
                              Role::task_worker, Role::user, Role::pool_worker};

std::unique_ptr<EventLoop> make_loop() {
  auto loop = EventLoop::create();
  PROCSPEC_CHECK(loop.has_value(), "EventLoop::create");
  return std::move(loop).value();
}

// A process that sends `count` signals to us and exits.
pid_t send_from_child(int signo, int count = 1) {
  const pid_t target = ::getpid();
  return fork_child([target, signo, count] {
    for (int i = 0; i < count; ++i) {
      if (::kill(target, signo) != 0) return 1;
    }
    return 0;
  });
}

void* current_disposition(int signo) {
  struct sigaction sa {};
  ::sigaction(signo, nullptr, &sa);
  return reinterpret_cast<void*>(sa.sa_handler);
}
void* const kDefault = reinterpret_cast<void*>(SIG_DFL);
void* const kIgnore = reinterpret_cast<void*>(SIG_IGN);

class SignalsTest : public test::LeakCheckedTest {
 protected:
  void SetUp() override {
    set_current_role(Role::plain);
    // The signal pipe lives as long as the process: create it before the fd snapshot.
    ASSERT_TRUE(detail::ensure_signal_state());
    test::LeakCheckedTest::SetUp();
  }
  void TearDown() override {
    for (int signo = 1; signo <= Signals::kMaxSignal; ++signo) {
      if (Signals::is_registered(signo)) {
        EXPECT_TRUE(detail::remove_signal_internal(signo));
      }
    }
    set_current_role(Role::plain);
    test::LeakCheckedTest::TearDown();
  }

  // Runs the loop until `done` or a 20 s watchdog; fails the test on the watchdog.
  void run_until_stopped(EventLoop& loop) {
    loop.set_wait_signal(true);
    test::LoopWatchdog watchdog(loop, 20s);
    ASSERT_TRUE(loop.run());
    EXPECT_FALSE(watchdog.fired()) << "no signal arrived before the deadline";
  }
};

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

TEST_F(SignalsTest, SIG6_HandlerRunsInTheLoopNotInSignalContext) {
  auto loop = make_loop();
  const auto loop_thread = std::this_thread::get_id();
  bool in_loop = false, on_loop_thread = false, not_in_handler = false, apis_ok = false;
  ASSERT_TRUE(Signals::set(SIGUSR1, [&](int) {
    in_loop = loop->running();
    on_loop_thread = std::this_thread::get_id() == loop_thread;
    // Inside a real async handler the kernel blocks the signal being handled.
    sigset_t mask;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    not_in_handler = sigismember(&mask, SIGUSR1) == 0;
    // Any API: allocate, take locks, register and remove handlers, add and clear timers.
    auto timer = Timer::after(1000, [] {});
    apis_ok = timer.has_value() && Timer::clear(*timer).has_value() &&
              Signals::set(SIGUSR2, [](int) {}).has_value() && Signals::remove(SIGUSR2).has_value() &&
              Signals::remove(SIGUSR1).has_value();  // itself, while running
    loop->stop();
  }));
  const pid_t sender = send_from_child(SIGUSR1);
  run_until_stopped(*loop);
  EXPECT_TRUE(in_loop);
  EXPECT_TRUE(on_loop_thread);
  EXPECT_TRUE(not_in_handler);
  EXPECT_TRUE(apis_ok);
  EXPECT_EQ(wait_child(sender).code, 0);
}

// Without a running loop: a blocking call interrupted by a handled signal fails with EINTR (no
// SA_RESTART), and Signals::dispatch() then runs the handler on the caller (what WAIT-4 builds on).
TEST_F(SignalsTest, SIG6_BlockingCallSeesEintrAndDispatchRunsTheHandler) {
  int ran = 0;
  ASSERT_TRUE(Signals::set(SIGUSR1, [&](int) { ++ran; }));
  int idle[2], stop[2];
  ASSERT_EQ(::pipe2(idle, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  UniqueFd idle_read(idle[0]), idle_write(idle[1]), stop_read(stop[0]), stop_write(stop[1]);
  const pid_t target = ::getpid();
  // The sender repeats until told to stop: a signal that lands before read() blocks is not lost
  // (its flag waits for dispatch), but read() itself only returns on a later one.
  const pid_t sender = fork_child([&stop_read, &stop_write, target] {
    stop_write.reset();
    for (int i = 0; i < 4000; ++i) {
      if (::kill(target, SIGUSR1) != 0) return 1;
      pollfd p{stop_read.get(), POLLIN, 0};
      if (::poll(&p, 1, 5) > 0) return 0;  // EOF: the parent has seen EINTR
    }
    return 2;
  });
  ASSERT_GT(sender, 0);
  stop_read.reset();
  char c = 0;
  const ssize_t n = ::read(idle_read.get(), &c, 1);
  const int err = errno;
  stop_write.reset();
  EXPECT_EQ(n, -1);
  EXPECT_EQ(err, EINTR);
  EXPECT_EQ(ran, 0) << "never inside the async handler";
  EXPECT_GE(Signals::dispatch(), 1u);
  EXPECT_GE(ran, 1);
  EXPECT_EQ(wait_child(sender).code, 0);
}

// A self-pipe works whichever thread the kernel picks; signalfd would not (it needs the signal
// blocked in every thread). The loop thread blocks SIGUSR1, so only the helper thread can take it.
TEST_F(SignalsTest, SIG6_HandlerRunsOnTheLoopThreadWhicheverThreadTookTheSignal) {
  auto loop = make_loop();
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  UniqueFd go_read(go[0]), go_write(go[1]);
  const pid_t target = ::getpid();
  // Fork before any thread exists (forking a threaded process is what TSan warns about).
  const pid_t sender = fork_child([&go_read, &go_write, target] {
    go_write.reset();
    char c = 0;
    if (::read(go_read.get(), &c, 1) != 1) return 1;
    return ::kill(target, SIGUSR1) == 0 ? 0 : 2;
  });
  ASSERT_GT(sender, 0);
  go_read.reset();
  const auto loop_thread = std::this_thread::get_id();
  bool on_loop_thread = false;
  ASSERT_TRUE(Signals::set(SIGUSR1, [&](int) {
    on_loop_thread = std::this_thread::get_id() == loop_thread;
    loop->stop();
  }));
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
  {
    std::jthread taker([&usr1](std::stop_token st) {
      ::pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);  // threads inherit the creator's mask
      while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
    });
    ASSERT_EQ(::write(go_write.get(), "g", 1), 1);
    run_until_stopped(*loop);
  }
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  EXPECT_TRUE(on_loop_thread);
  EXPECT_EQ(wait_child(sender).code, 0);
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

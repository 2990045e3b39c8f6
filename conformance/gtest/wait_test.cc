// SPEC WAIT: Process::wait and Process::kill against real children.
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "procspec/log.h"
#include "procspec/process.h"
#include "support/child.h"
#include "support/leak_check.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;

class WaitTest : public test::LeakCheckedTest {};

Process make(Process::Callback cb, PipeType t = PipeType::none) {
  ProcessOptions o;
  o.pipe_type = t;
  auto p = Process::create(std::move(cb), o);
  PROCSPEC_CHECK(p.has_value(), "Process::create failed in a test");
  return std::move(p).value();
}

// A pid that existed and is gone: a reaped child's (the kernel does not reuse it at once).
pid_t missing_pid() {
  auto st = test::run_in_child([] { return 0; });
  PROCSPEC_CHECK(st.has_value(), "fork failed");
  return st->pid;
}

TEST_F(WaitTest, WAIT1_ExitCodeAndKillSignalAreReported) {
  Process exits = make([](Process& self) { (void)self.exit(3); });
  ASSERT_TRUE(exits.start());
  WaitResult w = Process::wait();
  ASSERT_TRUE(w);
  EXPECT_EQ(*w.status, (ExitStatus{exits.pid(), 3, 0}));
  EXPECT_EQ(w.status->to_string(), "pid " + std::to_string(exits.pid()) + " exited with code 3");

  Process killed = make([](Process&) { ::pause(); });
  ASSERT_TRUE(killed.start());
  ASSERT_TRUE(Process::kill(killed.pid(), SIGKILL));
  w = Process::wait();
  ASSERT_TRUE(w);
  EXPECT_EQ(*w.status, (ExitStatus{killed.pid(), 0, SIGKILL}));
}

TEST_F(WaitTest, WAIT2_NonBlockingWithRunningChildrenIsNoneWithoutALog) {
  Process p = make([](Process& self) { (void)self.read(); }, PipeType::uds_dgram);
  ASSERT_TRUE(p.start());
  LogCapture log;
  WaitResult w = Process::wait(false);
  EXPECT_TRUE(w.none());
  EXPECT_FALSE(w.none_reason);  // not ECHILD: there is a child, it is just running
  EXPECT_EQ(log.records().size(), 0u);
  ASSERT_TRUE(p.write("go"));
  EXPECT_EQ(p.join().value().code, 0);
}

TEST_F(WaitTest, WAIT3_NoChildrenIsNoneWithEchildWithoutALog) {
  LogCapture log;
  for (bool blocking : {true, false}) {
    WaitResult w = Process::wait(blocking);
    EXPECT_TRUE(w.none());
    EXPECT_EQ(w.none_reason, std::errc::no_child_process);
  }
  EXPECT_EQ(log.records().size(), 0u);
}

int g_poke_fd = -1;
std::atomic<int> g_handler_runs{0};
void on_alarm(int) {
  g_handler_runs.fetch_add(1);
  // The child exits only after this handler ran, so wait() is in progress (or about to be)
  // when the signal lands.
  (void)!::write(g_poke_fd, "x", 1);
}

TEST_F(WaitTest, WAIT4_SignalDuringWaitIsRetried) {
  for (int round = 0; round < 5; ++round) {
    Process p = make([](Process& self) { (void)self.read(); }, PipeType::uds_dgram);
    ASSERT_TRUE(p.start());
    g_poke_fd = p.pipe_fd();
    struct sigaction sa {};
    sa.sa_handler = on_alarm;  // no SA_RESTART: waitpid really returns EINTR
    sigemptyset(&sa.sa_mask);
    struct sigaction old {};
    ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
    const int before = g_handler_runs.load();
    itimerval t{};
    t.it_value.tv_usec = 20000;
    ASSERT_EQ(::setitimer(ITIMER_REAL, &t, nullptr), 0);
    WaitResult w = Process::wait(true);
    ::sigaction(SIGALRM, &old, nullptr);
    ASSERT_TRUE(w) << "wait() returned none after a signal: " << w.none_reason.message();
    EXPECT_EQ(w.status->pid, p.pid());
    EXPECT_EQ(g_handler_runs.load(), before + 1);
  }
}

TEST_F(WaitTest, WAIT5_KillOfAMissingPid) {
  const pid_t gone = missing_pid();
  {
    LogCapture log;
    Status s = Process::kill(gone, 0);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, std::errc::no_such_process);
    EXPECT_FALSE(log.warned());
  }
  {
    LogCapture log;
    Status s = Process::kill(gone, SIGTERM);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, std::errc::no_such_process);
    EXPECT_NE(s.error().message.find("ESRCH"), std::string::npos) << s.error().message;
    EXPECT_TRUE(log.warned());
  }
  EXPECT_EQ(Process::kill(::getpid(), 9999).error().code, std::errc::invalid_argument);  // EINVAL
  EXPECT_EQ(Process::kill(0, 0).error().code, errc::invalid_argument);   // not a process group
  EXPECT_EQ(Process::kill(-1, 0).error().code, errc::invalid_argument);  // not "everyone"
  EXPECT_TRUE(Process::kill(::getpid(), 0));
}

TEST_F(WaitTest, WAIT5_DefaultSignalIsSigterm) {
  Process p = make([](Process&) { ::pause(); });
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(Process::kill(p.pid()));
  EXPECT_EQ(p.join().value().signal, SIGTERM);
}

TEST_F(WaitTest, WAIT6_NoZombieAfterProcessesGoOutOfScope) {
  {
    std::vector<Process> kids;
    for (int i = 0; i < 5; ++i) {
      kids.push_back(make([i](Process& self) {
        if (i % 2) ::pause();
        (void)self.exit(i);
      }));
      ASSERT_TRUE(kids.back().start());
    }
  }
  EXPECT_TRUE(test::child_pids().empty());
}

TEST_F(WaitTest, WAIT7_TwoHundredSimultaneousExitsAreEachReapedOnce) {
  constexpr int kChildren = 200;
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<Process> kids;
  std::set<pid_t> started;
  for (int i = 0; i < kChildren; ++i) {
    kids.push_back(make([&gate, i](Process& self) {
      ::close(gate[1]);  // so that the parent's close is the end-of-file for everyone
      char c;
      (void)!::read(gate[0], &c, 1);
      (void)self.exit(i % 256);
    }));
    auto pid = kids.back().start();
    ASSERT_TRUE(pid) << pid.error().message;
    started.insert(*pid);
  }
  ::close(gate[1]);  // every child wakes and exits at the same moment
  ::close(gate[0]);
  // The parent is busy while they die: their SIGCHLDs coalesce; waitpid must still see all.
  std::this_thread::sleep_for(200ms);
  std::map<pid_t, int> reaped;
  for (int i = 0; i < kChildren + 10; ++i) {
    WaitResult w = Process::wait(true);
    if (w.none()) {
      EXPECT_EQ(w.none_reason, std::errc::no_child_process);
      break;
    }
    ++reaped[w.status->pid];
  }
  EXPECT_EQ(reaped.size(), static_cast<std::size_t>(kChildren));
  for (const auto& [pid, times] : reaped) {
    EXPECT_EQ(times, 1) << "pid " << pid;
    EXPECT_TRUE(started.count(pid)) << "pid " << pid;
  }
  for (auto& k : kids) EXPECT_TRUE(k.join().has_value());  // the statuses wait() recorded
}

}  // namespace
}  // namespace procspec

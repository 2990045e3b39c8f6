// SPEC PRC: Process construction, start, stdio redirection, exec, title, exit, parent death and
// the destructor — with real forked children. (Pipe reads and writes: process_pipe_test.cc.)
// Child code reports through the pipe or its exit status; GoogleTest assertions only run in the
// parent.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "base/after_fork.h"
#include "os/process_hooks.h"
#include "procspec/process.h"
#include "support/child.h"
#include "support/leak_check.h"
#include "support/process_fixture.h"

namespace procspec {
namespace {

using test::make;
using test::must;
using test::ProcessTest;
using test::read_all;
using test::with_pipe;

TEST_F(ProcessTest, PRC1_OptionsPipeTypesAndRedirectForcesStream) {
  auto cb = [](Process&) {};
  EXPECT_EQ(make(cb).options().pipe_type, PipeType::uds_dgram);  // default 2
  ProcessOptions redirect;
  redirect.redirect_stdio = true;
  redirect.pipe_type = PipeType::uds_dgram;
  EXPECT_EQ(make(cb, redirect).options().pipe_type, PipeType::uds_stream);
  Process none = make(cb, with_pipe(PipeType::none));
  EXPECT_EQ(none.pipe_fd(), -1);
  auto bad = Process::create(cb, with_pipe(static_cast<PipeType>(7)));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  // A move-only callable is accepted too.
  auto owned = std::make_unique<int>(4);
  auto moved = Process::create([o = std::move(owned)](Process& p) { (void)p.exit(*o); });
  ASSERT_TRUE(moved);
  ASSERT_TRUE(moved->start());
  auto st = moved->join();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->code, 4);
}

TEST_F(ProcessTest, PRC1_RoleGuardRefusesCreationAndNeverCallsTheCallback) {
  detail::set_process_create_guard([]() -> Status { return fail(errc::wrong_role, "master after start"); });
  bool called = false;
  auto p = Process::create([&called](Process&) { called = true; });
  detail::set_process_create_guard(nullptr);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, errc::wrong_role);
  EXPECT_FALSE(called);
}

std::atomic<int> g_hook_runs{0};
void count_hook() noexcept { g_hook_runs.fetch_add(1); }
std::atomic<int> g_usr1{0};
void on_usr1(int) { g_usr1.store(1); }

TEST_F(ProcessTest, PRC2_ChildGetsACleanSlateAndExitsZero) {
  detail::add_after_fork_child_hook(&count_hook);
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
  const int hooks_before = g_hook_runs.load();
  Process p = make([hooks_before](Process& self) {
    struct sigaction cur {};
    ::sigaction(SIGUSR1, nullptr, &cur);
    sigset_t mask;
    ::sigprocmask(SIG_SETMASK, nullptr, &mask);
    std::string report = std::to_string(g_hook_runs.load() - hooks_before) + " " +
                         (cur.sa_handler == SIG_DFL ? "dfl" : "inherited") + " " +
                         (sigismember(&mask, SIGUSR2) ? "blocked" : "clear") + " " + std::to_string(self.id());
    must(self.write(report).has_value(), self, 9);
    (void)self.read();  // alive until the parent says go
  });
  ::sigaction(SIGUSR1, &old, nullptr);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  auto pid = p.start();
  ASSERT_TRUE(pid) << pid.error().message;
  EXPECT_GT(*pid, 0);
  EXPECT_EQ(p.pid(), *pid);
  auto again = p.start();  // the child is alive until we tell it to go
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::already_started);
  auto report = p.read();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(*report, "1 dfl clear " + std::to_string(p.id()));
  ASSERT_TRUE(p.write("go"));
  auto st = p.join();
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, (ExitStatus{*pid, 0, 0}));
  // Once reaped, the same Process may start again, with a fresh pipe.
  auto second = p.start();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(p.read().has_value());
  ASSERT_TRUE(p.write("go"));
  EXPECT_TRUE(p.join().has_value());
}

TEST_F(ProcessTest, PRC3_IdsIncreaseByOneAndAServerCanSetTheBase) {
  auto cb = [](Process& self) { (void)self.write(std::to_string(self.id())); };
  Process a = make(cb), b = make(cb), c = make(cb);
  EXPECT_EQ(b.id(), a.id() + 1);
  EXPECT_EQ(c.id(), b.id() + 1);
  ASSERT_TRUE(b.start());
  EXPECT_EQ(b.read().value_or(""), std::to_string(b.id()));  // the child sees the same id
  ASSERT_TRUE(b.join());
  Process::set_id_base(100);  // a server with 100 workers started
  EXPECT_EQ(make(cb).id(), 100);
  EXPECT_EQ(make(cb).id(), 101);
}

TEST_F(ProcessTest, PRC4_RedirectStdioConnectsStdinStdoutStderr) {
  ProcessOptions o;
  o.redirect_stdio = true;
  Process p = make([](Process&) {
    char line[64] = {};
    if (!std::fgets(line, sizeof line, stdin)) ::_exit(3);
    std::printf("got %s", line);
    std::fflush(stdout);
    std::fprintf(stderr, "err\n");
  }, o);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.write("ping\n"));
  EXPECT_EQ(read_all(p), "got ping\nerr\n");
  auto st = p.join();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
}

TEST_F(ProcessTest, PRC8_ExecOutputIsReadableAndAMissingProgramIsAnError) {
  ProcessOptions o;
  o.redirect_stdio = true;
  Process echo = make([](Process& self) { (void)self.exec("/bin/echo", {"hello", "exec"}); }, o);
  ASSERT_TRUE(echo.start());
  EXPECT_EQ(read_all(echo), "hello exec\n");
  auto st = echo.join();
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->code, 0);

  Process missing = make([](Process& self) { (void)self.exec("/nonexistent/program", {}); }, o);
  ASSERT_TRUE(missing.start());
  auto r = missing.read();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::exec_failed);
  EXPECT_NE(r.error().message.find("ENOENT"), std::string::npos) << r.error().message;
  auto j = missing.join();
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, errc::exec_failed);
  EXPECT_NE(j.error().message.find("code 127"), std::string::npos) << j.error().message;

  Process parent_side = make([](Process&) {});
  EXPECT_EQ(parent_side.exec("/bin/true").error().code, errc::wrong_role);
}

TEST_F(ProcessTest, PRC9_NameSetsCommAndCmdline) {
  Process p = make([](Process& self) {
    must(self.name("procspec-title-test").has_value(), self, 9);
    must(self.write("named").has_value(), self, 8);
    (void)self.read();  // until the parent has looked
  });
  ASSERT_TRUE(p.start());
  ASSERT_EQ(p.read().value_or(""), "named");
  std::ifstream comm("/proc/" + std::to_string(p.pid()) + "/comm");
  std::string c;
  std::getline(comm, c);
  EXPECT_EQ(c, "procspec-title-");  // TASK_COMM_LEN: 15 bytes
  std::ifstream cmd("/proc/" + std::to_string(p.pid()) + "/cmdline");
  std::string cmdline;
  std::getline(cmd, cmdline, '\0');
  EXPECT_EQ(cmdline.rfind("procspec-title-test", 0), 0u) << cmdline;
  ASSERT_TRUE(p.write("done"));
  ASSERT_TRUE(p.join());
}

TEST_F(ProcessTest, PRC10_ExitRunsShutdownCallbacksWithTheCode) {
  Process p = make([](Process& self) {
    Process::add_shutdown_callback([&self] { (void)self.write("bye"); });
    must(self.exit(300).error().code == errc::invalid_argument, self, 9);
    (void)self.exit(7);
    ::_exit(8);  // not reached
  });
  ASSERT_TRUE(p.start());
  EXPECT_EQ(p.read().value_or(""), "bye");
  auto st = p.join();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 7);
  EXPECT_EQ(p.exit(1).error().code, errc::wrong_role);  // not the child
  // A callback that returns also runs them, and the parent's callbacks are not inherited.
  Process::add_shutdown_callback([] { ::_exit(66); });
  Process q = make([](Process& self) { Process::add_shutdown_callback([&self] { (void)self.write("ret"); }); });
  ASSERT_TRUE(q.start());
  EXPECT_EQ(q.read().value_or(""), "ret");
  EXPECT_EQ(q.join().value().code, 0);
}

// The orphaned grandchild is reparented to us (subreaper), so we can see how it died.
class SubreaperTest : public test::SubreaperFixture {};

TEST_F(SubreaperTest, PRC12_ExitWithParentKillsTheOrphanEvenInTheForkRace) {
  for (int round = 0; round < 20; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    // The intermediate parent starts the child and exits at once: sometimes before the child's
    // prctl (the race getppid closes), sometimes after (PR_SET_PDEATHSIG fires).
    auto mid = test::spawn_child([&]() {
      ::close(fds[0]);
      ProcessOptions o;
      o.exit_with_parent = true;
      o.pipe_type = PipeType::none;
      auto p = Process::create([](Process&) { ::pause(); }, o);
      if (!p || !p->start()) return 1;
      pid_t pid = p->pid();
      (void)!::write(fds[1], &pid, sizeof pid);
      p->detach();
      return 0;
    });
    ::close(fds[1]);
    ASSERT_TRUE(mid);
    pid_t grandchild = 0;
    ASSERT_EQ(::read(fds[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
    ::close(fds[0]);
    EXPECT_EQ(test::wait_child(*mid).value().code, 0);
    auto st = test::wait_child(grandchild);
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(st->signal, SIGTERM) << "round " << round;
  }
}

TEST_F(SubreaperTest, PRC12_ChildLearnsItsParentIsGone) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto mid = test::spawn_child([&]() {
    ::close(fds[0]);
    const pid_t parent = ::getpid();
    auto p = Process::create([parent, out = fds[1]](Process&) {
      // Without exit_with_parent the child polls: kill(parent, 0) fails once it is gone.
      for (int i = 0; i < 2000 && Process::kill(parent, 0); ++i) ::usleep(5000);
      (void)!::write(out, "gone", 4);
    }, with_pipe(PipeType::none));
    if (!p || !p->start()) return 1;
    p->detach();
    return 0;
  });
  ::close(fds[1]);
  ASSERT_TRUE(mid);
  ASSERT_EQ(test::wait_child(*mid).value().code, 0);  // reaped: now kill(parent, 0) is ESRCH
  EXPECT_EQ(test::read_with_deadline(fds[0]).value_or(""), "gone");
  ::close(fds[0]);
  // The orphan was reparented to us; reap it.
  auto w = Process::wait();
  ASSERT_TRUE(w) << w.none_reason.message();
  EXPECT_EQ(w.status->code, 0);
}

// spec: WAIT-6
TEST_F(ProcessTest, PRC2_DestructorKillsAndReapsARunningChildUnlessDetached) {
  pid_t pid = 0;
  {
    Process p = make([](Process&) { ::pause(); });
    ASSERT_TRUE(p.start());
    pid = p.pid();
  }
  EXPECT_FALSE(Process::kill(pid, 0));  // gone and reaped: no zombie either
  {
    Process ignores = make([](Process& self) {
      ::signal(SIGTERM, SIG_IGN);
      (void)self.write("ready");
      ::pause();
    });
    ASSERT_TRUE(ignores.start());
    ASSERT_EQ(ignores.read().value_or(""), "ready");
  }  // SIGTERM is ignored: SIGKILL after the grace period
  Process d = make([](Process& self) { (void)self.read(); });
  ASSERT_TRUE(d.start());
  d.detach();
  pid = d.pid();
  ASSERT_TRUE(d.write("go"));
  EXPECT_EQ(test::wait_child(pid).value().code, 0);
}

// spec: WAIT-1
TEST_F(ProcessTest, PRC2_AChildReapedByWaitIsNotReapedAgain) {
  Process p = make([](Process& self) { (void)self.exit(5); }, with_pipe(PipeType::none));
  ASSERT_TRUE(p.start());
  auto w = Process::wait();
  ASSERT_TRUE(w);
  EXPECT_EQ(w.status->pid, p.pid());
  auto j = p.join();  // the status wait() recorded, not a second waitpid
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(*j, *w.status);
}

}  // namespace
}  // namespace procspec

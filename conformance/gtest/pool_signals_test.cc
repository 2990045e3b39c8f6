// Signals in a Process\Pool (SPEC POOL-11, POOL-2 with SIG-3, SIG-5, SIG-6): a launcher's
// signal state does not break restarts, a worker's own SIGTERM handler replaces the default
// stop, and the manager refuses its reserved signals but runs a user's handler for others.
#include <sys/syscall.h>

#include <fstream>

#include "pool_harness.h"

namespace procspec::test {
namespace {

using namespace std::chrono_literals;

// True once pid's main thread sits in system call `nr` (/proc/PID/syscall starts with it).
bool in_syscall(pid_t pid, long nr) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
  long current = -1;
  return static_cast<bool>(in >> current) && current == nr;
}

TEST_F(Pool, POOL11_LauncherIgnoringSigchldAndBlockingSignalsDoesNotBreakRestart) {
  Shared<ExitLog> exits;
  Shared<std::atomic<int>> worker_mask_clear;
  auto pool = make_pool({.worker_num = 1});
  ASSERT_TRUE(pool->on_worker_start([&worker_mask_clear](procspec::Pool&, int) {
    sigset_t mask;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    *worker_mask_clear = !sigismember(&mask, SIGTERM) && !sigismember(&mask, SIGUSR1) ? 1 : 2;
    idle_forever();
  }));
  record_exits(*pool, &*exits);
  ManagerChild manager(*pool, [] {
    ::signal(SIGCHLD, SIG_IGN);
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
  });
  ASSERT_TRUE(eventually([&] { return all_started(*pool, 1) && worker_mask_clear->load() != 0; }));
  EXPECT_EQ(worker_mask_clear->load(), 1) << "workers must start with an empty signal mask";
  const pid_t old_pid = *pool->get_process(0);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { auto p = pool->get_process(0); return p && *p != old_pid; }));
  ASSERT_TRUE(eventually([&] { return exits->count.load() == 1; }));
  EXPECT_EQ(exits->signal.load(), SIGKILL);
  ASSERT_TRUE(manager.stop());
}

// spec: SIG-5 SIG-6
TEST_F(Pool, POOL2_WorkerOwnSigtermHandlerReplacesTheDefaultStop) {
  struct Log {
    std::atomic<int> registered, handled, stops;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 1, .ipc = PoolIpc::msgqueue});
  ASSERT_TRUE(pool->on_worker_start([&log](procspec::Pool& p, int) {
    Status st = Signals::set(SIGTERM, [&log, &p](int) {
      log->handled++;
      (void)p.stop();
    });
    log->registered = st ? 1 : 2;
  }));
  ASSERT_TRUE(pool->on_message([](procspec::Pool&, std::string_view) {}));
  ASSERT_TRUE(pool->on_worker_stop([&log](procspec::Pool&, int) { log->stops++; }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, 1) && log->registered.load() != 0; }));
  EXPECT_EQ(log->registered.load(), 1) << "pool workers may register SIGTERM";
  const pid_t first = *pool->get_process(0);
  // Sent once the worker waits in msgrcv: a SIGTERM landing between its stop check and msgrcv's
  // entry waits for the next message (worker_stop.h's documented trade-off), and TSan, which
  // defers handlers to its next intercepted call, widens that window to most of the start-up.
  ASSERT_TRUE(eventually([&] { return in_syscall(first, SYS_msgrcv); }));
  ASSERT_EQ(::kill(first, SIGTERM), 0);
  ASSERT_TRUE(eventually([&] { auto p = pool->get_process(0); return p && *p != first; }));
  EXPECT_EQ(log->handled.load(), 1);
  EXPECT_EQ(log->stops.load(), 1);
  ASSERT_TRUE(manager.stop());
}

// spec: SIG-3 SIG-6
TEST_F(Pool, POOL2_ManagerRefusesItsReservedSignalsAndRunsOthers) {
  struct Log {
    std::atomic<int> refused, hup_registered, hup_handled;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 1});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  ASSERT_TRUE(pool->on_start([&log](procspec::Pool&) {
    int refused = 0;
    for (int signo : {SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD}) {
      Status st = Signals::set(signo, [](int) {});
      refused += !st && st.error().code == errc::signal_reserved ? 1 : 0;
    }
    log->refused = refused;
    log->hup_registered = Signals::set(SIGHUP, [&log](int) { log->hup_handled++; }) ? 1 : 2;
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->hup_registered.load() != 0 && all_started(*pool, 1); }));
  EXPECT_EQ(log->refused.load(), 5);
  EXPECT_EQ(log->hup_registered.load(), 1);
  ASSERT_EQ(::kill(manager.pid(), SIGHUP), 0);
  ASSERT_TRUE(eventually([&] { return log->hup_handled.load() == 1; }));
  ASSERT_TRUE(manager.stop()) << "the manager keeps running after a user handler";
}

}  // namespace
}  // namespace procspec::test

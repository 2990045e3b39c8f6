// Process\Pool restarts (SPEC POOL-3, POOL-10, POOL-12) with real processes: a killed or exiting
// worker comes back with the same id and a new pid, crash back-off grows and resets after a
// healthy run, planned exits skip it, and get_process follows many simultaneous restarts.
#include "pool_harness.h"

namespace procspec::test {
namespace {

using namespace std::chrono_literals;

TEST_F(Pool, POOL3_KilledWorkerRestartsWithSameIdNewPidAndReportsTheSignal) {
  Shared<ExitLog> exits;
  auto pool = make_pool({.worker_num = 2});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  record_exits(*pool, &*exits);
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, 2); }));
  const pid_t old_pid = *pool->get_process(1);
  const pid_t other = *pool->get_process(0);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { auto p = pool->get_process(1); return p && *p != old_pid; }));
  ASSERT_TRUE(eventually([&] { return exits->count.load() == 1; }));
  EXPECT_EQ(exits->id.load(), 1);
  EXPECT_EQ(exits->pid.load(), old_pid);
  EXPECT_EQ(exits->signal.load(), SIGKILL);
  EXPECT_EQ(exits->code.load(), 0);
  EXPECT_EQ(*pool->get_process(0), other) << "other workers are untouched";
  EXPECT_EQ(pool->worker_info(1)->last_signal, SIGKILL);
  ASSERT_TRUE(manager.stop());
}

TEST_F(Pool, POOL3_ExitCodeIsReportedAndTheWorkerRestarted) {
  Shared<ExitLog> exits;
  Shared<std::atomic<int>> starts;
  auto pool = make_pool({.worker_num = 1});
  ASSERT_TRUE(pool->on_worker_start([&starts](procspec::Pool&, int) {
    if ((*starts)++ == 0) ::_exit(3);
    idle_forever();
  }));
  record_exits(*pool, &*exits);
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return starts->load() == 2 && exits->count.load() == 1; }));
  EXPECT_EQ(exits->code.load(), 3);
  EXPECT_EQ(exits->signal.load(), 0);
  EXPECT_EQ(exits->id.load(), 0);
  ASSERT_TRUE(manager.stop());
}

TEST_F(Pool, POOL10_WorkerDyingAtStartIsRestartedWithGrowingBackoff) {
  Shared<std::atomic<int>> spawns;
  auto pool = make_pool({.worker_num = 1, .healthy_uptime = 1000ms, .restart_backoff_base = 20ms,
                         .restart_backoff_max = 160ms});
  ASSERT_TRUE(pool->on_worker_start([&spawns](procspec::Pool&, int) {
    (*spawns)++;
    ::_exit(1);
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return pool->worker_info(0)->crash_count >= 4; }));
  const int crashes = pool->worker_info(0)->crash_count;
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(manager.stop());
  // 20+40+80+160+160... ms between starts: a handful in the 300 ms window, not thousands.
  EXPECT_LE(spawns->load(), crashes + 6) << "restarts are not throttled";
  EXPECT_GE(pool->worker_info(0)->crash_count, 4);
}

TEST_F(Pool, POOL10_HealthyUptimeResetsTheCrashCounter) {
  struct Log {
    std::atomic<int> starts, max_crashes_seen;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 1, .healthy_uptime = 100ms, .restart_backoff_base = 10ms});
  ASSERT_TRUE(pool->on_worker_start([&log](procspec::Pool& p, int id) {
    const int n = log->starts++;
    const int crashes = p.worker_info(id)->crash_count;
    if (crashes > log->max_crashes_seen) log->max_crashes_seen = crashes;
    if (n < 3) ::_exit(1);                 // three quick deaths
    if (n == 3) {
      std::this_thread::sleep_for(200ms);  // one healthy run, then a death
      ::_exit(1);
    }
    idle_forever();
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->starts.load() == 5; }));
  EXPECT_EQ(log->max_crashes_seen.load(), 3);
  EXPECT_EQ(pool->worker_info(0)->crash_count, 0);
  ASSERT_TRUE(manager.stop());
}

TEST_F(Pool, POOL12_GetProcessReturnsNewPidsAfterSimultaneousKills) {
  constexpr int kWorkers = 4;
  auto pool = make_pool({.worker_num = kWorkers});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, kWorkers); }));
  std::vector<pid_t> old;
  for (int i = 0; i < kWorkers; ++i) old.push_back(*pool->get_process(i));
  for (pid_t pid : old) ::kill(pid, SIGKILL);
  ASSERT_TRUE(eventually([&] { return all_replaced(*pool, old); }));
  for (int i = 0; i < kWorkers; ++i) {
    EXPECT_EQ(pool->worker_info(i)->restarts, 1) << "worker " << i;
    EXPECT_TRUE(pid_gone(old[static_cast<std::size_t>(i)]));
  }
  auto missing = pool->get_process(kWorkers + 5);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, errc::unknown_worker);
  ASSERT_TRUE(manager.stop());
}

// spec: WAIT-7
TEST_F(Pool, POOL12_ManyWorkersKilledAtOnceAreEachReportedOnceAndReplaced) {
  constexpr int kWorkers = 64;
  struct Log {
    std::atomic<int> reported[kWorkers];
    std::atomic<int> total;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = kWorkers, .healthy_uptime = 0ms});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  ASSERT_TRUE(pool->on_worker_error([&log](procspec::Pool&, const WorkerExit& e) {
    log->reported[e.worker_id]++;
    log->total++;
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, kWorkers); }));
  std::vector<pid_t> old;
  for (int i = 0; i < kWorkers; ++i) old.push_back(*pool->get_process(i));
  // One SIGCHLD may stand for many of these exits: the manager must reap until none is left.
  for (pid_t pid : old) ::kill(pid, SIGKILL);
  ASSERT_TRUE(eventually([&] { return log->total.load() == kWorkers; })) << log->total.load();
  ASSERT_TRUE(eventually([&] { return all_replaced(*pool, old); }));
  for (int i = 0; i < kWorkers; ++i) EXPECT_EQ(log->reported[i].load(), 1) << "worker " << i;
  ASSERT_TRUE(manager.stop());
}

// The manager core the Server shares: exits it declares planned (max_request) skip the back-off.
TEST_F(Pool, POOL10_PlannedExitsAreRestartedAtOnceNotCountedAsCrashes) {
  Shared<std::atomic<int>> starts;
  auto slots = detail::SharedSlots::create(1);
  ASSERT_TRUE(slots);
  detail::ManagerOptions mo;
  mo.backoff = {1000ms, 500ms, 2000ms};
  mo.planned_exit = [](const detail::ChildExit& e) { return e.code == 42; };
  detail::Manager manager_core(mo, &*slots);
  manager_core.add_slot(detail::SlotKind::worker, [&starts](int) -> int {
    if ((*starts)++ < 5) return 42;
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    ::pthread_sigmask(SIG_UNBLOCK, &term, nullptr);  // bodies start with SIGTERM held
    idle_forever();
  });
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(manager_core.run({}) ? 0 : 1);
  // Five planned exits in a row would wait 0.5+1+2+2+2 s as crashes; planned, they do not.
  const bool restarted = eventually([&] { return starts->load() == 6; }, 1500ms);
  const int crashes = (*slots)[0].crash_count.load();
  const int restarts = (*slots)[0].restarts.load();
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_TRUE(eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }));
  EXPECT_TRUE(restarted) << starts->load();
  EXPECT_EQ(crashes, 0);
  EXPECT_EQ(restarts, 5);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace procspec::test

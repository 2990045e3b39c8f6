// Process\Pool lifecycle (SPEC POOL-2..5, POOL-8) with real processes: events in their processes
// and order, a worker stopping itself, shutdown, reload and manager death. (Restarts, back-off and
// pids after restarts: pool_restart_test.cc; signals in the pool: pool_signals_test.cc.)
#include "pool_harness.h"

namespace procspec::test {
namespace {

using namespace std::chrono_literals;

TEST_F(Pool, POOL2_WorkerStartIsRequiredAndMessageNeedsIpc) {
  auto pool = make_pool({.worker_num = 1, .ipc = PoolIpc::msgqueue});
  Status st = pool->start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, errc::invalid_setting);
  EXPECT_NE(st.error().message.find("WorkerStart"), std::string::npos) << st.error().message;
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) {}));
  st = pool->start();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("Message"), std::string::npos) << st.error().message;

  auto none = make_pool({.worker_num = 1});
  Status m = none->on_message([](procspec::Pool&, std::string_view) {});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, errc::invalid_setting);
}

// A member-function callback, to show events take any callable.
struct StopRecorder {
  std::atomic<int>* stops;
  void on_stop(procspec::Pool&, int) { (*stops)++; }
};

TEST_F(Pool, POOL2_EventsRunInTheirProcessesInOrder) {
  struct Log {
    std::atomic<int> start_in_manager, worker_starts, worker_stops, stops_seen_by_shutdown, shutdown_ran;
    std::atomic<int> register_after_start_refused;
    std::atomic<pid_t> manager;
  };
  Shared<Log> log;
  StopRecorder recorder{&log->worker_stops};
  auto pool = make_pool({.worker_num = 3, .ipc = PoolIpc::unixsock});
  ASSERT_TRUE(pool->on_start([&log](procspec::Pool& p) {
    log->manager = ::getpid();
    log->start_in_manager = p.master_pid() == ::getpid() && p.worker_id() == -1;
    log->register_after_start_refused = !p.on_start([](procspec::Pool&) {});
  }));
  ASSERT_TRUE(pool->on_worker_start([&log](procspec::Pool& p, int id) {
    if (p.worker_id() == id && ::getppid() == p.master_pid()) log->worker_starts++;
  }));
  ASSERT_TRUE(pool->on_message([](procspec::Pool&, std::string_view) {}));
  ASSERT_TRUE(pool->on_worker_stop(std::bind(&StopRecorder::on_stop, &recorder, std::placeholders::_1,
                                             std::placeholders::_2)));
  ASSERT_TRUE(pool->on_shutdown([&log](procspec::Pool&) {
    log->stops_seen_by_shutdown = log->worker_stops.load();
    log->shutdown_ran = ::getpid() == log->manager.load();
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->worker_starts.load() == 3; }));
  ASSERT_TRUE(manager.stop());
  EXPECT_EQ(log->start_in_manager.load(), 1);
  EXPECT_EQ(log->register_after_start_refused.load(), 1);
  EXPECT_EQ(log->worker_stops.load(), 3);
  EXPECT_EQ(log->stops_seen_by_shutdown.load(), 3) << "Shutdown must run after every worker stopped";
  EXPECT_EQ(log->shutdown_ran.load(), 1);
}

TEST_F(Pool, POOL3_StopFromAWorkerEndsItAfterTheMessageAndItIsRestarted) {
  struct Log {
    std::atomic<int> starts, stops, after_stop;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 1, .ipc = PoolIpc::unixsock});
  ASSERT_TRUE(pool->on_worker_start([&log](procspec::Pool& p, int) {
    log->starts++;
    if (log->starts.load() == 1) (void)p.send_message("stop", 0);
  }));
  ASSERT_TRUE(pool->on_worker_stop([&log](procspec::Pool&, int) { log->stops++; }));
  ASSERT_TRUE(pool->on_message([&log](procspec::Pool& p, std::string_view) {
    if (p.stop()) log->after_stop++;  // the message is finished before the worker goes
  }));
  Status outside = pool->stop();
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, errc::wrong_role);
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->starts.load() == 2; }));
  EXPECT_EQ(log->stops.load(), 1);
  EXPECT_EQ(log->after_stop.load(), 1);
  EXPECT_EQ(pool->worker_info(0)->last_exit_code, 0);
  ASSERT_TRUE(manager.stop());
}

TEST_F(Pool, POOL4_SigtermStopsAllReapsEveryOneRunsShutdownAndReturns) {
  struct Log {
    std::atomic<int> shutdown_ran;
    std::atomic<int> stubborn_started;
  };
  Shared<Log> log;
  // Worker 2 ignores SIGTERM: only the SIGKILL at max_wait_time ends it.
  auto pool = make_pool({.worker_num = 3, .max_wait_time = 300ms});
  ASSERT_TRUE(pool->on_worker_start([&log](procspec::Pool&, int id) {
    if (id == 2) {
      ::signal(SIGTERM, SIG_IGN);
      log->stubborn_started = 1;
    }
    idle_forever();
  }));
  ASSERT_TRUE(pool->on_shutdown([&log](procspec::Pool&) {
    // Every child was reaped before Shutdown: the manager has none left.
    log->shutdown_ran = ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD ? 1 : 2;
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, 3) && log->stubborn_started.load() == 1; }));
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) pids.push_back(*pool->get_process(i));
  ASSERT_TRUE(manager.stop()) << "status " << manager.status();
  EXPECT_EQ(log->shutdown_ran.load(), 1);
  for (pid_t pid : pids) EXPECT_TRUE(pid_gone(pid)) << "worker " << pid << " outlived the manager";
}

TEST_F(Pool, POOL5_ReloadReplacesWorkersOneAtATimeAfterTheirCurrentMessage) {
  constexpr int kJobs = 4;
  struct Log {
    std::atomic<int> busy, done, stops;
    std::atomic<int> done_by_job[kJobs];
    std::atomic<int> other_restarted_at_stop[2];
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 2, .ipc = PoolIpc::msgqueue});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) {}));
  // One at a time: when the second worker stops, the first one's replacement already exists.
  ASSERT_TRUE(pool->on_worker_stop([&log](procspec::Pool& p, int id) {
    log->other_restarted_at_stop[id] = p.worker_info(1 - id)->restarts;
    log->stops++;
  }));
  ASSERT_TRUE(pool->on_message([&log](procspec::Pool&, std::string_view data) {
    log->busy++;
    std::this_thread::sleep_for(150ms);
    log->done_by_job[std::stoi(std::string(data))]++;
    log->done++;
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, 2); }));
  const pid_t old0 = *pool->get_process(0), old1 = *pool->get_process(1);
  for (int i = 0; i < kJobs; ++i) send_job(pool->msgqueue_id(), i);
  ASSERT_TRUE(eventually([&] { return log->busy.load() >= 2; }));
  ASSERT_EQ(::kill(manager.pid(), SIGUSR1), 0);
  ASSERT_TRUE(eventually([&] {
    auto p0 = pool->get_process(0), p1 = pool->get_process(1);
    return p0 && p1 && *p0 != old0 && *p1 != old1 && log->stops.load() == 2;
  }));
  ASSERT_TRUE(eventually([&] { return log->done.load() == kJobs; }));
  // Both were busy when the reload began: their messages finished (none lost, none twice).
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(log->done_by_job[i].load(), 1) << "job " << i;
  EXPECT_EQ(log->other_restarted_at_stop[0] + log->other_restarted_at_stop[1], 1)
      << "the second worker was stopped before the first one was replaced";
  EXPECT_EQ(pool->worker_info(0)->crash_count + pool->worker_info(1)->crash_count, 0)
      << "a reload is not a crash";
  ASSERT_TRUE(manager.stop());
}

// spec: PRC-12
TEST_F(Pool, POOL8_ManagerDeathEndsItsWorkers) {
  // As a subreaper this test inherits the orphaned workers, so it can wait for them itself
  // rather than trusting whatever runs as pid 1.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  Shared<std::atomic<int>> stops, starts;
  auto pool = make_pool({.worker_num = 2, .ipc = PoolIpc::msgqueue});
  ASSERT_TRUE(pool->on_worker_start([&starts](procspec::Pool&, int) { (*starts)++; }));
  ASSERT_TRUE(pool->on_message([](procspec::Pool&, std::string_view) {}));
  ASSERT_TRUE(pool->on_worker_stop([&stops](procspec::Pool&, int) { (*stops)++; }));
  std::vector<pid_t> workers;
  {
    ManagerChild manager(*pool);
    // Past WorkerStart, PDEATHSIG is armed (a worker whose manager died before that exits 1).
    ASSERT_TRUE(eventually([&] { return all_started(*pool, 2) && starts->load() == 2; }));
    for (int i = 0; i < 2; ++i) workers.push_back(*pool->get_process(i));
    ::kill(manager.pid(), SIGKILL);
    ASSERT_TRUE(manager.wait_exit(5s));
  }
  for (pid_t w : workers) {
    int status = 0;
    ASSERT_TRUE(eventually([&] { return ::waitpid(w, &status, WNOHANG) == w; })) << "orphan " << w;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  EXPECT_EQ(stops->load(), 2) << "workers finish through WorkerStop";
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace
}  // namespace procspec::test

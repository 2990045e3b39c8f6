// User processes in a Pool (SPEC POOL-9, POOL-13): hot restart with the current code, shutdown together with the workers.
#include "pool_harness.h"

namespace procspec::test {
namespace {

using namespace std::chrono_literals;

struct HotState {
  std::atomic<int> code_version{1};
  std::atomic<int> runs, shutdowns, messages;
  std::atomic<int> last_run_version;
  std::atomic<pid_t> last_run_pid;
};

class VersionedWorker : public UserProcess {
 public:
  explicit VersionedWorker(HotState* s) : UserProcess("versioned"), s_(s), version_(s->code_version.load()) {}

 protected:
  void run() override {
    s_->last_run_version = version_;
    s_->last_run_pid = ::getpid();
    s_->runs++;
  }
  void on_pipe_readable(std::string_view m) override {
    if (m == "ping") s_->messages++;
  }
  void on_shutdown() override { s_->shutdowns++; }

 private:
  HotState* s_;
  int version_;  // "the code" this process runs, fixed when it was built
};

TEST_F(Pool, POOL9_SigtermToUserProcessRunsShutdownAndRestartsWithCurrentCode) {
  Shared<HotState> s;
  auto pool = make_pool({.worker_num = 1});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  auto id = pool->add_process([&s] { return std::make_unique<VersionedWorker>(&*s); });
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, 1);
  ASSERT_TRUE(pool->on_start([id](procspec::Pool& p) { (void)p.send_message("ping", *id); }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return s->runs.load() == 1 && s->messages.load() == 1; }));
  const pid_t first = s->last_run_pid.load();
  EXPECT_EQ(*pool->get_process(*id), first);
  s->code_version = 2;  // "deploy new code", then the seed's hot restart: SIGTERM to the process
  ASSERT_EQ(::kill(first, SIGTERM), 0);
  ASSERT_TRUE(eventually([&] { return s->runs.load() == 2; }));
  EXPECT_EQ(s->shutdowns.load(), 1);
  EXPECT_EQ(s->last_run_version.load(), 2);
  EXPECT_NE(s->last_run_pid.load(), first);
  ASSERT_TRUE(manager.stop());
  EXPECT_EQ(s->shutdowns.load(), 2);
}


class ShutdownWitness : public UserProcess {
 public:
  ShutdownWitness(std::atomic<pid_t>* stubborn, std::atomic<int>* result)
      : UserProcess("witness"), stubborn_(stubborn), result_(result) {}

 protected:
  void run() override {}
  // Runs while the SIGTERM-ignoring worker is still alive: the user process was signalled
  // together with the workers, not after the max_wait_time SIGKILL.
  void on_shutdown() override { *result_ = ::kill(stubborn_->load(), 0) == 0 ? 1 : 2; }

 private:
  std::atomic<pid_t>* stubborn_;
  std::atomic<int>* result_;
};

TEST_F(Pool, POOL13_UserProcessesAreSignalledTogetherWithWorkers) {
  struct Log {
    std::atomic<pid_t> stubborn;
    std::atomic<int> result;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 1, .max_wait_time = 2000ms});
  ASSERT_TRUE(pool->on_worker_start([&log](procspec::Pool&, int) {
    ::signal(SIGTERM, SIG_IGN);
    log->stubborn = ::getpid();
    idle_forever();
  }));
  ASSERT_TRUE(pool->add_process([&log] { return std::make_unique<ShutdownWitness>(&log->stubborn, &log->result); }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, 2) && log->stubborn.load() != 0; }));
  ASSERT_TRUE(manager.stop());
  EXPECT_EQ(log->result.load(), 1);
}


class TickingProcess : public UserProcess {
 public:
  explicit TickingProcess(std::atomic<int>* ticks, std::atomic<int>* shutdowns)
      : UserProcess("ticker"), ticks_(ticks), shutdowns_(shutdowns) {}

 protected:
  // The seed's pattern: run() only arms a timer; the process's event loop keeps it going.
  void run() override { (void)Timer::tick(5, [this](TimerId) { (*ticks_)++; }); }
  void on_shutdown() override { (*shutdowns_)++; }

 private:
  std::atomic<int>* ticks_;
  std::atomic<int>* shutdowns_;
};

TEST_F(Pool, POOL9_UserProcessTimersRunInItsEventLoopUntilSigterm) {
  struct Log {
    std::atomic<int> ticks, shutdowns;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 1});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  auto id = pool->add_process([&log] { return std::make_unique<TickingProcess>(&log->ticks, &log->shutdowns); });
  ASSERT_TRUE(id);
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->ticks.load() >= 3; }));
  ASSERT_TRUE(manager.stop());
  EXPECT_EQ(log->shutdowns.load(), 1);
}

class OwnSigterm : public UserProcess {
 public:
  explicit OwnSigterm(std::atomic<int>* handled, std::atomic<int>* registered)
      : UserProcess("own-sigterm"), handled_(handled), registered_(registered) {}

 protected:
  void run() override {
    // SIG-5: the user role may take SIGTERM; the handler replaces the default stop.
    Status st = Signals::set(SIGTERM, [this](int) {
      (*handled_)++;
      EventLoop::current()->stop();
    });
    *registered_ = st ? 1 : 2;
  }

 private:
  std::atomic<int>* handled_;
  std::atomic<int>* registered_;
};

// spec: SIG-5 SIG-6
TEST_F(Pool, POOL9_UserProcessOwnSigtermHandlerReplacesTheDefaultStop) {
  struct Log {
    std::atomic<int> handled, registered;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 1});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  auto id = pool->add_process([&log] { return std::make_unique<OwnSigterm>(&log->handled, &log->registered); });
  ASSERT_TRUE(id);
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->registered.load() != 0 && pool->get_process(*id).has_value(); }));
  EXPECT_EQ(log->registered.load(), 1);
  const pid_t first = *pool->get_process(*id);
  ASSERT_EQ(::kill(first, SIGTERM), 0);
  ASSERT_TRUE(eventually([&] { auto p = pool->get_process(*id); return log->handled.load() == 1 && p && *p != first; }));
  ASSERT_TRUE(manager.stop());
}

}  // namespace
}  // namespace procspec::test

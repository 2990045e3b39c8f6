// Process\Pool (SPEC POOL-*) with real processes. Each test forks a child that becomes the
// manager (so the test process's own signal mask and dispositions are never touched), observes
// the pool through the shared worker table (get_process / worker_info work from the process
// that created the Pool) and through counters in shared memory, and stops it with SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "procspec/pool.h"
#include "procspec/user_process.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec::test {
namespace {

using namespace std::chrono_literals;

// A T in anonymous shared memory: written by workers and the manager, read by the test.
template <class T>
class Shared {
 public:
  Shared() {
    void* mem = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    PROCSPEC_CHECK(mem != MAP_FAILED, "mmap for test counters");
    p_ = new (mem) T();
  }
  ~Shared() { ::munmap(p_, sizeof(T)); }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }

 private:
  T* p_;
};

// Polls pred every 5 ms until it holds or the deadline passes.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// The manager: a child of the test that runs pool.start() and exits 0 if it returned success.
class ManagerChild {
 public:
  explicit ManagerChild(procspec::Pool& pool, std::function<void()> before_start = {}) {
    std::fflush(nullptr);
    pid_ = ::fork();
    PROCSPEC_CHECK(pid_ >= 0, "fork of the manager");
    if (pid_ == 0) {
      if (before_start) before_start();
      Status st = pool.start();
      if (!st) std::fprintf(stderr, "start failed: %s\n", st.error().message.c_str());
      std::fflush(nullptr);
      ::_exit(st ? 0 : 1);
    }
  }
  ~ManagerChild() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!wait_exit(10s)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ManagerChild(const ManagerChild&) = delete;
  ManagerChild& operator=(const ManagerChild&) = delete;

  pid_t pid() const { return pid_; }
  // Waits (bounded) for the manager to exit; true with its status in status().
  bool wait_exit(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      pid_t r = ::waitpid(pid_, &status_, WNOHANG);
      if (r == pid_) {
        pid_ = 0;
        return true;
      }
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(5ms);
    }
  }
  // SIGTERM, then a bounded wait; true if it exited 0.
  bool stop() {
    ::kill(pid_, SIGTERM);
    return wait_exit(10s) && WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
  }
  int status() const { return status_; }

 private:
  pid_t pid_ = 0;
  int status_ = 0;
};

std::unique_ptr<procspec::Pool> make_pool(PoolOptions o) {
  auto pool = procspec::Pool::create(o);
  PROCSPEC_CHECK(pool.has_value(), "Pool::create in a test");
  return std::move(*pool);
}

bool all_started(const procspec::Pool& pool, int n) {
  for (int i = 0; i < n; ++i) {
    if (!pool.get_process(i)) return false;
  }
  return true;
}

bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

void idle_forever() {
  for (;;) ::pause();
}

class Pool : public LeakCheckedTest {
 protected:
  Pool() { check_msg_queues_ = true; }
  void SetUp() override {
    queues_at_start_ = msg_queue_ids();
    LeakCheckedTest::SetUp();
  }
  // The queue check sees every queue on the machine. A queue made by another program running
  // at the same time (outside this ctest's "sysvmsg" lock) is usually short-lived: give such
  // queues a bounded moment to go away before the base check decides.
  void TearDown() override {
    auto foreign = [this] {
      for (int id : msg_queue_ids()) {
        if (!queues_at_start_.count(id)) return true;
      }
      return false;
    };
    for (int i = 0; i < 100 && foreign(); ++i) std::this_thread::sleep_for(20ms);
    LeakCheckedTest::TearDown();
  }

 private:
  std::set<int> queues_at_start_;
};

struct MsgBuf {
  long mtype;
  char text[64];
};

void send_job(int qid, int index) {
  MsgBuf m{1, {}};
  const int n = std::snprintf(m.text, sizeof m.text, "%d", index);
  while (::msgsnd(qid, &m, static_cast<std::size_t>(n), 0) != 0) {
    PROCSPEC_CHECK(errno == EINTR, "msgsnd in a test");
  }
}

TEST_F(Pool, POOL1_WorkerNumBelowOneIsAnError) {
  auto p = procspec::Pool::create({.worker_num = 0});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, errc::invalid_setting);
  EXPECT_NE(p.error().message.find("worker_num 0"), std::string::npos) << p.error().message;
  auto q = procspec::Pool::create({.worker_num = 1, .ipc = static_cast<PoolIpc>(9)});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, errc::invalid_setting);
}

// spec: POOL-7
TEST_F(Pool, POOL1_MsgqueueMessageSentFromOutsideReachesOneWorker) {
  constexpr int kJobs = 200;
  struct Counts {
    std::atomic<int> seen[kJobs];
    std::atomic<int> total;
    std::atomic<int> by_worker[2];
  };
  Shared<Counts> c;
  auto pool = make_pool({.worker_num = 2, .ipc = PoolIpc::msgqueue});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) {}));
  ASSERT_TRUE(pool->on_message([&c](procspec::Pool& p, std::string_view data) {
    c->seen[std::stoi(std::string(data))]++;
    c->by_worker[p.worker_id()]++;
    c->total++;
  }));
  ManagerChild manager(*pool);
  for (int i = 0; i < kJobs; ++i) send_job(pool->msgqueue_id(), i);
  ASSERT_TRUE(eventually([&] { return c->total.load() == kJobs; })) << c->total.load();
  ASSERT_TRUE(manager.stop());
  for (int i = 0; i < kJobs; ++i) EXPECT_EQ(c->seen[i].load(), 1) << "job " << i;
  EXPECT_EQ(c->by_worker[0] + c->by_worker[1], kJobs);
}

// spec: POOL-6
TEST_F(Pool, POOL1_UnixsockMessageReachesTheAddressedWorker) {
  struct Log {
    std::atomic<int> got_by[2];
    char text[32];
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 2, .ipc = PoolIpc::unixsock});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool& p, int id) {
    if (id == 0) (void)p.send_message("to-one", 1);
  }));
  ASSERT_TRUE(pool->on_message([&log](procspec::Pool& p, std::string_view data) {
    std::memcpy(log->text, data.data(), std::min(data.size(), sizeof log->text - 1));
    log->got_by[p.worker_id()]++;
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->got_by[1].load() == 1; }));
  ASSERT_TRUE(manager.stop());
  EXPECT_EQ(log->got_by[0].load(), 0);
  EXPECT_STREQ(log->text, "to-one");
}

TEST_F(Pool, POOL6_SendToMissingWorkerIsAnErrorNeverACrash) {
  struct Log {
    std::atomic<int> code, alive;
  };
  Shared<Log> log;
  auto pool = make_pool({.worker_num = 2, .ipc = PoolIpc::unixsock});
  Status before = pool->send_message("x", 0);
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, errc::not_started);
  ASSERT_TRUE(pool->on_worker_start([&log](procspec::Pool& p, int id) {
    if (id != 0) return;
    Status st = p.send_message("x", 99);
    log->code = st ? -1 : (st.error().code == errc::unknown_worker ? 1 : 2);
    Status neg = p.send_message("x", -1);
    log->alive = neg ? 0 : 1;  // still here to tell
  }));
  ASSERT_TRUE(pool->on_message([](procspec::Pool&, std::string_view) {}));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return log->alive.load() == 1; }));
  EXPECT_EQ(log->code.load(), 1);
  ASSERT_TRUE(manager.stop());
}

// A blocking client: sends `header` then `body`, returns everything read until EOF.
std::string framed_call(std::uint16_t port, std::uint32_t header, std::string_view body, int family = AF_INET) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  PROCSPEC_CHECK(fd >= 0, "client socket");
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    const std::uint32_t be = htonl(header);
    std::string req(reinterpret_cast<const char*>(&be), 4);
    req.append(body);
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

std::string framed(std::string_view body) {
  const std::uint32_t be = htonl(static_cast<std::uint32_t>(body.size()));
  return std::string(reinterpret_cast<const char*>(&be), 4) + std::string(body);
}

TEST_F(Pool, POOL7_SocketRequestGetsOneFramedAnswerThenClose) {
  Shared<std::atomic<int>> calls;
  auto pool = make_pool({.worker_num = 2, .ipc = PoolIpc::socket});
  auto port = pool->listen("127.0.0.1", 0);
  ASSERT_TRUE(port) << port.error().message;
  ASSERT_NE(*port, 0);
  auto again = pool->listen("127.0.0.1", 0);
  ASSERT_FALSE(again);
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) {}));
  ASSERT_TRUE(pool->on_message([&calls](procspec::Pool& p, std::string_view data) {
    (*calls)++;
    (void)p.write("echo:");
    (void)p.write(data);
  }));
  ManagerChild manager(*pool);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(framed_call(*port, 4, "ping"), framed("echo:ping")) << "request " << i;
  }
  // Length 0 and a length above the 2 MiB default close the connection without a callback.
  EXPECT_EQ(framed_call(*port, 0, ""), "");
  EXPECT_EQ(framed_call(*port, 3u << 20, "abc"), "");
  EXPECT_EQ(calls->load(), 5);
  ASSERT_TRUE(manager.stop());
}

TEST_F(Pool, POOL7_SocketListensOnIpv6Loopback) {
  auto pool = make_pool({.worker_num = 1, .ipc = PoolIpc::socket});
  auto port = pool->listen("::1", 0);
  if (!port) GTEST_SKIP() << "no IPv6 loopback: " << port.error().message;
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) {}));
  ASSERT_TRUE(pool->on_message([](procspec::Pool& p, std::string_view data) { (void)p.write(data); }));
  ManagerChild manager(*pool);
  EXPECT_EQ(framed_call(*port, 2, "v6", AF_INET6), framed("v6"));
  auto bad = make_pool({.worker_num = 1, .ipc = PoolIpc::socket})->listen("localhost", 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  ASSERT_TRUE(manager.stop());
}

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

struct ExitLog {
  std::atomic<int> count;
  std::atomic<int> id, code, signal;
  std::atomic<pid_t> pid;
};

void record_exits(procspec::Pool& pool, ExitLog* log) {
  ASSERT_TRUE(pool.on_worker_error([log](procspec::Pool&, const WorkerExit& e) {
    log->id = e.worker_id;
    log->pid = e.pid;
    log->code = e.exit_code;
    log->signal = e.signal;
    log->count++;
  }));
}

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

TEST_F(Pool, POOL12_GetProcessReturnsNewPidsAfterSimultaneousKills) {
  constexpr int kWorkers = 4;
  auto pool = make_pool({.worker_num = kWorkers});
  ASSERT_TRUE(pool->on_worker_start([](procspec::Pool&, int) { idle_forever(); }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, kWorkers); }));
  std::vector<pid_t> old;
  for (int i = 0; i < kWorkers; ++i) old.push_back(*pool->get_process(i));
  for (pid_t pid : old) ::kill(pid, SIGKILL);
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < kWorkers; ++i) {
      auto p = pool->get_process(i);
      if (!p || *p == old[static_cast<std::size_t>(i)]) return false;
    }
    return true;
  }));
  for (int i = 0; i < kWorkers; ++i) {
    EXPECT_EQ(pool->worker_info(i)->restarts, 1) << "worker " << i;
    EXPECT_TRUE(pid_gone(old[static_cast<std::size_t>(i)]));
  }
  auto missing = pool->get_process(kWorkers + 5);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, errc::unknown_worker);
  ASSERT_TRUE(manager.stop());
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

// spec: POOL-12 MQ-5
TEST_F(Pool, POOL3_FaultKill9WhileMessagesFlowLosesNoQueuedMessage) {
  constexpr int kJobs = 3000;
  constexpr int kWorkers = 3;
  struct Counts {
    std::atomic<int> taken[kJobs];
    std::atomic<int> done[kJobs];
    std::atomic<int> busy[kWorkers];  // a killed worker's flag is cleared by its replacement
  };
  Shared<Counts> c;
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto pool = make_pool({.worker_num = kWorkers, .ipc = PoolIpc::msgqueue, .healthy_uptime = 0ms});
  ASSERT_TRUE(pool->on_worker_start([&c](procspec::Pool&, int id) { c->busy[id] = 0; }));
  ASSERT_TRUE(pool->on_message([&c](procspec::Pool& p, std::string_view data) {
    const int i = std::stoi(std::string(data));
    c->busy[p.worker_id()] = 1;
    c->taken[i]++;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    c->done[i]++;
    c->busy[p.worker_id()] = 0;
  }));
  ManagerChild manager(*pool);
  ASSERT_TRUE(eventually([&] { return all_started(*pool, kWorkers); }));
  int kills = 0;
  std::vector<pid_t> killed;
  for (int i = 0; i < kJobs; ++i) {
    send_job(pool->msgqueue_id(), i);
    if (i % 100 == 50) {
      // The victim is a live worker that was not killed before (kill() succeeds on a zombie
      // that is still waiting to be reaped, so "not yet replaced" must be excluded).
      const int victim = static_cast<int>(rng() % kWorkers);
      auto fresh = [&] {
        auto pid = pool->get_process(victim);
        return pid && std::find(killed.begin(), killed.end(), *pid) == killed.end();
      };
      ASSERT_TRUE(eventually(fresh));
      const pid_t pid = *pool->get_process(victim);
      ASSERT_EQ(::kill(pid, SIGKILL), 0);
      killed.push_back(pid);
      ++kills;
    }
  }
  auto queued = [&] {
    msqid_ds ds{};
    return ::msgctl(pool->msgqueue_id(), IPC_STAT, &ds) == 0 ? static_cast<long>(ds.msg_qnum) : -1L;
  };
  auto idle = [&] {
    for (int w = 0; w < kWorkers; ++w) {
      if (c->busy[w].load() != 0) return false;
    }
    return true;
  };
  ASSERT_TRUE(eventually([&] { return all_started(*pool, kWorkers) && queued() == 0 && idle(); }, 30s));
  ASSERT_TRUE(manager.stop());
  int duplicates = 0, lost = 0;
  for (int i = 0; i < kJobs; ++i) {
    duplicates += c->taken[i].load() > 1 ? 1 : 0;
    lost += c->done[i].load() == 0 ? 1 : 0;
  }
  std::printf("fault: %d jobs, %d kill -9, %d processed, %d lost in flight, %d duplicates\n", kJobs, kills,
              kJobs - lost, lost, duplicates);
  RecordProperty("kills", kills);
  RecordProperty("lost_in_flight", lost);
  EXPECT_EQ(kills, kJobs / 100);
  EXPECT_EQ(duplicates, 0);
  // Only the message a worker held when it was killed can be lost; everything still queued is
  // processed exactly once by the survivors and the replacements.
  EXPECT_LE(lost, kills);
}

}  // namespace
}  // namespace procspec::test

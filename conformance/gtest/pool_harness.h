#pragma once
// Shared by the Pool test programs: a child that becomes the manager (so the test process's own
// signal mask and dispositions are never touched), counters in shared memory that workers and
// the manager write, bounded polling, and the leak-checked fixture. The pool is observed through
// its shared worker table: get_process / worker_info work from the process that created it.
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

#include "pool/manager.h"
#include "procspec/event_loop.h"
#include "procspec/pool.h"
#include "procspec/signals.h"
#include "procspec/timer.h"
#include "procspec/user_process.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec::test {

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
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
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

inline std::unique_ptr<procspec::Pool> make_pool(PoolOptions o) {
  auto pool = procspec::Pool::create(o);
  PROCSPEC_CHECK(pool.has_value(), "Pool::create in a test");
  return std::move(*pool);
}

inline bool all_started(const procspec::Pool& pool, int n) {
  for (int i = 0; i < n; ++i) {
    if (!pool.get_process(i)) return false;
  }
  return true;
}

// True once every worker 0..old.size()-1 runs under a pid other than the one in `old`.
inline bool all_replaced(const procspec::Pool& pool, const std::vector<pid_t>& old) {
  for (std::size_t i = 0; i < old.size(); ++i) {
    auto p = pool.get_process(static_cast<int>(i));
    if (!p || *p == old[i]) return false;
  }
  return true;
}

inline bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

[[noreturn]] inline void idle_forever() {
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

inline void send_job(int qid, int index) {
  MsgBuf m{1, {}};
  const int n = std::snprintf(m.text, sizeof m.text, "%d", index);
  while (::msgsnd(qid, &m, static_cast<std::size_t>(n), 0) != 0) {
    PROCSPEC_CHECK(errno == EINTR, "msgsnd in a test");
  }
}

struct ExitLog {
  std::atomic<int> count;
  std::atomic<int> id, code, signal;
  std::atomic<pid_t> pid;
};

inline void record_exits(procspec::Pool& pool, ExitLog* log) {
  ASSERT_TRUE(pool.on_worker_error([log](procspec::Pool&, const WorkerExit& e) {
    log->id = e.worker_id;
    log->pid = e.pid;
    log->code = e.exit_code;
    log->signal = e.signal;
    log->count++;
  }));
}


}  // namespace procspec::test

// Pool benchmarks.
//   BM_Pool_RestartLatency: a worker is SIGKILLed → its replacement runs WorkerStart. The time
//     covers the manager's SIGCHLD wake-up, reaping, fork and the child's set-up. Manual time per
//     kill; median and p99 of the run are reported as counters (back-off disabled).
//     BM_Pool_RestartLatency_Raw does the same cycle inline, without a manager: the floor.
//   BM_PoolMsgQueue_OneWay/BYTES/WORKERS: messages sent with msgsnd to a msgqueue pool and taken
//     by its workers, beside BM_PoolMsgQueue_OneWay_Raw/BYTES/1: the same queue drained by one
//     plain forked msgrcv loop. Every consumer verifies every payload (sequence + pattern); a
//     mismatch fails the benchmark. The queue holds at most msgmnb bytes, so the sender runs at
//     the consumers' pace; the backlog left at the end (< msgmnb) is not timed.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "procspec/log.h"
#include "procspec/pool.h"
#include "support/context.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

template <class T>
T* shared_object() {
  void* mem = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return mem == MAP_FAILED ? nullptr : new (mem) T();
}
template <class T>
void release(T* p) {
  ::munmap(p, sizeof(T));
}

pid_t fork_manager(procspec::Pool& pool) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    procspec::Status st = pool.start();
    ::_exit(st ? 0 : 1);
  }
  return pid;
}

void stop_manager(pid_t pid) {
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(50us);
  }
  return true;
}

// True once a byte arrived on fd (a started worker or child says so), within 5 s.
bool byte_arrives(int fd) {
  pollfd p{fd, POLLIN, 0};
  char c;
  return ::poll(&p, 1, 5000) == 1 && ::read(fd, &c, 1) == 1;
}

// One restart's time since t0: the iteration's manual time and one sample.
void record_restart(benchmark::State& state, std::vector<double>& samples, Clock::time_point t0) {
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  samples.push_back(s);
  state.SetIterationTime(s);
}

void set_restart_counters(benchmark::State& state, std::vector<double>& samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  state.counters["median_us"] = samples[samples.size() / 2] * 1e6;
  state.counters["p99_us"] = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)] * 1e6;
}

void BM_Pool_RestartLatency(benchmark::State& state) {
  procspec::LogCapture quiet;  // one "killed by SIGKILL" warning per iteration
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return state.SkipWithError("pipe");
  auto* current = shared_object<std::atomic<pid_t>>();
  procspec::PoolOptions o;
  o.worker_num = 1;
  o.healthy_uptime = 0ms;  // measure the restart path, not the back-off
  auto pool = procspec::Pool::create(o);
  if (!pool || !current) return state.SkipWithError("Pool::create");
  const int notify = fds[1];
  (void)(*pool)->on_worker_start([current, notify](procspec::Pool&, int) {
    *current = ::getpid();
    char c = 1;
    (void)!::write(notify, &c, 1);
    for (;;) ::pause();
  });
  const pid_t manager = fork_manager(**pool);
  std::vector<double> samples;
  if (!byte_arrives(fds[0])) state.SkipWithError("the first worker did not start");
  for (auto _ : state) {
    const pid_t victim = current->load();
    const auto t0 = Clock::now();
    ::kill(victim, SIGKILL);
    if (!byte_arrives(fds[0])) {
      state.SkipWithError("no replacement within 5 s");
      break;
    }
    record_restart(state, samples, t0);
  }
  stop_manager(manager);
  ::close(fds[0]);
  ::close(fds[1]);
  release(current);
  set_restart_counters(state, samples);
}
BENCHMARK(BM_Pool_RestartLatency)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The floor: the same kill → reap → fork → child-writes-a-byte cycle done inline by the
// benchmark process itself (no manager, no signalfd, no pool).
void BM_Pool_RestartLatency_Raw(benchmark::State& state) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return state.SkipWithError("pipe");
  auto spawn = [&] {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      char c = 1;
      (void)!::write(fds[1], &c, 1);
      for (;;) ::pause();
    }
    return pid;
  };
  pid_t child = spawn();
  std::vector<double> samples;
  if (!byte_arrives(fds[0])) state.SkipWithError("the first child did not start");
  for (auto _ : state) {
    const auto t0 = Clock::now();
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    child = spawn();
    if (!byte_arrives(fds[0])) {
      state.SkipWithError("no replacement within 5 s");
      break;
    }
    record_restart(state, samples, t0);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(fds[0]);
  ::close(fds[1]);
  set_restart_counters(state, samples);
}
BENCHMARK(BM_Pool_RestartLatency_Raw)->UseManualTime()->Unit(benchmark::kMicrosecond);

struct Tally {
  std::atomic<long> processed{0};
  std::atomic<long> errors{0};
};

constexpr long kStopType = 2;

struct Msg {
  long mtype;
  char text[65536];
};

void fill(char* text, std::size_t bytes, std::uint64_t seq) {
  std::memcpy(text, &seq, sizeof seq);
  for (std::size_t i = sizeof seq; i < bytes; ++i) text[i] = static_cast<char>((seq + i) & 0xff);
}

bool verify(std::string_view data, std::size_t bytes) {
  if (data.size() != bytes || bytes < sizeof(std::uint64_t)) return false;
  std::uint64_t seq;
  std::memcpy(&seq, data.data(), sizeof seq);
  for (std::size_t i = sizeof seq; i < bytes; ++i) {
    if (data[i] != static_cast<char>((seq + i) & 0xff)) return false;
  }
  return true;
}

// Sends one message per iteration, then waits (untimed) for the consumers to catch up.
void send_loop(benchmark::State& state, int qid, std::size_t bytes, Tally* tally) {
  auto* m = new Msg;
  m->mtype = 1;
  long sent = 0;
  for (auto _ : state) {
    fill(m->text, bytes, static_cast<std::uint64_t>(sent));
    while (::msgsnd(qid, m, bytes, 0) != 0) {
      if (errno != EINTR) {
        state.SkipWithError("msgsnd");
        delete m;
        return;
      }
    }
    ++sent;
  }
  delete m;
  if (!wait_until([&] { return tally->processed.load() == sent; }, 10s)) state.SkipWithError("consumers stalled");
  if (tally->errors.load() != 0) state.SkipWithError("payload mismatch at the consumer");
  state.SetItemsProcessed(sent);
  state.SetBytesProcessed(sent * static_cast<long>(bytes));
}

void BM_PoolMsgQueue_OneWay(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  procspec::PoolOptions o;
  o.worker_num = static_cast<int>(state.range(1));
  o.ipc = procspec::PoolIpc::msgqueue;
  auto pool = procspec::Pool::create(o);
  auto* tally = shared_object<Tally>();
  if (!pool || !tally) return state.SkipWithError("Pool::create");
  (void)(*pool)->on_worker_start([](procspec::Pool&, int) {});
  (void)(*pool)->on_message([tally, bytes](procspec::Pool&, std::string_view data) {
    if (!verify(data, bytes)) tally->errors++;
    tally->processed++;
  });
  const pid_t manager = fork_manager(**pool);
  send_loop(state, (*pool)->msgqueue_id(), bytes, tally);
  stop_manager(manager);
  release(tally);
}
BENCHMARK(BM_PoolMsgQueue_OneWay)->Args({64, 1})->Args({64, 2})->Args({1024, 1})->Args({1024, 2})->UseRealTime();

void BM_PoolMsgQueue_OneWay_Raw(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const int qid = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  auto* tally = shared_object<Tally>();
  if (qid < 0 || !tally) return state.SkipWithError("msgget");
  std::fflush(nullptr);
  const pid_t consumer = ::fork();
  if (consumer == 0) {
    auto* m = new Msg;
    for (;;) {
      ssize_t n = ::msgrcv(qid, m, sizeof m->text, 0, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        ::_exit(1);
      }
      if (m->mtype == kStopType) ::_exit(0);
      if (!verify(std::string_view(m->text, static_cast<std::size_t>(n)), bytes)) tally->errors++;
      tally->processed++;
    }
  }
  send_loop(state, qid, bytes, tally);
  Msg stop{kStopType, {}};
  (void)::msgsnd(qid, &stop, 1, 0);
  ::waitpid(consumer, nullptr, 0);
  ::msgctl(qid, IPC_RMID, nullptr);
  release(tally);
}
BENCHMARK(BM_PoolMsgQueue_OneWay_Raw)->Args({64, 1})->Args({1024, 1})->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return procspec::bench::run_main(argc, argv); }

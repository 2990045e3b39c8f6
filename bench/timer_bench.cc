// Timer scheduling and signal delivery.
//  BM_Timer_AddFire/N      one add + one fire with N timers pending, on the heap behind Timer
//                          (virtual clock, so the figure is the data structure, not sleeping)
//  BM_Timer_AddFire_Raw/N  the same with a bare std::priority_queue of (deadline, id): the floor
//  BM_Signal_Latency       kill() in another process → procspec handler running in the loop;
//                          counters median_ns and p99_ns over every iteration of the run
//  BM_Signal_Latency_Raw   kill() → sigwaitinfo() returning in the target: the kernel's floor
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <vector>

#include "base/after_fork.h"
#include "loop/timer_heap.h"
#include "procspec/event_loop.h"
#include "procspec/signals.h"
#include "support/context.h"

namespace {

using procspec::TimerId;
using procspec::detail::TimePoint;
using procspec::detail::TimerHeap;

// More intervals than pending timers, so the prefill never repeats a deadline.
constexpr std::size_t kIntervals = 1 << 18;

// The same pseudo-random intervals (1 ms .. N ms, nanosecond grain so deadlines practically never
// tie) for both variants: every iteration adds one timer and fires exactly one, so N stay pending.
std::vector<std::chrono::nanoseconds> intervals(std::int64_t pending) {
  std::mt19937_64 rng(42);
  std::vector<std::chrono::nanoseconds> out(kIntervals);
  const auto span = static_cast<std::uint64_t>(pending) * 1'000'000;
  for (auto& d : out) d = std::chrono::nanoseconds(1'000'000 + static_cast<std::int64_t>(rng() % span));
  return out;
}

void BM_Timer_AddFire(benchmark::State& state) {
  const auto pending = state.range(0);
  const auto gaps = intervals(pending);
  TimerHeap heap;
  std::uint64_t fired = 0;
  TimePoint now{};
  TimerId next_id = 1;
  std::size_t g = 0;
  auto cb = [&fired](TimerId) { ++fired; };
  for (std::int64_t i = 0; i < pending; ++i) heap.add(next_id++, now + gaps[g++ % kIntervals], {}, cb);
  for (auto _ : state) {
    heap.add(next_id++, now + gaps[g++ % kIntervals], {}, cb);
    now = *heap.next_deadline();
    heap.fire_due(now);
  }
  benchmark::DoNotOptimize(fired);
  if (fired < static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("fewer timers fired than added");
  state.counters["pending"] = static_cast<double>(heap.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Timer_AddFire)->Arg(1000)->Arg(100000);

void BM_Timer_AddFire_Raw(benchmark::State& state) {
  const auto pending = state.range(0);
  const auto gaps = intervals(pending);
  using Entry = std::pair<TimePoint, TimerId>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  std::uint64_t fired = 0;
  TimePoint now{};
  TimerId next_id = 1;
  std::size_t g = 0;
  for (std::int64_t i = 0; i < pending; ++i) heap.emplace(now + gaps[g++ % kIntervals], next_id++);
  for (auto _ : state) {
    heap.emplace(now + gaps[g++ % kIntervals], next_id++);
    now = heap.top().first;
    while (!heap.empty() && heap.top().first <= now) {
      heap.pop();
      ++fired;
    }
  }
  benchmark::DoNotOptimize(fired);
  state.counters["pending"] = static_cast<double>(heap.size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Timer_AddFire_Raw)->Arg(1000)->Arg(100000);

std::int64_t mono_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void report_latency(benchmark::State& state, std::vector<std::int64_t>& samples) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  state.counters["median_ns"] = static_cast<double>(samples[samples.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(samples[std::min(samples.size() - 1, samples.size() * 99 / 100)]);
  state.SetItemsProcessed(static_cast<std::int64_t>(samples.size()));
}

// The sender: on each byte from `go` it stamps CLOCK_MONOTONIC (system-wide, so comparable across
// processes), sends signo to the target, and writes the stamp back.
struct Sender {
  pid_t pid = -1;
  int go = -1;
  int stamps = -1;

  static Sender start(int signo) {
    int go_fds[2], stamp_fds[2];
    if (::pipe2(go_fds, O_CLOEXEC) != 0 || ::pipe2(stamp_fds, O_CLOEXEC) != 0) return {};
    const pid_t target = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      procspec::detail::run_after_fork_child_hooks();
      ::close(go_fds[1]);
      ::close(stamp_fds[0]);
      char c = 0;
      while (::read(go_fds[0], &c, 1) == 1) {
        const std::int64_t t0 = mono_ns();
        if (::kill(target, signo) != 0) ::_exit(1);
        if (::write(stamp_fds[1], &t0, sizeof t0) != sizeof t0) ::_exit(2);
      }
      ::_exit(0);
    }
    ::close(go_fds[0]);
    ::close(stamp_fds[1]);
    return Sender{pid, go_fds[1], stamp_fds[0]};
  }
  bool fire() const { return ::write(go, "g", 1) == 1; }
  bool stamp(std::int64_t& t0) const { return ::read(stamps, &t0, sizeof t0) == sizeof t0; }
  void finish() const {
    ::close(go);  // EOF ends the sender
    ::close(stamps);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
};

void BM_Signal_Latency(benchmark::State& state) {
  auto loop_r = procspec::EventLoop::create();
  if (!loop_r) return state.SkipWithError("EventLoop::create failed");
  auto& loop = **loop_r;
  loop.set_wait_signal(true);
  std::int64_t t1 = 0;
  if (!procspec::Signals::set(SIGUSR1, [&](int) {
        t1 = mono_ns();
        loop.stop();
      })) {
    return state.SkipWithError("Signals::set failed");
  }
  const Sender sender = Sender::start(SIGUSR1);
  if (sender.pid <= 0) return state.SkipWithError("fork failed");
  std::vector<std::int64_t> samples;
  for (auto _ : state) {
    std::int64_t t0 = 0;
    if (!sender.fire() || !loop.run() || !sender.stamp(t0)) {
      state.SkipWithError("sender or loop failed");
      break;
    }
    samples.push_back(t1 - t0);
  }
  sender.finish();
  static_cast<void>(procspec::Signals::remove(SIGUSR1));
  report_latency(state, samples);
}
BENCHMARK(BM_Signal_Latency)->UseRealTime();

void BM_Signal_Latency_Raw(benchmark::State& state) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  ::pthread_sigmask(SIG_BLOCK, &set, &old);
  const Sender sender = Sender::start(SIGUSR2);
  if (sender.pid <= 0) return state.SkipWithError("fork failed");
  std::vector<std::int64_t> samples;
  for (auto _ : state) {
    std::int64_t t0 = 0;
    if (!sender.fire() || ::sigwaitinfo(&set, nullptr) != SIGUSR2) {
      state.SkipWithError("sigwaitinfo failed");
      break;
    }
    const std::int64_t t1 = mono_ns();
    if (!sender.stamp(t0)) break;
    samples.push_back(t1 - t0);
  }
  sender.finish();
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  report_latency(state, samples);
}
BENCHMARK(BM_Signal_Latency_Raw)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return procspec::bench::run_main(argc, argv); }

// Process IPC: procspec::Process::write → read (stream and message pipes) and MsgQueue
// push → pop, each beside the raw syscall loop on the same kernel object with the same buffer
// sizes. One way: a forked child sends numbered messages as fast as it can; the benchmark
// thread receives and verifies each one (sequence + checksum, IPC-3). The child is forked once
// per benchmark call, outside the timed loop, and reports its own getrusage deltas at the end.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "procspec/log.h"
#include "procspec/msg_queue.h"
#include "procspec/process.h"
#include "support/context.h"
#include "support/cpu.h"
#include "support/million.h"
#include "support/rusage.h"

namespace {

using procspec::MsgQueue;
using procspec::PipeType;
using procspec::Process;
using procspec::ProcessOptions;

constexpr int kSocketBuffer = 2 << 20;  // what Process asks for, so raw runs on equal terms

// Layout: [seq u64][xor of the words below u64][words w_i = seq * K + i ...]; sizes are
// multiples of 8 and at least 16.
constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;

void fill(char* buf, std::size_t size, std::uint64_t seq) {
  std::uint64_t x = 0;
  for (std::size_t off = 16, i = 0; off + 8 <= size; off += 8, ++i) {
    std::uint64_t w = seq * kMul + i;
    std::memcpy(buf + off, &w, 8);
    x ^= w;
  }
  std::memcpy(buf, &seq, 8);
  std::memcpy(buf + 8, &x, 8);
}

bool check(const char* buf, std::size_t len, std::size_t size, std::uint64_t seq) {
  if (len != size) return false;
  std::uint64_t got_seq, sum, x = 0;
  std::memcpy(&got_seq, buf, 8);
  std::memcpy(&sum, buf + 8, 8);
  for (std::size_t off = 16, i = 0; off + 8 <= size; off += 8, ++i) {
    std::uint64_t w;
    std::memcpy(&w, buf + off, 8);
    if (w != seq * kMul + i) return false;
    x ^= w;
  }
  return got_seq == seq && sum == x;
}

using procspec::bench::thread_usage;
using procspec::bench::Usage;

struct ChildReport {
  std::uint64_t sent = 0;
  Usage usage;  // voluntary switches and CPU time of the sender over its whole run
};

// PROCSPEC_BENCH_PIN=1: the receiving benchmark thread and the sending child on two CPUs of
// their own for the whole run, so each run's ratio does not depend on where the scheduler put
// them (on 2 vCPUs, the two sides on one CPU changes how often they block).
struct ReceiverPlacement {
  ReceiverPlacement() {
    if (procspec::bench::cpu_plan().pin) procspec::bench::pin_current_thread(procspec::bench::cpu_plan().self_cpu);
  }
  ~ReceiverPlacement() {
    if (procspec::bench::cpu_plan().pin) procspec::bench::unpin_current_thread();
  }
  ReceiverPlacement(const ReceiverPlacement&) = delete;
  ReceiverPlacement& operator=(const ReceiverPlacement&) = delete;
};

void place_sender() {
  if (procspec::bench::cpu_plan().pin) procspec::bench::pin_current_thread(procspec::bench::cpu_plan().peer_cpu);
}

// The sending child: runs `send_seq(seq)` for seq = 0, 1, ... until it fails (the receiver went
// away), then writes its report to `report_fd`.
void run_sender_loop(int report_fd, const std::function<bool(std::uint64_t)>& send_seq) {
  // The end of a run is the receiver removing the channel: not worth a warning here.
  procspec::set_log_level(procspec::LogLevel::error);
  place_sender();
  const Usage u0 = thread_usage();
  std::uint64_t seq = 0;
  while (send_seq(seq)) ++seq;
  ChildReport r{seq, thread_usage() - u0};
  (void)!::write(report_fd, &r, sizeof r);
}

// The same, for a sender that takes a filled buffer: `send_one(buf, seq)`.
void run_sender(int report_fd, std::size_t size, const std::function<bool(const char*, std::uint64_t)>& send_one) {
  std::string buf(size, '\0');
  run_sender_loop(report_fd, [&](std::uint64_t seq) {
    fill(buf.data(), size, seq);
    return send_one(buf.data(), seq);
  });
}

// Ends the sender (the caller already made its next send fail), collects its report.
ChildReport collect(int report_fd, pid_t pid, const std::function<void()>& stop) {
  stop();
  ChildReport r;
  pollfd pfd{report_fd, POLLIN, 0};
  if (::poll(&pfd, 1, 5000) == 1) (void)!::read(report_fd, &r, sizeof r);
  ::kill(pid, SIGKILL);  // no-op if it already left; bounded either way
  while (::waitpid(pid, nullptr, 0) == -1 && errno == EINTR) {
  }
  ::close(report_fd);
  return r;
}

// Per message, both sides: voluntary switches, and CPU time (less sensitive than real time to
// the other tenants of a loaded machine, so it shows what each side's code costs).
void set_counters(benchmark::State& state, std::size_t size, const Usage& recv_usage, const ChildReport& child) {
  const auto n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
  const auto sent = static_cast<double>(child.sent);
  auto per = [](std::int64_t v, double count) { return count > 0 ? static_cast<double>(v) / count : 0.0; };
  const double recv = per(recv_usage.voluntary_switches, n);
  const double send = per(child.usage.voluntary_switches, sent);
  state.counters["recv_vcsw_per_msg"] = recv;
  state.counters["send_vcsw_per_msg"] = send;
  state.counters["vcsw_per_msg"] = recv + send;
  const double recv_cpu = per(recv_usage.cpu_ns, n) / 1000.0;
  const double send_cpu = per(child.usage.cpu_ns, sent) / 1000.0;
  state.counters["recv_cpu_us_per_msg"] = recv_cpu;
  state.counters["send_cpu_us_per_msg"] = send_cpu;
}

bool make_report_pipe(benchmark::State& state, int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) == 0) return true;
  state.SkipWithError("pipe2 failed");
  return false;
}

// --- procspec::Process pipes ---------------------------------------------------------------
void process_pipe(benchmark::State& state, PipeType type) {
  const ReceiverPlacement placed;
  const auto size = static_cast<std::size_t>(state.range(0));
  int rep[2];
  if (!make_report_pipe(state, rep)) return;
  ProcessOptions o;
  o.pipe_type = type;
  auto p = Process::create([&](Process& self) {
    ::close(rep[0]);
    run_sender(rep[1], size, [&](const char* buf, std::uint64_t) { return self.write({buf, size}).has_value(); });
  }, o);
  if (!p || !p->start()) {
    state.SkipWithError("Process::create/start failed");
    return;
  }
  ::close(rep[1]);
  const Usage u0 = thread_usage();
  std::uint64_t seq = 0;
  // Buffers reused across messages, as the raw loop reuses its one (read_into keeps capacity).
  std::string msg, more;
  for (auto _ : state) {
    auto r = p->read_into(msg, static_cast<std::ptrdiff_t>(size));
    if (r && type == PipeType::uds_stream) {
      while (r && *r > 0 && msg.size() < size) {  // a stream may deliver a message in pieces
        r = p->read_into(more, static_cast<std::ptrdiff_t>(size - msg.size()));
        if (r) msg.append(more);
      }
    }
    if (!r || !check(msg.data(), msg.size(), size, seq)) {
      state.SkipWithError(("payload mismatch at msg " + std::to_string(seq)).c_str());
      break;
    }
    ++seq;
  }
  const Usage recv = thread_usage() - u0;
  ChildReport child = collect(rep[0], p->pid(), [&] { (void)p->close(procspec::PipeSide::both); });
  p->detach();  // collect() reaped it
  set_counters(state, size, recv, child);
}

void BM_UdsStream_OneWay(benchmark::State& state) { process_pipe(state, PipeType::uds_stream); }
void BM_UdsDgram_OneWay(benchmark::State& state) { process_pipe(state, PipeType::uds_dgram); }

// --- raw socketpair ------------------------------------------------------------------------
void raw_socket(benchmark::State& state, int type) {
  const ReceiverPlacement placed;
  const auto size = static_cast<std::size_t>(state.range(0));
  int sv[2], rep[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == -1) {
    state.SkipWithError("socketpair failed");
    return;
  }
  for (int fd : sv) {
    int b = kSocketBuffer;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof b);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof b);
  }
  if (!make_report_pipe(state, rep)) return;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    ::close(rep[0]);
    run_sender(rep[1], size, [&](const char* buf, std::uint64_t) {
      std::size_t done = 0;
      while (done < size) {
        ssize_t n = ::send(sv[1], buf + done, size - done, MSG_NOSIGNAL);
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
      }
      return true;
    });
    ::_exit(0);
  }
  ::close(sv[1]);
  ::close(rep[1]);
  std::string buf(size, '\0');
  const Usage u0 = thread_usage();
  std::uint64_t seq = 0;
  for (auto _ : state) {
    std::size_t got = 0;
    while (got < size) {
      ssize_t n = ::read(sv[0], buf.data() + got, size - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
      if (type != SOCK_STREAM) break;  // one message per read
    }
    if (!check(buf.data(), got, size, seq)) {
      state.SkipWithError(("payload mismatch at msg " + std::to_string(seq)).c_str());
      break;
    }
    ++seq;
  }
  const Usage recv = thread_usage() - u0;
  ChildReport child = collect(rep[0], pid, [&] { ::close(sv[0]); });
  set_counters(state, size, recv, child);
}

void BM_UdsStream_OneWay_Raw(benchmark::State& state) { raw_socket(state, SOCK_STREAM); }
// Process's message pipe is a SOCK_SEQPACKET socketpair (see process.h for why).
void BM_UdsDgram_OneWay_Raw(benchmark::State& state) { raw_socket(state, SOCK_SEQPACKET); }
// For reference: Swoole's SOCK_DGRAM socketpair, which cannot report its peer's death.
void BM_UdsSockDgram_OneWay_Raw(benchmark::State& state) { raw_socket(state, SOCK_DGRAM); }

// --- SysV queues ---------------------------------------------------------------------------
void BM_SysvMsg_OneWay(benchmark::State& state) {
  const ReceiverPlacement placed;
  const auto size = static_cast<std::size_t>(state.range(0));
  int rep[2];
  auto q = MsgQueue::open_private();
  if (!q) {
    state.SkipWithError("msgget failed");
    return;
  }
  if (!make_report_pipe(state, rep)) return;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(rep[0]);
    // Each message is built in place in the queue's send buffer, as the raw sender builds it in
    // its msgbuf: push(string_view) would have to copy it there (msgsnd takes no iovec).
    run_sender_loop(rep[1], [&](std::uint64_t seq) {
      auto area = q->prepare(size);
      if (!area) return false;
      fill(area->data(), size, seq);
      return q->push_prepared(size).has_value();
    });
    ::_exit(0);
  }
  ::close(rep[1]);
  const Usage u0 = thread_usage();
  std::uint64_t seq = 0;
  // pop_view: checked in place in the queue's receive buffer, as the raw loop checks its msgbuf
  // (pop_into would add a copy the raw loop does not make; pop() an allocation too).
  for (auto _ : state) {
    auto r = q->pop_view(static_cast<std::ptrdiff_t>(size));
    if (!r || !check(r->data(), r->size(), size, seq)) {
      state.SkipWithError(("payload mismatch at msg " + std::to_string(seq)).c_str());
      break;
    }
    ++seq;
  }
  const Usage recv = thread_usage() - u0;
  ChildReport child = collect(rep[0], pid, [&] { (void)q->free(); });
  set_counters(state, size, recv, child);
}

void BM_SysvMsg_OneWay_Raw(benchmark::State& state) {
  const ReceiverPlacement placed;
  const auto size = static_cast<std::size_t>(state.range(0));
  int rep[2];
  const int id = ::msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (id == -1) {
    state.SkipWithError("msgget failed");
    return;
  }
  if (!make_report_pipe(state, rep)) {
    ::msgctl(id, IPC_RMID, nullptr);
    return;
  }
  std::string mbuf(sizeof(long) + size, '\0');
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(rep[0]);
    const long type = 1;
    std::memcpy(mbuf.data(), &type, sizeof type);
    // The raw sender builds each message in place inside the msgbuf.
    place_sender();
    std::uint64_t seq = 0;
    const Usage u0 = thread_usage();
    for (;; ++seq) {
      fill(mbuf.data() + sizeof(long), size, seq);
      if (::msgsnd(id, mbuf.data(), size, 0) == -1) break;
    }
    ChildReport r{seq, thread_usage() - u0};
    (void)!::write(rep[1], &r, sizeof r);
    ::_exit(0);
  }
  ::close(rep[1]);
  const Usage u0 = thread_usage();
  std::uint64_t seq = 0;
  for (auto _ : state) {
    ssize_t n = ::msgrcv(id, mbuf.data(), size, 0, 0);
    if (n < 0 || !check(mbuf.data() + sizeof(long), static_cast<std::size_t>(n), size, seq)) {
      state.SkipWithError(("payload mismatch at msg " + std::to_string(seq)).c_str());
      break;
    }
    ++seq;
  }
  const Usage recv = thread_usage() - u0;
  ChildReport child = collect(rep[0], pid, [&] { ::msgctl(id, IPC_RMID, nullptr); });
  set_counters(state, size, recv, child);
}

// --- a million messages parent -> child over Process pipes (issue #9, support/million.h) ------
// Each pipe as a user would drive it: blocking writes, except uds_batch, whose writes are
// non-blocking so that they coalesce (process.h), with a poll for room when it says EAGAIN and a
// flush at the end. The child reads with read_into and verifies every payload.
void process_million(benchmark::State& state, PipeType type) {
  using procspec::bench::kMillion;
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    ProcessOptions o;
    o.pipe_type = type;
    auto p = Process::create([size, type](Process& self) {
      procspec::bench::MillionVerdict v(size);
      std::string msg, more;
      for (std::uint64_t seq = 0; seq < kMillion; ++seq) {
        auto r = self.read_into(msg, static_cast<std::ptrdiff_t>(size));
        while (type == PipeType::uds_stream && r && *r > 0 && msg.size() < size) {  // pieces
          r = self.read_into(more, static_cast<std::ptrdiff_t>(size - msg.size()));
          if (r) msg.append(more);
        }
        if (!r) msg.clear();
        v.add(msg);
      }
      (void)self.write(v.verdict());
    }, o);
    if (!p || !p->start()) return state.SkipWithError("Process::create/start failed");
    const bool batch = type == PipeType::uds_batch;
    if (batch && !p->set_blocking(false)) return state.SkipWithError("set_blocking failed");
    procspec::bench::PayloadWriter writer(size);
    const auto t0 = std::chrono::steady_clock::now();
    bool ok = true;
    for (std::uint64_t seq = 0; ok && seq < kMillion; ++seq) {
      const auto bytes = writer.next(seq);
      const std::string_view msg(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      auto w = p->write(msg);
      while (batch && !w && w.error().code == std::errc::resource_unavailable_try_again) {
        const procspec::PollTarget t = p->writable_target();
        pollfd pfd{t.fd, static_cast<short>(t.events), 0};
        (void)::poll(&pfd, 1, 1000);
        w = p->write(msg);
      }
      ok = w.has_value();
    }
    ok = ok && (!batch || p->set_blocking(true));  // writes the last batch
    auto verdict = ok ? p->read() : procspec::Result<std::string>(std::string("the writes failed"));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    (void)p->join();
    if (!verdict || !procspec::bench::verdict_ok(*verdict)) {
      return state.SkipWithError(verdict ? verdict->c_str() : verdict.error().message.c_str());
    }
    state.SetIterationTime(took.count());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(procspec::bench::kMillion));
}

void raw_million(benchmark::State& state, int type) {
  for (auto _ : state) {
    auto took = procspec::bench::million_raw_socketpair(type, static_cast<std::size_t>(state.range(0)), kSocketBuffer);
    if (!took) return state.SkipWithError(took.error().message.c_str());
    state.SetIterationTime(*took);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(procspec::bench::kMillion));
}

void BM_ProcessUdsDgram_Million(benchmark::State& s) { process_million(s, PipeType::uds_dgram); }
void BM_ProcessUdsStream_Million(benchmark::State& s) { process_million(s, PipeType::uds_stream); }
void BM_ProcessUdsBatch_Million(benchmark::State& s) { process_million(s, PipeType::uds_batch); }
void BM_ProcessShmRing_Million(benchmark::State& s) { process_million(s, PipeType::shm_ring); }
// The floor: Swoole's Process pipe (a SOCK_DGRAM socketpair), and a stream read back exactly.
void BM_UdsSockDgram_Million_Raw(benchmark::State& s) { raw_million(s, SOCK_DGRAM); }
void BM_UdsStream_Million_Raw(benchmark::State& s) { raw_million(s, SOCK_STREAM); }

BENCHMARK(BM_UdsStream_OneWay)->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
BENCHMARK(BM_UdsStream_OneWay_Raw)->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
BENCHMARK(BM_UdsDgram_OneWay)->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
BENCHMARK(BM_UdsDgram_OneWay_Raw)->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
BENCHMARK(BM_UdsSockDgram_OneWay_Raw)->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
// 8 KiB is the kernel's default msgmax: the largest SysV message.
BENCHMARK(BM_SysvMsg_OneWay)->Arg(64)->Arg(1024)->Arg(8192)->UseRealTime();
BENCHMARK(BM_SysvMsg_OneWay_Raw)->Arg(64)->Arg(1024)->Arg(8192)->UseRealTime();
#define PROCSPEC_MILLION(fn) BENCHMARK(fn)->Arg(1024)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond)
PROCSPEC_MILLION(BM_ProcessUdsDgram_Million);
PROCSPEC_MILLION(BM_ProcessUdsStream_Million);
PROCSPEC_MILLION(BM_ProcessUdsBatch_Million);
PROCSPEC_MILLION(BM_ProcessShmRing_Million);
PROCSPEC_MILLION(BM_UdsSockDgram_Million_Raw);
PROCSPEC_MILLION(BM_UdsStream_Million_Raw);

}  // namespace

int main(int argc, char** argv) { return procspec::bench::run_main(argc, argv); }

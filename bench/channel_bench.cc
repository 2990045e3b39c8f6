// Reactor->worker channels through procspec's Channel (IPC-1), one-way throughput and ping-pong
// round trips, for each implementation. The raw-syscall floors (`..._Raw`) live in ipc_bench.cc.
//
// The peer (a forked child; a thread for the thread channel) is started once per benchmark run,
// outside the timed loop. It learns the message count from a first control message, verifies
// every payload (IPC-3: sequence in the header and the first 8 bytes, the rest compared byte for
// byte with the pattern) and reports the first mismatch back, which becomes SkipWithError.
// One-way time stops when the sender has handed over its last message; the channel's buffer
// (at most a few hundred KiB) is small against the megabytes each run moves.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "base/after_fork.h"
#include "procspec/channel.h"
#include "support/context.h"
#include "support/million.h"

namespace procspec {
namespace {

// The payload check the lead will move to bench/support once both IPC benches agree on one.
class Pattern {
 public:
  explicit Pattern(std::size_t size) : bytes_(size, '\0') {
    for (std::size_t i = 0; i < size; ++i) bytes_[i] = static_cast<char>(i * 131 + 7);
  }
  std::string_view stamp(std::uint64_t seq) {
    if (bytes_.size() >= sizeof seq) std::memcpy(bytes_.data(), &seq, sizeof seq);
    return bytes_;
  }
  bool matches(const Message& m, std::uint64_t seq) const {
    if (m.header.session_id != seq || m.payload.size() != bytes_.size()) return false;
    const std::size_t head = bytes_.size() >= sizeof seq ? sizeof seq : 0;
    if (head && std::memcmp(m.payload.data(), &seq, sizeof seq) != 0) return false;
    return std::memcmp(m.payload.data() + head, bytes_.data() + head, bytes_.size() - head) == 0;
  }

 private:
  std::string bytes_;
};

enum class Shape { one_way, ping_pong };

// uds_batch's sender runs as an event loop does: non-blocking sends, one flush per turn (a turn
// is one message in ping-pong, a full batch or the end of the run one-way). Every other channel
// sends blocking.
bool event_loop_sender(ChannelType type) { return type == ChannelType::uds_batch; }

void wait_for(const PollTarget& t) {
  pollfd p{t.fd, static_cast<short>(t.events), 0};
  (void)::poll(&p, 1, 1000);
}

Status send_message(Channel& ch, const MessageHeader& h, std::string_view payload) {
  for (;;) {
    auto st = ch.send(h, payload);
    if (st || !would_block(st.error())) return st;
    wait_for(ch.writable_target());
    if (auto f = ch.flush(); !f && !would_block(f.error())) return f;
  }
}

Status flush_all(Channel& ch) {
  while (ch.has_pending()) {
    auto st = ch.flush();
    if (!st && !would_block(st.error())) return st;
    if (!st) wait_for(ch.writable_target());
  }
  return {};
}

// A receive that waits in either mode (the event-loop sender's endpoint is non-blocking).
Result<Message> receive_message(Channel& ch) {
  for (;;) {
    auto m = ch.receive();
    if (m || !ch.nonblocking() || !would_block(m.error())) return m;
    wait_for(ch.readable_target());
  }
}

// The peer's loop: returns 0 when all `count` messages verified, else 1 + the failing index.
std::uint64_t serve(Channel& ch, Shape mode, std::size_t size) {
  auto first = ch.receive();
  if (!first) return 1;
  const std::uint64_t count = first->header.session_id;
  Pattern pattern(size);
  std::uint64_t failed = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    auto m = ch.receive();
    if (!m) return i + 1;
    if (!failed && !pattern.matches(*m, i)) failed = i + 1;
    if (mode == Shape::ping_pong && !ch.send(m->header, m->payload)) return i + 1;
  }
  MessageHeader done;
  done.kind = MessageKind::command;
  done.session_id = failed;
  (void)ch.send(done, {});
  return failed;
}

// Runs the peer for one benchmark run: a child process, or a thread for the thread channel.
class Peer {
 public:
  Peer(ChannelType type, ChannelPair& pair, Shape mode, std::size_t size) {
    if (type == ChannelType::thread) {
      thread_ = std::jthread([&pair, mode, size] { (void)serve(*pair.worker, mode, size); });
      return;
    }
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      detail::run_after_fork_child_hooks();
      pair.reactor.reset();
      ::_exit(serve(*pair.worker, mode, size) == 0 ? 0 : 1);
    }
    pair.worker.reset();
  }
  ~Peer() {
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  // A datagram or queue peer would wait forever for the rest of an abandoned run.
  void abort() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }
  bool started() const { return pid_ != -1; }

 private:
  pid_t pid_ = 0;
  std::jthread thread_;
};

void run(benchmark::State& state, ChannelType type, Shape mode) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto made = make_channel(type);
  if (!made) {
    state.SkipWithError(made.error().message.c_str());
    return;
  }
  ChannelPair pair = std::move(made).value();
  Channel& me = *pair.reactor;
  Peer peer(type, pair, mode, size);
  me.set_nonblocking(event_loop_sender(type));
  if (!peer.started()) {
    state.SkipWithError("fork failed");
    return;
  }
  MessageHeader count;
  count.kind = MessageKind::command;
  count.session_id = state.max_iterations;
  if (!send_message(me, count, {}) || !flush_all(me)) {
    state.SkipWithError("could not start the peer");
    return;
  }
  Pattern pattern(size);
  std::uint64_t seq = 0;
  MessageHeader h;
  for (auto _ : state) {
    h.session_id = seq;
    if (auto st = send_message(me, h, pattern.stamp(seq)); !st) {
      state.SkipWithError(st.error().message.c_str());
      break;
    }
    if (mode == Shape::ping_pong) {
      if (auto st = flush_all(me); !st) {
        state.SkipWithError(st.error().message.c_str());
        break;
      }
      auto echo = receive_message(me);
      if (!echo || !pattern.matches(*echo, seq)) {
        state.SkipWithError(("ping-pong echo mismatch at msg " + std::to_string(seq)).c_str());
        break;
      }
    }
    ++seq;
  }
  if (state.error_occurred()) {
    // The peer waits for messages that will never come: closing our end ends a thread peer.
    peer.abort();
    pair.reactor.reset();
    return;
  }
  if (auto st = flush_all(me); !st) {
    state.SkipWithError(st.error().message.c_str());
    peer.abort();
    return;
  }
  auto done = receive_message(me);
  if (!done || done->header.kind != MessageKind::command) {
    state.SkipWithError("the peer did not report");
  } else if (done->header.session_id != 0) {
    state.SkipWithError(("payload mismatch at msg " + std::to_string(done->header.session_id - 1)).c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

// Issue #9's target: 1,000,000 messages parent -> child, timed from the first send to the
// child's report that it verified the last one (manual time, one iteration = one million).
using bench::kMillion;

void BM_Million(benchmark::State& state, ChannelType type) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto made = make_channel(type);
    if (!made) return state.SkipWithError(made.error().message.c_str());
    ChannelPair pair = std::move(made).value();
    Channel& me = *pair.reactor;
    Peer peer(type, pair, Shape::one_way, size);
    if (!peer.started()) return state.SkipWithError("fork failed");
    me.set_nonblocking(event_loop_sender(type));
    Pattern pattern(size);
    const auto t0 = std::chrono::steady_clock::now();
    MessageHeader h;
    h.kind = MessageKind::command;
    h.session_id = kMillion;
    bool ok = send_message(me, h, {}).has_value();
    h.kind = MessageKind::data;
    for (std::uint64_t seq = 0; ok && seq < kMillion; ++seq) {
      h.session_id = seq;
      ok = send_message(me, h, pattern.stamp(seq)).has_value();
    }
    ok = ok && flush_all(me).has_value();
    auto done = ok ? receive_message(me) : Result<Message>(fail(errc::invalid_argument, "send failed"));
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    if (!done || done->header.kind != MessageKind::command || done->header.session_id != 0) {
      peer.abort();
      return state.SkipWithError("the million messages did not all arrive intact");
    }
    state.SetIterationTime(took.count());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kMillion));
}

// The same through a raw socketpair, one syscall per message each way (Swoole's Process pipe):
// SOCK_DGRAM, or SOCK_STREAM read back in exact message-sized pieces (support/million.h).
void BM_Million_Raw(benchmark::State& state, int type) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    auto took = bench::million_raw_socketpair(type, size, 0);
    if (!took) return state.SkipWithError(took.error().message.c_str());
    state.SetIterationTime(*took);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kMillion));
}

void BM_OneWay(benchmark::State& state, ChannelType type) { run(state, type, Shape::one_way); }
void BM_PingPong(benchmark::State& state, ChannelType type) { run(state, type, Shape::ping_pong); }

void register_all() {
  const std::pair<const char*, ChannelType> subjects[] = {{"UdsDgram", ChannelType::uds_dgram},
                                                          {"UdsStream", ChannelType::uds_stream},
                                                          {"SysvMsg", ChannelType::sysvmsg},
                                                          {"ThreadQueue", ChannelType::thread},
                                                          {"UdsBatch", ChannelType::uds_batch},
                                                          {"ShmRingChannel", ChannelType::shm_ring}};
  for (const auto& [name, type] : subjects) {
    benchmark::RegisterBenchmark((std::string("BM_") + name + "_OneWay").c_str(), BM_OneWay, type)
        ->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
  }
  for (const auto& [name, type] : subjects) {
    benchmark::RegisterBenchmark((std::string("BM_") + name + "_PingPong").c_str(), BM_PingPong, type)
        ->Arg(64)->Arg(1024)->UseRealTime();
  }
  for (const auto& [name, type] : subjects) {
    if (type == ChannelType::sysvmsg || type == ChannelType::thread) continue;  // parent -> child only
    benchmark::RegisterBenchmark((std::string("BM_") + name + "_Million").c_str(), BM_Million, type)
        ->Arg(1024)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_UdsDgram_Million_Raw", BM_Million_Raw, SOCK_DGRAM)
      ->Arg(1024)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_UdsStream_Million_Raw", BM_Million_Raw, SOCK_STREAM)
      ->Arg(1024)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace procspec

int main(int argc, char** argv) {
  procspec::register_all();
  return procspec::bench::run_main(argc, argv);
}

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
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "base/after_fork.h"
#include "procspec/channel.h"
#include "support/context.h"

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
  if (!peer.started()) {
    state.SkipWithError("fork failed");
    return;
  }
  MessageHeader count;
  count.kind = MessageKind::command;
  count.session_id = state.max_iterations;
  if (!me.send(count, {})) {
    state.SkipWithError("could not start the peer");
    return;
  }
  Pattern pattern(size);
  std::uint64_t seq = 0;
  MessageHeader h;
  for (auto _ : state) {
    h.session_id = seq;
    if (auto st = me.send(h, pattern.stamp(seq)); !st) {
      state.SkipWithError(st.error().message.c_str());
      break;
    }
    if (mode == Shape::ping_pong) {
      auto echo = me.receive();
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
  auto done = me.receive();
  if (!done || done->header.kind != MessageKind::command) {
    state.SkipWithError("the peer did not report");
  } else if (done->header.session_id != 0) {
    state.SkipWithError(("payload mismatch at msg " + std::to_string(done->header.session_id - 1)).c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
}

void BM_OneWay(benchmark::State& state, ChannelType type) { run(state, type, Shape::one_way); }
void BM_PingPong(benchmark::State& state, ChannelType type) { run(state, type, Shape::ping_pong); }

void register_all() {
  const std::pair<const char*, ChannelType> subjects[] = {{"UdsDgram", ChannelType::uds_dgram},
                                                          {"UdsStream", ChannelType::uds_stream},
                                                          {"SysvMsg", ChannelType::sysvmsg},
                                                          {"ThreadQueue", ChannelType::thread}};
  for (const auto& [name, type] : subjects) {
    benchmark::RegisterBenchmark((std::string("BM_") + name + "_OneWay").c_str(), BM_OneWay, type)
        ->Arg(64)->Arg(1024)->Arg(16384)->UseRealTime();
  }
  for (const auto& [name, type] : subjects) {
    benchmark::RegisterBenchmark((std::string("BM_") + name + "_PingPong").c_str(), BM_PingPong, type)
        ->Arg(64)->Arg(1024)->UseRealTime();
  }
}

}  // namespace
}  // namespace procspec

int main(int argc, char** argv) {
  procspec::register_all();
  return procspec::bench::run_main(argc, argv);
}

#pragma once
// The two benchmark patterns, written once for every channel in raw_channels.h's shape. A
// procspec channel adapter (once the channels land) registers with
//   register_channel<ProcspecUdsDgram>("UdsDgram", "");
// and is measured by exactly the code that measures the raw mechanism beside it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "support/cpu.h"
#include "support/payload.h"
#include "support/peer.h"
#include "support/raw_channels.h"
#include "support/rusage.h"

namespace procspec::bench {

// Sizes 64 B, 1 KiB, 16 KiB, each capped at the mechanism's limit (read at registration).
std::vector<std::int64_t> bench_sizes(std::size_t limit);
// Adds min/max aggregates (so reports can show the repetitions' range) and real time.
void configure(benchmark::internal::Benchmark* b, const std::vector<std::int64_t>& sizes);
// Self and peer per-message counters.
void set_usage_counters(benchmark::State& state, const Usage& self, std::uint64_t self_msgs,
                        const PeerReport& peer);
// Latency percentiles (p50_us, p99_us, p999_us) from per-iteration round trips in ns.
void set_latency_counters(benchmark::State& state, std::vector<std::int64_t>& rtt_ns);
// SkipWithError with the peer's failure; returns true if there was one.
bool skip_on_peer_failure(benchmark::State& state, const Result<PeerReport>& report);

// Fault injection for the harness's own tests (IPC-3), from PROCSPEC_BENCH_FAULT read once:
// `corrupt:N` makes the peer send message N with one byte flipped, `exit:N` makes a forked peer
// _exit before sending message N. Without the variable the peer's only extra work per message
// is one comparison.
struct FaultPlan {
  std::uint64_t corrupt_at = ~std::uint64_t{0};
  std::uint64_t exit_at = ~std::uint64_t{0};
  std::uint64_t first() const noexcept { return corrupt_at < exit_at ? corrupt_at : exit_at; }
};
const FaultPlan& fault_plan();
// The bytes the peer sends as message `seq` under the plan (a corrupted copy in `scratch`).
std::span<const std::byte> apply_fault(std::span<const std::byte> msg, std::uint64_t seq, bool may_exit,
                                       std::vector<std::byte>& scratch) noexcept;

template <class Ch>
constexpr bool busy_polls() {
  if constexpr (requires { Ch::kBusyPolls; }) return Ch::kBusyPolls;
  return false;
}

template <class Ch>
Result<Peer> start_peer(Ch& ch, Peer::Body body) {
  if constexpr (Ch::kInProcess) {
    return Peer::thread(std::move(body), [&ch] { ch.unblock(); });
  } else {
    // Busy-polling sides each get a CPU of their own (the Peer restores the mask when done);
    // left to the scheduler, both could land on one CPU and spin through each other's slices.
    if constexpr (busy_polls<Ch>()) pin_current_thread(cpu_plan().first_cpu);
    auto peer = Peer::fork(std::move(body), [&ch] {
      ch.keep(Side::b);
      if constexpr (busy_polls<Ch>()) pin_current_thread(cpu_plan().second_cpu);
    });
    if (peer) {
      ch.keep(Side::a);
      if constexpr (requires { ch.peer_started(pid_t{}); }) ch.peer_started(peer->pid());
    }
    return peer;
  }
}

template <class Ch>
bool open_or_skip(benchmark::State& state, Result<Ch>& ch) {
  if (busy_polls<Ch>() && cpu_plan().shared_cpu()) {
    state.SkipWithError("busy-polling variant skipped: both sides would share one CPU");
    return false;
  }
  if (!ch) {
    state.SkipWithError(ch.error().message.c_str());
    return false;
  }
  return true;
}

template <class Ch>
void one_way(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto opened = Ch::open(size);
  if (!open_or_skip(state, opened)) return;
  Ch& ch = *opened;
  auto peer = start_peer(ch, [&ch, size](const std::atomic<bool>& stop) {
    PeerReport r;
    PayloadWriter writer(size);
    const std::uint64_t first_fault = fault_plan().first();
    std::vector<std::byte> scratch;
    const Usage u0 = thread_usage();
    std::uint64_t seq = 0;
    for (; !stop.load(std::memory_order_relaxed); ++seq) {
      auto msg = writer.next(seq);
      if (seq >= first_fault) [[unlikely]] msg = apply_fault(msg, seq, !Ch::kInProcess, scratch);
      if (auto st = ch.send(Side::b, msg); !st) {
        r.error = st.error().code.value();
        break;
      }
    }
    r.usage = thread_usage() - u0;
    r.messages = seq;
    if (r.error == 0) {
      if (auto st = ch.send(Side::b, writer.next(kEndSeq)); !st) r.error = st.error().code.value();
    }
    if constexpr (requires { ch.flush(Side::b); }) {  // a batching channel: the end of the last turn
      if (auto st = ch.flush(Side::b); !st && r.error == 0) r.error = st.error().code.value();
    }
    return r;
  });
  if (!peer) return state.SkipWithError(peer.error().message.c_str());

  PayloadChecker checker(size);
  std::uint64_t seq = 0;
  const Usage u0 = thread_usage();
  for (auto _ : state) {
    auto msg = ch.recv(Side::a);
    if (!msg) return state.SkipWithError(msg.error().message.c_str());
    if (checker.check(*msg, seq) != PayloadVerdict::ok) return state.SkipWithError(mismatch_message(seq).c_str());
    ++seq;
  }
  const Usage self = thread_usage() - u0;
  const std::uint64_t measured = seq;
  peer->request_stop();
  // Drain what the peer sent before it saw the stop flag, verifying it too, up to its end marker.
  for (;;) {
    auto msg = ch.recv(Side::a);
    if (!msg) return state.SkipWithError(msg.error().message.c_str());
    const PayloadVerdict v = checker.check(*msg, seq);
    if (v == PayloadVerdict::end) break;
    if (v == PayloadVerdict::mismatch) return state.SkipWithError(mismatch_message(seq).c_str());
    ++seq;
  }
  auto report = peer->join();
  if (skip_on_peer_failure(state, report)) return;
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
  set_usage_counters(state, self, measured, *report);
}

template <class Ch>
void ping_pong(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  auto opened = Ch::open(size);
  if (!open_or_skip(state, opened)) return;
  Ch& ch = *opened;
  auto peer = start_peer(ch, [&ch, size](const std::atomic<bool>&) {
    PeerReport r;
    PayloadChecker checker(size);
    const std::uint64_t first_fault = fault_plan().first();
    std::vector<std::byte> scratch;
    const Usage u0 = thread_usage();
    for (std::uint64_t seq = 0;; ++seq) {
      auto msg = ch.recv(Side::b);
      if (!msg) {
        r.error = msg.error().code.value();
        break;
      }
      const PayloadVerdict v = checker.check(*msg, seq);
      if (v == PayloadVerdict::end) break;
      if (v == PayloadVerdict::mismatch) {
        r.mismatch = true;
        r.mismatch_at = seq;
        break;
      }
      auto echo = *msg;
      if (seq >= first_fault) [[unlikely]] echo = apply_fault(echo, seq, !Ch::kInProcess, scratch);
      if (auto st = ch.send(Side::b, echo); !st) {
        r.error = st.error().code.value();
        break;
      }
      r.messages = seq + 1;
    }
    r.usage = thread_usage() - u0;
    return r;
  });
  if (!peer) return state.SkipWithError(peer.error().message.c_str());

  PayloadWriter writer(size);
  PayloadChecker checker(size);
  std::vector<std::int64_t> rtt_ns;
  rtt_ns.reserve(static_cast<std::size_t>(state.max_iterations));
  std::uint64_t seq = 0;
  const Usage u0 = thread_usage();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    if (auto st = ch.send(Side::a, writer.next(seq)); !st) return state.SkipWithError(st.error().message.c_str());
    auto msg = ch.recv(Side::a);
    if (!msg) return state.SkipWithError(msg.error().message.c_str());
    if (checker.check(*msg, seq) != PayloadVerdict::ok) return state.SkipWithError(mismatch_message(seq).c_str());
    rtt_ns.push_back((std::chrono::steady_clock::now() - t0).count());
    ++seq;
  }
  const Usage self = thread_usage() - u0;
  peer->request_stop();
  if (auto st = ch.send(Side::a, writer.next(kEndSeq)); !st) return state.SkipWithError(st.error().message.c_str());
  if constexpr (requires { ch.flush(Side::a); }) {
    if (auto st = ch.flush(Side::a); !st) return state.SkipWithError(st.error().message.c_str());
  }
  auto report = peer->join();
  if (skip_on_peer_failure(state, report)) return;
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size) * 2);
  set_usage_counters(state, self, seq, *report);
  set_latency_counters(state, rtt_ns);
}

enum class Patterns { both, one_way, ping_pong };

template <class Ch>
void register_channel(const std::string& mechanism, const std::string& suffix, Patterns which = Patterns::both) {
  const auto sizes = bench_sizes(Ch::max_message());
  if (which != Patterns::ping_pong)
    configure(benchmark::RegisterBenchmark(("BM_" + mechanism + "_OneWay" + suffix).c_str(), &one_way<Ch>), sizes);
  if (which != Patterns::one_way)
    configure(benchmark::RegisterBenchmark(("BM_" + mechanism + "_PingPong" + suffix).c_str(), &ping_pong<Ch>), sizes);
}

}  // namespace procspec::bench

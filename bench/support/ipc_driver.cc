#include "support/ipc_driver.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace procspec::bench {

std::vector<std::int64_t> bench_sizes(std::size_t limit) {
  std::vector<std::int64_t> sizes;
  for (std::size_t s : {std::size_t{64}, std::size_t{1024}, std::size_t{16384}}) {
    const std::size_t capped = std::min(s, limit);
    if (capped < kMinPayload) continue;
    const auto v = static_cast<std::int64_t>(capped);
    if (std::find(sizes.begin(), sizes.end(), v) == sizes.end()) sizes.push_back(v);
  }
  return sizes;
}

namespace {
double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
double max_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
}  // namespace

void configure(benchmark::internal::Benchmark* b, const std::vector<std::int64_t>& sizes) {
  for (auto s : sizes) b->Arg(s);
  b->UseRealTime()->ComputeStatistics("min", &min_of)->ComputeStatistics("max", &max_of);
}

void set_usage_counters(benchmark::State& state, const Usage& self, std::uint64_t self_msgs, const PeerReport& peer) {
  const PerMessage s = per_message(self, self_msgs);
  const PerMessage p = per_message(peer.usage, peer.messages);
  state.counters["vcsw"] = s.vcsw;
  state.counters["ivcsw"] = s.ivcsw;
  state.counters["cpu_us"] = s.cpu_us;
  state.counters["peer_vcsw"] = p.vcsw;
  state.counters["peer_ivcsw"] = p.ivcsw;
  state.counters["peer_cpu_us"] = p.cpu_us;
}

void set_latency_counters(benchmark::State& state, std::vector<std::int64_t>& rtt_ns) {
  if (rtt_ns.empty()) return;
  auto pct = [&](double q) {
    auto k = static_cast<std::size_t>(q * static_cast<double>(rtt_ns.size() - 1));
    std::nth_element(rtt_ns.begin(), rtt_ns.begin() + static_cast<std::ptrdiff_t>(k), rtt_ns.end());
    return static_cast<double>(rtt_ns[k]) / 1000.0;
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["p999_us"] = pct(0.999);
}

const FaultPlan& fault_plan() {
  static const FaultPlan plan = [] {
    FaultPlan p;
    const char* env = std::getenv("PROCSPEC_BENCH_FAULT");
    if (env == nullptr) return p;
    const std::string spec(env);
    const auto colon = spec.find(':');
    if (colon == std::string::npos) return p;
    const std::uint64_t n = std::strtoull(spec.c_str() + colon + 1, nullptr, 10);
    if (spec.compare(0, colon, "corrupt") == 0) p.corrupt_at = n;
    if (spec.compare(0, colon, "exit") == 0) p.exit_at = n;
    return p;
  }();
  return plan;
}

std::span<const std::byte> apply_fault(std::span<const std::byte> msg, std::uint64_t seq, bool may_exit,
                                       std::vector<std::byte>& scratch) noexcept {
  const FaultPlan& plan = fault_plan();
  if (seq == plan.exit_at && may_exit) ::_exit(3);
  if (seq != plan.corrupt_at || msg.empty()) return msg;
  scratch.assign(msg.begin(), msg.end());
  scratch[scratch.size() / 2] ^= std::byte{0x01};
  return scratch;
}

bool skip_on_peer_failure(benchmark::State& state, const Result<PeerReport>& report) {
  std::string why;
  if (!report) {
    why = "peer: " + report.error().message;
  } else if (report->mismatch) {
    why = "peer: " + mismatch_message(report->mismatch_at);
  } else if (report->error != 0) {
    why = std::string("peer: ") + std::strerror(report->error);
  }
  if (why.empty()) return false;
  state.SkipWithError(why.c_str());
  return true;
}

}  // namespace procspec::bench

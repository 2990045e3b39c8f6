#include "support/placement.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "support/cpu.h"
#include "support/memory_channels.h"
#include "support/payload.h"
#include "support/peer.h"

namespace procspec::bench {

Placement measure_placement(int round_trips) {
  Placement out;
  constexpr std::size_t kSize = 64;
  auto opened = ShmRingChannel<RingWait::spin>::open(kSize);
  if (!opened) {
    out.error = opened.error().message;
    return out;
  }
  auto& ch = *opened;
  // Always two distinct CPUs when there are two: the check measures how far apart the host has
  // put this VM's first two vCPUs, not where the scheduler happened to place the peer.
  const CpuPlan& plan = cpu_plan();
  pin_current_thread(plan.first_cpu);
  struct Unpin {
    ~Unpin() { unpin_current_thread(); }
  } unpin;
  const int peer_cpu = plan.second_cpu;
  auto peer = Peer::fork(
      [&ch, peer_cpu](const std::atomic<bool>&) {
        pin_current_thread(peer_cpu);
        PeerReport r;
        for (;;) {
          auto msg = ch.recv(Side::b);
          if (!msg || msg->empty()) break;
          const auto first = static_cast<unsigned char>((*msg)[0]);
          if (first == 0xff) break;  // the end marker
          if (!ch.send(Side::b, *msg)) break;
          ++r.messages;
        }
        return r;
      },
      [] {});
  if (!peer) {
    out.error = peer.error().message;
    return out;
  }
  std::vector<std::byte> msg(kSize, std::byte{1});
  std::vector<double> rtt;
  rtt.reserve(static_cast<std::size_t>(round_trips));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  for (int i = 0; i < round_trips; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!ch.send(Side::a, msg) || !ch.recv(Side::a)) {
      out.error = "ring round trip failed";
      return out;
    }
    const auto t1 = std::chrono::steady_clock::now();
    rtt.push_back(static_cast<double>(std::chrono::nanoseconds(t1 - t0).count()));
    if (t1 > deadline) break;
  }
  peer->request_stop();
  msg[0] = std::byte{0xff};
  (void)ch.send(Side::a, msg);
  auto report = peer->join();
  if (!report) {
    out.error = report.error().message;
    return out;
  }
  // The first round trips warm caches and page mappings; keep the second half.
  std::vector<double> tail(rtt.begin() + static_cast<std::ptrdiff_t>(rtt.size() / 2), rtt.end());
  std::sort(tail.begin(), tail.end());
  out.ok = !tail.empty();
  out.round_trips = static_cast<int>(rtt.size());
  if (out.ok) {
    out.rtt_ns_p50 = tail[tail.size() / 2];
    out.rtt_ns_p90 = tail[tail.size() * 9 / 10];
  }
  out.self_cpu = ::sched_getcpu();
  out.peer_cpu = report->cpu;
  return out;
}

}  // namespace procspec::bench

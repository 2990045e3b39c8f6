#pragma once
// The placement check: this VM's host moves its vCPUs around, so the same shared-memory round
// trip can take 0.24 µs in one minute and 0.92 µs in the next. Each benchmark program measures
// a short busy-polled ring round trip before its benchmarks and records it in the JSON context;
// reports compare ratios within a run and use this figure to say which runs are comparable.
#include <string>

namespace procspec::bench {

struct Placement {
  bool ok = false;
  std::string error;       // why the check could not run
  double rtt_ns_p50 = 0;   // median round trip, 64-byte messages
  double rtt_ns_p90 = 0;
  int round_trips = 0;
  int self_cpu = -1;       // sched_getcpu() of both sides at the end of the check
  int peer_cpu = -1;
};

// Forks a peer and measures `round_trips` busy-polled ring round trips (bounded: about 50 ms).
Placement measure_placement(int round_trips = 2000);

}  // namespace procspec::bench

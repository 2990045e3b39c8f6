#pragma once
// Context switches and CPU time of the calling thread, so per-message costs can be reported for
// both sides of a benchmark (the forked or threaded peer measures its own and reports it back).
#include <cstdint>

namespace procspec::bench {

struct Usage {
  std::int64_t voluntary_switches = 0;
  std::int64_t involuntary_switches = 0;
  std::int64_t cpu_ns = 0;  // user + system

  friend Usage operator-(const Usage& a, const Usage& b) noexcept {
    return {a.voluntary_switches - b.voluntary_switches,
            a.involuntary_switches - b.involuntary_switches, a.cpu_ns - b.cpu_ns};
  }
};

// getrusage(RUSAGE_THREAD): the calling thread only, so a thread peer and the benchmark thread
// are counted apart, and a forked peer (one thread) counts exactly itself.
Usage thread_usage() noexcept;

}  // namespace procspec::bench

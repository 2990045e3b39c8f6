#pragma once
// Optional CPU pinning (PROCSPEC_BENCH_PIN=1) and the one question busy-polling benchmarks must
// ask first: can both sides run at the same time? On one shared CPU a spinning side only burns
// the time slice its peer needs, so those variants are skipped rather than reported.
#include <string>

namespace procspec::bench {

struct CpuPlan {
  bool pin = false;     // PROCSPEC_BENCH_PIN=1
  int self_cpu = -1;    // when pinned: the benchmark thread's CPU
  int peer_cpu = -1;    // when pinned: the peer's CPU
  int usable_cpus = 0;  // CPUs in this process's affinity mask
  int first_cpu = -1;   // the mask's first two CPUs (second == first with a one-CPU mask)
  int second_cpu = -1;
  // Both sides are bound to one CPU (a one-CPU mask, or pinning with only one CPU to pick).
  bool shared_cpu() const noexcept { return usable_cpus < 2 || (pin && self_cpu == peer_cpu); }
  std::string describe() const;
};

// Reads the environment and the affinity mask once.
const CpuPlan& cpu_plan();

// Pins the calling thread to cpu (no-op for cpu < 0). Returns false if the kernel refused.
bool pin_current_thread(int cpu) noexcept;

// Restores the calling thread to the process's original affinity mask.
void unpin_current_thread() noexcept;

}  // namespace procspec::bench

#include "support/cpu.h"

#include <sched.h>

#include <cstdlib>
#include <cstring>

namespace procspec::bench {
namespace {

cpu_set_t& original_mask() {
  static cpu_set_t mask = [] {
    cpu_set_t m;
    CPU_ZERO(&m);
    if (::sched_getaffinity(0, sizeof m, &m) != 0) CPU_SET(0, &m);
    return m;
  }();
  return mask;
}

}  // namespace

std::string CpuPlan::describe() const {
  std::string s = std::to_string(usable_cpus) + " usable CPUs, ";
  if (!pin) return s + "not pinned (PROCSPEC_BENCH_PIN=1 pins)";
  return s + "pinned: benchmark on CPU " + std::to_string(self_cpu) + ", peer on CPU " + std::to_string(peer_cpu);
}

const CpuPlan& cpu_plan() {
  static const CpuPlan plan = [] {
    CpuPlan p;
    const cpu_set_t& mask = original_mask();
    p.usable_cpus = CPU_COUNT(&mask);
    const char* env = std::getenv("PROCSPEC_BENCH_PIN");
    p.pin = env != nullptr && std::strcmp(env, "1") == 0;
    // The first two CPUs of the mask; with only one, both sides share it.
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &mask)) continue;
      if (p.first_cpu < 0) {
        p.first_cpu = cpu;
        p.second_cpu = cpu;
      } else {
        p.second_cpu = cpu;
        break;
      }
    }
    if (p.pin) {
      p.self_cpu = p.first_cpu;
      p.peer_cpu = p.second_cpu;
    }
    return p;
  }();
  return plan;
}

bool pin_current_thread(int cpu) noexcept {
  if (cpu < 0) return true;
  cpu_set_t m;
  CPU_ZERO(&m);
  CPU_SET(static_cast<std::size_t>(cpu), &m);
  return ::sched_setaffinity(0, sizeof m, &m) == 0;
}

void unpin_current_thread() noexcept {
  (void)::sched_setaffinity(0, sizeof(cpu_set_t), &original_mask());
}

}  // namespace procspec::bench

#include "support/context.h"

#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "support/cpu.h"
#include "support/placement.h"

namespace procspec::bench {
namespace {

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string git_commit() {
  std::string cmd = std::string("git -C '") + PROCSPEC_SOURCE_DIR + "' rev-parse --short HEAD 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "unknown";
  char buf[64] = {};
  std::string out = std::fgets(buf, sizeof buf, p) ? buf : "unknown";
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

void add_machine_context() {
  utsname u{};
  ::uname(&u);
  benchmark::AddCustomContext("kernel", std::string(u.sysname) + " " + u.release);
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("online_cpus", std::to_string(std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("msgmax", read_first_line("/proc/sys/kernel/msgmax"));
  benchmark::AddCustomContext("msgmnb", read_first_line("/proc/sys/kernel/msgmnb"));
  benchmark::AddCustomContext("wmem_max", read_first_line("/proc/sys/net/core/wmem_max"));
  benchmark::AddCustomContext("wmem_default", read_first_line("/proc/sys/net/core/wmem_default"));
  benchmark::AddCustomContext("mq_msgsize_max", read_first_line("/proc/sys/fs/mqueue/msgsize_max"));
  benchmark::AddCustomContext("mq_msg_max", read_first_line("/proc/sys/fs/mqueue/msg_max"));
  benchmark::AddCustomContext("compiler", PROCSPEC_COMPILER);
  benchmark::AddCustomContext("procspec_build_type", PROCSPEC_BUILD_TYPE);
  benchmark::AddCustomContext("commit", git_commit());
  benchmark::AddCustomContext("cpu_plan", cpu_plan().describe());
}

void add_placement_context() {
  const Placement p = measure_placement();
  if (!p.ok) {
    benchmark::AddCustomContext("placement_error", p.error);
    return;
  }
  benchmark::AddCustomContext("placement_ring_rtt_ns", std::to_string(static_cast<long long>(p.rtt_ns_p50)));
  benchmark::AddCustomContext("placement_ring_rtt_p90_ns", std::to_string(static_cast<long long>(p.rtt_ns_p90)));
  benchmark::AddCustomContext("placement_cpus", "benchmark on CPU " + std::to_string(p.self_cpu) + ", peer on CPU " +
                                                    std::to_string(p.peer_cpu) +
                                                    (p.self_cpu == p.peer_cpu ? " (shared)" : " (apart)"));
  std::fprintf(stderr, "placement check: ring round trip %.0f ns (p90 %.0f ns), CPUs %d/%d\n", p.rtt_ns_p50,
               p.rtt_ns_p90, p.self_cpu, p.peer_cpu);
}

int run_main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // A peer that dies must surface as an error (EPIPE) in the benchmark, not kill it.
  ::signal(SIGPIPE, SIG_IGN);
  add_machine_context();
  add_placement_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace procspec::bench

#include "support/context.h"

#include <benchmark/benchmark.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

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
  benchmark::AddCustomContext("compiler", PROCSPEC_COMPILER);
  benchmark::AddCustomContext("procspec_build_type", PROCSPEC_BUILD_TYPE);
  benchmark::AddCustomContext("commit", git_commit());
}

int run_main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  add_machine_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace procspec::bench

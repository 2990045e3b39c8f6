// The reference implementation's IUT driver (SPEC IUT): `info`, `probe NAME ARGS...` and the
// sub-commands other files register (echo-server). Black-box suites call nothing else.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "json.h"
#include "probe.h"

namespace procspec::cli {
namespace {

struct Registry {
  std::map<std::string, CommandFn> probes;
  std::map<std::string, CommandFn> commands;
  std::map<std::string, std::set<std::string>> capabilities;
};

// Function-local static: registrars in other translation units run before main in any order.
Registry& registry() {
  static Registry r;
  return r;
}

int print_info() {
  std::vector<std::string> probes;
  for (const auto& [name, fn] : registry().probes) probes.push_back(name);
  auto list = [](const char* which) {
    const auto& caps = registry().capabilities[which];
    return std::vector<std::string>(caps.begin(), caps.end());
  };
  JsonLine().add("name", "reference").add("version", PROCSPEC_VERSION)
      .add("modes", list("modes")).add("ipc", list("ipc")).add("probes", probes).print();
  return 0;
}

int main_usage() {
  std::fprintf(stderr,
               "usage: driver info\n"
               "       driver probe NAME [ARGS...]\n");
  for (const auto& [name, fn] : registry().commands) std::fprintf(stderr, "       driver %s ...\n", name.c_str());
  return kUsageError;
}

}  // namespace

ProbeRegistrar::ProbeRegistrar(const char* name, CommandFn fn) { registry().probes[name] = fn; }
CommandRegistrar::CommandRegistrar(const char* name, CommandFn fn) { registry().commands[name] = fn; }
CapabilityRegistrar::CapabilityRegistrar(const char* list, const char* value) {
  registry().capabilities[list].insert(value);
}

int usage(const char* synopsis) {
  std::fprintf(stderr, "usage: driver %s\n", synopsis);
  return kUsageError;
}

bool parse_int(const std::string& text, long long& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(text.c_str(), &end, 10);
  return errno == 0 && end && *end == '\0';
}

}  // namespace procspec::cli

int main(int argc, char** argv) {
  using namespace procspec::cli;
  if (argc < 2) return main_usage();
  std::string verb = argv[1];
  if (verb == "info") return print_info();
  Args rest(argv + 2, argv + argc);
  if (verb == "probe") {
    if (rest.empty()) return main_usage();
    auto it = registry().probes.find(rest.front());
    if (it == registry().probes.end()) {
      std::fprintf(stderr, "driver: unknown probe '%s' (see `driver info`)\n", rest.front().c_str());
      return kUnsupported;
    }
    return it->second(Args(rest.begin() + 1, rest.end()));
  }
  auto it = registry().commands.find(verb);
  if (it == registry().commands.end()) return main_usage();
  return it->second(rest);
}

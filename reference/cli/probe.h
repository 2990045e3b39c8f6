#pragma once
// The IUT driver (SPEC IUT) is assembled from independent files: each registers its probes and
// sub-commands with a static registrar, so a domain adds probes without editing the dispatcher.
#include <string>
#include <vector>

namespace procspec::cli {

using Args = std::vector<std::string>;
// Returns the process exit status: 0, kUnsupported, or 2 for a usage error.
using CommandFn = int (*)(const Args& args);

inline constexpr int kUnsupported = 77;
inline constexpr int kUsageError = 2;

struct ProbeRegistrar {
  ProbeRegistrar(const char* name, CommandFn fn);
};
// Top-level sub-commands beside `info` and `probe` (e.g. echo-server).
struct CommandRegistrar {
  CommandRegistrar(const char* name, CommandFn fn);
};
// Adds a value to the "modes" or "ipc" arrays that `driver info` prints.
struct CapabilityRegistrar {
  CapabilityRegistrar(const char* list, const char* value);
};

// Prints "usage: driver probe NAME ..." to stderr and returns kUsageError.
int usage(const char* synopsis);
// Parses a decimal integer argument; false (and a usage message) if it is not one.
bool parse_int(const std::string& text, long long& out);

}  // namespace procspec::cli

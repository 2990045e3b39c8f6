// `driver echo-server` (SPEC IUT): listens on 127.0.0.1 port 0, prints "listening PORT" first,
// echoes each packet back unchanged, and exits 0 on SIGTERM after closing all connections.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "json.h"
#include "probe.h"
#include "procspec/framing.h"
#include "procspec/log.h"
#include "procspec/server.h"

namespace procspec::cli {
namespace {

// The framing SPEC string, as the Server's Swoole-named settings.
Status apply_framing(Server& server, const std::string& spec) {
  auto framing = FramingSettings::parse(spec);
  if (!framing) return forward_error(std::move(framing).error());
  const auto max = static_cast<long long>(framing->max_length());
  switch (framing->mode()) {
    case FramingMode::none:
      return {};
    case FramingMode::length:
      return server.set({{"open_length_check", true},
                         {"package_length_type", std::string(1, framing->length_type())},
                         {"package_length_offset", static_cast<long long>(framing->length_offset())},
                         {"package_body_offset", static_cast<long long>(framing->body_offset())},
                         {"package_max_length", max}});
    case FramingMode::eof_split:
    case FramingMode::eof_check:
      return server.set({{framing->mode() == FramingMode::eof_split ? "open_eof_split" : "open_eof_check", true},
                         {"package_eof", std::string(framing->package_eof())},
                         {"package_max_length", max}});
  }
  return {};
}

constexpr const char* kSynopsis =
    "echo-server --mode base|process|thread --workers N --framing SPEC --ipc CHANNEL\n"
    "       [--max-conn N] [--max-request N] [--heartbeat IDLE_S:INTERVAL_S] [--output-buffer BYTES]\n"
    "       [--reactors N] [--dispatch 1-4] [--max-wait-time S]";

using ExtraSettings = std::vector<std::pair<std::string, std::string>>;

// Reference extras (README, "The driver"): options beyond SPEC IUT that map one-to-one onto
// Server settings, so the black-box suites can reach max_conn, heartbeat and friends. The
// values are passed as text; the Server's own validation (SRV-2) judges them.
bool parse_extra(const std::string& key, const std::string& value, ExtraSettings& out) {
  static const std::pair<const char*, const char*> kPlain[] = {
      {"--max-conn", "max_conn"},           {"--max-request", "max_request"},
      {"--output-buffer", "output_buffer_size"}, {"--reactors", "reactor_num"},
      {"--dispatch", "dispatch_mode"},      {"--max-wait-time", "max_wait_time"},
  };
  for (const auto& [flag, setting] : kPlain) {
    if (key == flag) {
      out.emplace_back(setting, value);
      return true;
    }
  }
  if (key == "--heartbeat") {  // IDLE_S:INTERVAL_S, Swoole's heartbeat_idle_time and heartbeat_check_interval
    const auto colon = value.find(':');
    if (colon == std::string::npos) return false;
    out.emplace_back("heartbeat_idle_time", value.substr(0, colon));
    out.emplace_back("heartbeat_check_interval", value.substr(colon + 1));
    return true;
  }
  return false;
}

int echo_server(const Args& args) {
  std::string mode_name = "base", framing = "none", ipc = "uds-dgram";
  long long workers = 1;
  ExtraSettings extras;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& k = args[i];
    if (k == "--mode") mode_name = args[i + 1];
    else if (k == "--workers" && parse_int(args[i + 1], workers)) continue;
    else if (k == "--framing") framing = args[i + 1];
    else if (k == "--ipc") ipc = args[i + 1];
    else if (parse_extra(k, args[i + 1], extras)) continue;
    else return usage(kSynopsis);
  }
  if (args.size() % 2) return usage(kSynopsis);
  ServerMode mode;
  if (mode_name == "base") mode = ServerMode::base;
  else if (mode_name == "process") mode = ServerMode::process;
  else if (mode_name == "thread") mode = ServerMode::thread;
  else return usage("echo-server --mode base|process|thread ...");

  auto server = Server::create("127.0.0.1", 0, mode);
  if (!server) {
    std::fprintf(stderr, "echo-server: %s\n", server.error().message.c_str());
    return 1;
  }
  Server& s = **server;
  Status st = s.set("worker_num", workers);
  // BASE has no reactor→worker channel; PROCESS and THREAD take any (THREAD defaults to `thread`).
  if (st && mode != ServerMode::base && (mode == ServerMode::process || ipc != "uds-dgram")) st = s.set("ipc", ipc);
  if (st) st = apply_framing(s, framing);
  for (std::size_t i = 0; st && i < extras.size(); ++i) st = s.set(extras[i].first, extras[i].second);
  if (!st) {
    std::fprintf(stderr, "echo-server: %s\n", st.error().message.c_str());
    return kUsageError;
  }
  s.events().on_start = [](Server& srv) {
    std::printf("listening %d\n", srv.port());
    std::fflush(stdout);
  };
  s.events().on_receive = [](Server& srv, std::uint64_t fd, int, std::string_view data) {
    if (auto r = srv.send(fd, data); !r) log_warn("echo-server: send: " + r.error().message);
  };
  st = s.start();
  if (!st) {
    std::fprintf(stderr, "echo-server: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

const CommandRegistrar reg_echo{"echo-server", &echo_server};
const CapabilityRegistrar mode_base{"modes", "base"};
const CapabilityRegistrar mode_process{"modes", "process"};
const CapabilityRegistrar mode_thread{"modes", "thread"};
const CapabilityRegistrar ipc_dgram{"ipc", "uds-dgram"};
const CapabilityRegistrar ipc_stream{"ipc", "uds-stream"};
const CapabilityRegistrar ipc_sysv{"ipc", "sysvmsg"};
const CapabilityRegistrar ipc_thread{"ipc", "thread"};
const CapabilityRegistrar ipc_batch{"ipc", "uds-batch"};
const CapabilityRegistrar ipc_ring{"ipc", "shm-ring"};

}  // namespace
}  // namespace procspec::cli

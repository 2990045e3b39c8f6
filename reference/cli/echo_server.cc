// `driver echo-server` (SPEC IUT): listens on 127.0.0.1 port 0, prints "listening PORT" first,
// echoes each packet back unchanged, and exits 0 on SIGTERM after closing all connections.
#include <cstdio>
#include <string>

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

int echo_server(const Args& args) {
  std::string mode_name = "base", framing = "none", ipc = "uds-dgram";
  long long workers = 1;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string& k = args[i];
    if (k == "--mode") mode_name = args[i + 1];
    else if (k == "--workers" && parse_int(args[i + 1], workers)) continue;
    else if (k == "--framing") framing = args[i + 1];
    else if (k == "--ipc") ipc = args[i + 1];
    else return usage("echo-server --mode base|process|thread --workers N --framing SPEC --ipc CHANNEL");
  }
  if (args.size() % 2) return usage("echo-server --mode base|process|thread --workers N --framing SPEC --ipc CHANNEL");
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

}  // namespace
}  // namespace procspec::cli

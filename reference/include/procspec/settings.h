#pragma once
// Server settings (SRV-2) under Swoole's names, checked when set: an unknown key or a value out of
// range is an error naming the key and the allowed range, and a failed set() changes nothing.
// Framing keys (open_length_check, package_eof, ...) are routed to FramingOptions (framing.h).
//
//   ServerSettings s = ServerSettings::defaults(Mode);
//   if (auto st = s.set({{"worker_num", 4}, {"dispatch_mode", 3}}); !st) ...
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "procspec/channel.h"
#include "procspec/framing.h"
#include "procspec/result.h"

namespace procspec {

enum class ServerMode { base = 1, process = 2, thread = 3 };


using SettingValue = std::variant<bool, long long, double, std::string>;

struct ServerSettings {
  int worker_num = 1;
  int reactor_num = 1;
  // Also max_connection. 0 = Swoole's default, min(100000, RLIMIT_NOFILE) at start; a value set
  // above RLIMIT_NOFILE is an error at start (SRV-15).
  long long max_conn = 0;
  long long max_request = 0;            // 0: never recycle a worker (SRV-6)
  int task_worker_num = 0;
  int task_ipc_mode = 1;                // 1 UDS, 2 msgqueue, 3 msgqueue preemptive (SRV-8)
  int dispatch_mode = 2;                // SRV-PROC-3
  double heartbeat_check_interval = 0;  // seconds; 0 = off (SRV-7, SRV-13)
  double heartbeat_idle_time = 0;
  double max_wait_time = 3;             // seconds between SIGTERM and SIGKILL at shutdown/reload
  long long output_buffer_size = 2 * 1024 * 1024;  // per connection (SRV-4, SRV-12)
  long long message_queue_key = 0;      // sysvmsg ipc / task_ipc_mode 2,3; 0 = private queue
  bool daemonize = false;
  std::string log_file;
  std::string pid_file;
  // The reactor→worker channel of PROCESS mode (IPC-1, named as parse_channel_type reads them);
  // THREAD mode uses `thread` unless another in-process-capable channel is set.
  ChannelType ipc = ChannelType::uds_dgram;
  FramingOptions framing;

  // Swoole's per-mode defaults: PROCESS and THREAD use one worker and one reactor per CPU.
  static ServerSettings defaults(ServerMode mode);

  // One key; the value may be given as text ("4", "true", "1.5", "2M") or typed.
  Status set(std::string_view key, const SettingValue& value);
  // Several keys, all or nothing (Swoole's $server->set([...])).
  Status set(std::initializer_list<std::pair<std::string_view, SettingValue>> values);

  // Cross-key checks and derived values, run by Server::start(): heartbeat defaults (only idle
  // set → interval = idle/2 or 1; only interval set → idle = 2 × interval), reactor_num capped at
  // worker_num, max_conn defaulted, the framing built. Returns the framing to use.
  Result<FramingSettings> finalize();
};

}  // namespace procspec

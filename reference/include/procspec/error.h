#pragma once
// procspec's own error conditions. errno values never come through here: they keep the system
// category so `ec == std::errc::no_such_process` works and drivers can print "ESRCH".
#include <string>
#include <system_error>

namespace procspec {

enum class errc {
  payload_empty = 1,     // write/push/send of zero bytes
  payload_too_large,     // above a kernel or configured limit; the message names the limit
  already_started,       // start() on something running
  not_started,           // an operation that needs a running child/server
  signal_reserved,       // the current role may not register this signal (SIG-2..4)
  timer_alarm_conflict,  // TMR-3: one clock source per process
  invalid_setting,       // a setting is unknown or out of range; the message names it
  invalid_argument,      // a call argument is out of range; the message names it
  no_pipe,               // Process created without a pipe
  message_truncated,     // PRC-7: a datagram larger than the read buffer
  exec_failed,           // PRC-8: reported back to the parent through a CLOEXEC pipe
  unknown_worker,        // POOL-6: no worker with that id
  wrong_role,            // an API that the current role may not call
  frame_invalid,         // FRM-4/FRM-8: a connection closed by the decoder
  output_buffer_full,    // SRV-4/SRV-12
  peer_closed,           // the other side went away
};

const std::error_category& procspec_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), procspec_category()};
}

// Symbolic name for drivers and logs: "ESRCH" for system errors, "payload_too_large" for ours.
std::string error_name(const std::error_code& ec);

}  // namespace procspec

template <>
struct std::is_error_code_enum<procspec::errc> : std::true_type {};

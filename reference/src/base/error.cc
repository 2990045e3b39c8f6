#include "procspec/error.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "procspec/result.h"

namespace procspec {
namespace {

class ProcspecCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "procspec"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::payload_empty: return "payload_empty";
      case errc::payload_too_large: return "payload_too_large";
      case errc::already_started: return "already_started";
      case errc::not_started: return "not_started";
      case errc::signal_reserved: return "signal_reserved";
      case errc::timer_alarm_conflict: return "timer_alarm_conflict";
      case errc::invalid_setting: return "invalid_setting";
      case errc::invalid_argument: return "invalid_argument";
      case errc::no_pipe: return "no_pipe";
      case errc::message_truncated: return "message_truncated";
      case errc::exec_failed: return "exec_failed";
      case errc::unknown_worker: return "unknown_worker";
      case errc::wrong_role: return "wrong_role";
      case errc::frame_invalid: return "frame_invalid";
      case errc::output_buffer_full: return "output_buffer_full";
      case errc::peer_closed: return "peer_closed";
    }
    return "procspec error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& procspec_category() noexcept {
  static const ProcspecCategory category;
  return category;
}

std::string error_name(const std::error_code& ec) {
  if (ec.category() == std::system_category() || ec.category() == std::generic_category()) {
    if (const char* name = strerrorname_np(ec.value())) return name;
    return "E" + std::to_string(ec.value());
  }
  return ec.message();
}

Unexpected<Error> sys_fail(int err, std::string_view what) {
  std::error_code ec(err, std::system_category());
  std::string message(what);
  message += ": ";
  message += ec.message();
  message += " (";
  message += error_name(ec);
  message += ")";
  return Unexpected<Error>(Error{ec, std::move(message)});
}

namespace detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* why) noexcept {
  // stdio rather than the log sink: the sink may be what is broken, and we are about to abort.
  std::fprintf(stderr, "procspec: check failed: %s at %s:%d: %s\n", expr, file, line, why ? why : "");
  std::fflush(stderr);
  std::abort();
}
}  // namespace detail

}  // namespace procspec

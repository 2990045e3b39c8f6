#include "procspec/settings.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <algorithm>
#include <limits>

namespace procspec {
namespace {

Unexpected<Error> bad(std::string_view key, const std::string& why) {
  return fail(errc::invalid_setting, std::string(key) + ": " + why);
}

std::string value_text(const SettingValue& v) {
  struct {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(long long i) const { return std::to_string(i); }
    std::string operator()(double d) const { return std::to_string(d); }
    std::string operator()(const std::string& s) const { return "'" + s + "'"; }
  } visitor;
  return std::visit(visitor, v);
}

// Integer with an optional K/M/G suffix (1024-based) when given as text.
Result<long long> as_int(std::string_view key, const SettingValue& v) {
  if (auto* i = std::get_if<long long>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) {
    if (std::floor(*d) == *d && std::fabs(*d) < 9e15) return static_cast<long long>(*d);
    return bad(key, "expects an integer, got " + value_text(v));
  }
  if (auto* s = std::get_if<std::string>(&v)) {
    long long out = 0;
    const char* end = s->data() + s->size();
    auto [ptr, ec] = std::from_chars(s->data(), end, out);
    if (ec == std::errc() && ptr != s->data()) {
      long long mult = 1;
      if (ptr + 1 == end && (*ptr == 'K' || *ptr == 'k')) mult = 1LL << 10, ++ptr;
      else if (ptr + 1 == end && (*ptr == 'M' || *ptr == 'm')) mult = 1LL << 20, ++ptr;
      else if (ptr + 1 == end && (*ptr == 'G' || *ptr == 'g')) mult = 1LL << 30, ++ptr;
      if (ptr == end && out <= std::numeric_limits<long long>::max() / mult) return out * mult;
    }
  }
  return bad(key, "expects an integer, got " + value_text(v));
}

Result<double> as_number(std::string_view key, const SettingValue& v) {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<long long>(&v)) return static_cast<double>(*i);
  if (auto* s = std::get_if<std::string>(&v)) {
    char* end = nullptr;
    double d = std::strtod(s->c_str(), &end);
    if (!s->empty() && end && *end == '\0' && std::isfinite(d)) return d;
  }
  return bad(key, "expects a number, got " + value_text(v));
}

Result<bool> as_bool(std::string_view key, const SettingValue& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (auto* i = std::get_if<long long>(&v); i && (*i == 0 || *i == 1)) return *i == 1;
  if (auto* s = std::get_if<std::string>(&v)) {
    if (*s == "true" || *s == "1") return true;
    if (*s == "false" || *s == "0") return false;
  }
  return bad(key, "expects true or false, got " + value_text(v));
}

Result<std::string> as_text(const SettingValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return value_text(v);
}

template <class T>
Status in_range(std::string_view key, const SettingValue& v, long long lo, long long hi, T& field) {
  auto n = as_int(key, v);
  if (!n) return forward_error(std::move(n).error());
  if (*n < lo || *n > hi) {
    return bad(key, std::to_string(*n) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  field = static_cast<T>(*n);
  return {};
}

Status seconds(std::string_view key, const SettingValue& v, double lo, double& field) {
  auto d = as_number(key, v);
  if (!d) return forward_error(std::move(d).error());
  if (*d < lo || *d > 86400.0 * 365) return bad(key, std::to_string(*d) + " seconds is out of range");
  field = *d;
  return {};
}

int cpu_count() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

ServerSettings ServerSettings::defaults(ServerMode mode) {
  ServerSettings s;
  if (mode != ServerMode::base) {
    s.worker_num = cpu_count();
    s.reactor_num = std::min(cpu_count(), 8);
  }
  if (mode == ServerMode::thread) s.ipc = ChannelType::thread;
  return s;
}

Status ServerSettings::set(std::string_view key, const SettingValue& v) {
  const long long kMaxWorkers = 1000LL * cpu_count();
  if (FramingOptions::is_key(key)) {
    auto text = as_text(v);
    if (auto* b = std::get_if<bool>(&v)) text = *b ? "true" : "false";
    return framing.set(key, *text);
  }
  if (key == "worker_num") return in_range(key, v, 1, kMaxWorkers, worker_num);
  if (key == "reactor_num") return in_range(key, v, 1, 4LL * cpu_count(), reactor_num);
  if (key == "max_conn" || key == "max_connection") return in_range(key, v, 1, 1 << 20, max_conn);
  if (key == "max_request") return in_range(key, v, 0, std::numeric_limits<int>::max(), max_request);
  if (key == "task_worker_num") return in_range(key, v, 0, kMaxWorkers, task_worker_num);
  if (key == "task_ipc_mode") return in_range(key, v, 1, 3, task_ipc_mode);
  if (key == "dispatch_mode") return in_range(key, v, 1, 4, dispatch_mode);
  if (key == "heartbeat_check_interval") return seconds(key, v, 0, heartbeat_check_interval);
  if (key == "heartbeat_idle_time") return seconds(key, v, 0, heartbeat_idle_time);
  if (key == "max_wait_time") return seconds(key, v, 0.001, max_wait_time);
  if (key == "output_buffer_size" || key == "buffer_output_size")
    return in_range(key, v, 1, std::numeric_limits<std::int32_t>::max(), output_buffer_size);
  if (key == "message_queue_key") return in_range(key, v, 0, std::numeric_limits<std::int32_t>::max(), message_queue_key);
  if (key == "daemonize") {
    auto b = as_bool(key, v);
    if (!b) return forward_error(std::move(b).error());
    daemonize = *b;
    return {};
  }
  if (key == "log_file" || key == "pid_file") {
    auto text = as_text(v);
    (key == "log_file" ? log_file : pid_file) = *text;
    return {};
  }
  if (key == "ipc") {
    auto kind = parse_channel_type(*as_text(v));
    if (!kind) return forward_error(std::move(kind).error());
    ipc = *kind;
    return {};
  }
  return bad(key, "unknown setting");
}

Status ServerSettings::set(std::initializer_list<std::pair<std::string_view, SettingValue>> values) {
  ServerSettings next = *this;
  for (const auto& [key, value] : values) {
    if (auto st = next.set(key, value); !st) return st;
  }
  *this = std::move(next);
  return {};
}

Result<FramingSettings> ServerSettings::finalize() {
  if (heartbeat_idle_time > 0 && heartbeat_check_interval == 0) {
    heartbeat_check_interval = heartbeat_idle_time > 2 ? heartbeat_idle_time / 2 : 1;
  } else if (heartbeat_check_interval > 0 && heartbeat_idle_time == 0) {
    heartbeat_idle_time = heartbeat_check_interval * 2;
  }
  if (reactor_num > worker_num) reactor_num = worker_num;
  if (max_conn == 0) {
    rlimit nofile{};
    max_conn = 100000;
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
      max_conn = std::min<long long>(max_conn, static_cast<long long>(nofile.rlim_cur));
  }
  return framing.build();
}

}  // namespace procspec

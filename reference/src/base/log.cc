#include "procspec/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace procspec {
namespace {

LogLevel level_from_env() {
  const char* v = std::getenv("PROCSPEC_LOG_LEVEL");
  if (!v) return LogLevel::info;
  std::string_view s(v);
  if (s == "debug") return LogLevel::debug;
  if (s == "warn") return LogLevel::warn;
  if (s == "error") return LogLevel::error;
  if (s == "off") return LogLevel::off;
  return LogLevel::info;
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warn: return "WARN";
    case LogLevel::error: return "ERROR";
    case LogLevel::off: break;
  }
  return "?";
}

void stderr_sink(const LogRecord& r) {
  // One write(2) per record so lines from several processes sharing stderr do not interleave.
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf, "[procspec %s %d] %.*s\n", level_name(r.level),
                        static_cast<int>(::getpid()), static_cast<int>(std::min<std::size_t>(r.message.size(), 900)),
                        r.message.data());
  if (n > 0) {
    ssize_t ignored = ::write(STDERR_FILENO, buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
    (void)ignored;
  }
}

struct LogState {
  std::mutex mu;
  LogSink sink;  // empty = stderr
};

LogState& state() {
  static LogState s;
  return s;
}

std::atomic<LogLevel>& threshold() {
  static std::atomic<LogLevel> t{level_from_env()};
  return t;
}

}  // namespace

void set_log_level(LogLevel level) noexcept { threshold().store(level); }
LogLevel log_level() noexcept { return threshold().load(); }

LogSink set_log_sink(LogSink sink) {
  std::lock_guard lock(state().mu);
  return std::exchange(state().sink, std::move(sink));
}

void log(LogLevel level, std::string_view message) {
  if (level < threshold().load() || level == LogLevel::off) return;
  LogRecord record{level, std::string(message)};
  std::lock_guard lock(state().mu);
  if (state().sink) {
    state().sink(record);
  } else {
    stderr_sink(record);
  }
}

LogCapture::LogCapture() : previous_level_(log_level()) {
  previous_sink_ = set_log_sink([this](const LogRecord& r) {
    std::lock_guard lock(mu_);
    records_.push_back(r);
  });
  set_log_level(LogLevel::debug);
}

LogCapture::~LogCapture() {
  set_log_level(previous_level_);
  set_log_sink(std::move(previous_sink_));
}

std::vector<LogRecord> LogCapture::records() const {
  std::lock_guard lock(mu_);
  return records_;
}

std::size_t LogCapture::count_at_least(LogLevel level) const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(records_.begin(), records_.end(),
                                                 [level](const LogRecord& r) { return r.level >= level; }));
}

bool LogCapture::contains(std::string_view text) const {
  std::lock_guard lock(mu_);
  return std::any_of(records_.begin(), records_.end(),
                     [text](const LogRecord& r) { return r.message.find(text) != std::string::npos; });
}

void LogCapture::clear() {
  std::lock_guard lock(mu_);
  records_.clear();
}

}  // namespace procspec

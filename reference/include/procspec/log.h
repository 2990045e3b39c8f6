#pragma once
// The library's one logging path. The default sink writes one line to stderr; a LogCapture
// replaces it for its lifetime, which is how tests and the driver learn whether a call "warned".
// Safe to call from any thread; never call it from an async signal handler.
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace procspec {

enum class LogLevel { debug = 0, info, warn, error, off };

struct LogRecord {
  LogLevel level;
  std::string message;
};

using LogSink = std::function<void(const LogRecord&)>;

// Records below the threshold are dropped before reaching any sink. Default: info, or the
// value of PROCSPEC_LOG_LEVEL (debug|info|warn|error|off) read once.
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
// Sets the sink; an empty function restores the stderr sink. Returns the previous sink.
LogSink set_log_sink(LogSink sink);

void log(LogLevel level, std::string_view message);
inline void log_debug(std::string_view m) { log(LogLevel::debug, m); }
inline void log_info(std::string_view m) { log(LogLevel::info, m); }
inline void log_warn(std::string_view m) { log(LogLevel::warn, m); }
inline void log_error(std::string_view m) { log(LogLevel::error, m); }

// Captures every record (all levels) while alive and restores the previous sink and level after.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<LogRecord> records() const;
  // Number of records at `level` or above.
  std::size_t count_at_least(LogLevel level) const;
  bool warned() const { return count_at_least(LogLevel::warn) > 0; }
  bool contains(std::string_view text) const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<LogRecord> records_;
  LogSink previous_sink_;
  LogLevel previous_level_;
};

}  // namespace procspec

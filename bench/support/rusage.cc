#include "support/rusage.h"

#include <sys/resource.h>

namespace procspec::bench {
namespace {

std::int64_t to_ns(const timeval& tv) noexcept {
  return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(tv.tv_usec) * 1000;
}

}  // namespace

Usage thread_usage() noexcept {
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  return {ru.ru_nvcsw, ru.ru_nivcsw, to_ns(ru.ru_utime) + to_ns(ru.ru_stime)};
}

}  // namespace procspec::bench

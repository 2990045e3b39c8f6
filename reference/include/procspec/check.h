#pragma once
// PROCSPEC_CHECK is for broken invariants (programmer errors) only: it logs and aborts.
// Anything a caller or the OS can cause is returned as a Result instead.

namespace procspec::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* why) noexcept;
}

#define PROCSPEC_CHECK(cond, why)                                             \
  do {                                                                        \
    if (!(cond)) ::procspec::detail::check_failed(#cond, __FILE__, __LINE__, why); \
  } while (0)

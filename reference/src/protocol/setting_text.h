#pragma once
// Text forms of setting values, shared by the IUT SPEC parser and FramingOptions::set. Each
// returns an error naming the setting, so "package_max_length: '12Q' is not a size" reaches the user.
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "procspec/result.h"

namespace procspec::detail {

inline Unexpected<Error> bad_setting(std::string_view name, std::string_view value, std::string_view want) {
  std::string m(name);
  m += ": '";
  m += value;
  m += "' is not ";
  m += want;
  return fail(errc::invalid_setting, std::move(m));
}

// A decimal integer, optionally negative (so "-1" is reported as out of range by the factory,
// not as a parse error).
inline Result<std::int64_t> parse_integer(std::string_view name, std::string_view text) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end) return bad_setting(name, text, "a decimal integer");
  return v;
}

// A decimal size with an optional K, M or G suffix (1024-based, case-insensitive, optional B),
// as Swoole accepts for package_max_length.
inline Result<std::int64_t> parse_size(std::string_view name, std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && (digits.back() == 'b' || digits.back() == 'B')) digits.remove_suffix(1);
  std::int64_t unit = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k': case 'K': unit = std::int64_t{1} << 10; break;
      case 'm': case 'M': unit = std::int64_t{1} << 20; break;
      case 'g': case 'G': unit = std::int64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) digits.remove_suffix(1);
  }
  if (unit == 1 && digits.size() != text.size()) return bad_setting(name, text, "a size (e.g. 65536, 64K, 2M)");
  std::int64_t v = 0;
  const char* end = digits.data() + digits.size();
  auto [p, ec] = std::from_chars(digits.data(), end, v);
  if (digits.empty() || ec != std::errc() || p != end) return bad_setting(name, text, "a size (e.g. 65536, 64K, 2M)");
  if (v > std::numeric_limits<std::int64_t>::max() / unit || v < std::numeric_limits<std::int64_t>::min() / unit)
    return bad_setting(name, text, "a size that fits in 64 bits");
  return v * unit;
}

inline Result<bool> parse_bool(std::string_view name, std::string_view text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return bad_setting(name, text, "a boolean (true, false, 1, 0)");
}

// Bytes from their hex form ("0d0a" -> "\r\n"); even length, digits 0-9a-fA-F.
inline Result<std::string> parse_hex(std::string_view name, std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return bad_setting(name, text, "hex bytes (an even number of hex digits)");
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return bad_setting(name, text, "hex bytes (digits 0-9, a-f)");
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace procspec::detail

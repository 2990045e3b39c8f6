#include <array>
#include <string>

#include "procspec/framing.h"
#include "protocol/setting_text.h"

namespace procspec {
namespace {

constexpr std::array<std::string_view, 9> kKeys = {
    "open_length_check", "package_length_type", "package_length_offset", "package_body_offset",
    "package_body_start", "package_max_length", "open_eof_check", "open_eof_split", "package_eof"};

template <class T>
Status assign(T& field, Result<T> parsed) {
  if (!parsed) return forward_error(std::move(parsed).error());
  field = std::move(*parsed);
  return {};
}

}  // namespace

bool FramingOptions::is_key(std::string_view key) noexcept {
  for (auto k : kKeys) {
    if (k == key) return true;
  }
  return false;
}

Status FramingOptions::set(std::string_view key, std::string_view value) {
  if (key == "open_length_check") return assign(open_length_check, detail::parse_bool(key, value));
  if (key == "open_eof_check") return assign(open_eof_check, detail::parse_bool(key, value));
  if (key == "open_eof_split") return assign(open_eof_split, detail::parse_bool(key, value));
  if (key == "package_length_offset") return assign(package_length_offset, detail::parse_integer(key, value));
  if (key == "package_body_offset" || key == "package_body_start")
    return assign(package_body_offset, detail::parse_integer(key, value));
  if (key == "package_max_length") return assign(package_max_length, detail::parse_size(key, value));
  if (key == "package_length_type") {
    // Swoole reads only the first character of "Nfoo"; a typo should not pass unnoticed.
    if (value.size() != 1) return detail::bad_setting(key, value, "one pack code letter");
    package_length_type = std::string(value);
    return {};
  }
  if (key == "package_eof") {
    package_eof = std::string(value);
    return {};
  }
  return fail(errc::invalid_setting, "unknown framing setting '" + std::string(key) + "'");
}

Result<FramingSettings> FramingOptions::build() const {
  const bool eof_mode = open_eof_check || open_eof_split;
  if (open_length_check && eof_mode) {
    return fail(errc::invalid_setting, std::string("open_length_check cannot be combined with ") +
                                           (open_eof_split ? "open_eof_split" : "open_eof_check") +
                                           ": choose one protocol");
  }
  if (open_eof_split) return FramingSettings::eof_split(package_eof, package_max_length);
  if (open_eof_check) return FramingSettings::eof_check(package_eof, package_max_length);
  if (open_length_check) {
    if (package_length_type.size() != 1) {
      return detail::bad_setting("package_length_type", package_length_type, "one pack code letter");
    }
    return FramingSettings::length(package_length_type[0], package_length_offset, package_body_offset,
                                   package_max_length);
  }
  return FramingSettings::none();
}

}  // namespace procspec

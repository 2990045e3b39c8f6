#include "procspec/framing.h"

#include <string>
#include <vector>

#include "protocol/pack_code.h"
#include "protocol/setting_text.h"

namespace procspec {
namespace {

constexpr std::string_view kSpecForms =
    "none, length:TYPE:LENGTH_OFFSET:BODY_OFFSET:MAX, eof-split:HEX:MAX or eof-check:HEX:MAX";

std::string pack_code_list() {
  std::string s;
  for (const auto& pc : detail::kPackCodes) {
    if (!s.empty()) s += ' ';
    s += pc.code;
  }
  return s;
}

Status check_offset(std::string_view name, std::int64_t v) {
  if (v < 0 || v > FramingSettings::kMaxOffset) {
    return fail(errc::invalid_setting, std::string(name) + " " + std::to_string(v) + " is outside 0.." +
                                           std::to_string(FramingSettings::kMaxOffset));
  }
  return {};
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto pos = s.find(sep);
    parts.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return parts;
    s.remove_prefix(pos + 1);
  }
}

}  // namespace

Result<FramingSettings> FramingSettings::length(char length_type, std::int64_t length_offset,
                                                std::int64_t body_offset, std::int64_t max_length) {
  const detail::PackCode* pc = detail::find_pack_code(length_type);
  if (pc == nullptr) {
    // FRM-2: a settings error now, never a surprise on the first packet.
    return fail(errc::invalid_setting, std::string("package_length_type: '") + length_type +
                                           "' is not a supported pack code (" + pack_code_list() + ")");
  }
  if (auto s = check_offset("package_length_offset", length_offset); !s) return forward_error(std::move(s).error());
  if (auto s = check_offset("package_body_offset", body_offset); !s) return forward_error(std::move(s).error());
  const std::int64_t header_end = length_offset + pc->width;
  // FRM-5: Swoole raises a small package_max_length to 65536; we keep the user's limit and refuse
  // one that no packet could satisfy.
  if (max_length < body_offset) {
    return fail(errc::invalid_setting, "package_max_length " + std::to_string(max_length) +
                                           " is below package_body_offset " + std::to_string(body_offset));
  }
  if (max_length < header_end) {
    return fail(errc::invalid_setting, "package_max_length " + std::to_string(max_length) +
                                           " is below the end of the length field (package_length_offset " +
                                           std::to_string(length_offset) + " + " + std::to_string(pc->width) +
                                           " bytes of '" + length_type + "')");
  }
  FramingSettings s;
  s.mode_ = FramingMode::length;
  s.length_type_ = length_type;
  s.length_offset_ = static_cast<std::size_t>(length_offset);
  s.body_offset_ = static_cast<std::size_t>(body_offset);
  s.header_end_ = static_cast<std::size_t>(header_end);
  s.max_length_ = static_cast<std::size_t>(max_length);
  return s;
}

Result<FramingSettings> FramingSettings::eof(FramingMode mode, std::string_view package_eof, std::int64_t max_length) {
  if (package_eof.empty() || package_eof.size() > kMaxEofBytes) {
    return fail(errc::invalid_setting, "package_eof must be 1.." + std::to_string(kMaxEofBytes) + " bytes, got " +
                                           std::to_string(package_eof.size()));
  }
  if (max_length < static_cast<std::int64_t>(package_eof.size())) {
    return fail(errc::invalid_setting, "package_max_length " + std::to_string(max_length) +
                                           " is below the package_eof size " + std::to_string(package_eof.size()));
  }
  FramingSettings s;
  s.mode_ = mode;
  s.max_length_ = static_cast<std::size_t>(max_length);
  package_eof.copy(s.eof_, package_eof.size());
  s.eof_size_ = package_eof.size();
  return s;
}

Result<FramingSettings> FramingSettings::eof_split(std::string_view package_eof, std::int64_t max_length) {
  return eof(FramingMode::eof_split, package_eof, max_length);
}

Result<FramingSettings> FramingSettings::eof_check(std::string_view package_eof, std::int64_t max_length) {
  return eof(FramingMode::eof_check, package_eof, max_length);
}

Result<FramingSettings> FramingSettings::parse(std::string_view spec) {
  const auto parts = split(spec, ':');
  const std::string_view kind = parts.front();
  if (kind == "none" && parts.size() == 1) return none();
  if (kind == "length" && parts.size() == 5) {
    if (parts[1].size() != 1) return detail::bad_setting("package_length_type", parts[1], "one pack code letter");
    auto length_offset = detail::parse_integer("package_length_offset", parts[2]);
    if (!length_offset) return forward_error(std::move(length_offset).error());
    auto body_offset = detail::parse_integer("package_body_offset", parts[3]);
    if (!body_offset) return forward_error(std::move(body_offset).error());
    auto max_length = detail::parse_size("package_max_length", parts[4]);
    if (!max_length) return forward_error(std::move(max_length).error());
    return length(parts[1][0], *length_offset, *body_offset, *max_length);
  }
  if ((kind == "eof-split" || kind == "eof-check") && parts.size() == 3) {
    auto eof_bytes = detail::parse_hex("package_eof", parts[1]);
    if (!eof_bytes) return forward_error(std::move(eof_bytes).error());
    auto max_length = detail::parse_size("package_max_length", parts[2]);
    if (!max_length) return forward_error(std::move(max_length).error());
    return eof(kind == "eof-split" ? FramingMode::eof_split : FramingMode::eof_check, *eof_bytes, *max_length);
  }
  return fail(errc::invalid_setting, "framing spec '" + std::string(spec) + "' is not " + std::string(kSpecForms));
}

std::string FramingSettings::to_spec() const {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (mode_) {
    case FramingMode::none:
      return "none";
    case FramingMode::length:
      return std::string("length:") + length_type_ + ":" + std::to_string(length_offset_) + ":" +
             std::to_string(body_offset_) + ":" + std::to_string(max_length_);
    case FramingMode::eof_split:
    case FramingMode::eof_check: {
      std::string s = mode_ == FramingMode::eof_split ? "eof-split:" : "eof-check:";
      for (char ch : package_eof()) {
        const auto c = static_cast<unsigned char>(ch);
        s += kHex[c >> 4];
        s += kHex[c & 0xf];
      }
      return s + ":" + std::to_string(max_length_);
    }
  }
  return "none";
}

}  // namespace procspec

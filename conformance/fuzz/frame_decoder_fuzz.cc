// libFuzzer target for FrameDecoder (FRM-10): settings come from the first input bytes, the rest
// is the stream, cut into reads by a PRNG seeded from the input. Checks, beyond ASan/UBSan:
//   - delivered packets, concatenated, are a prefix of the stream (nothing invented, lost or
//     reordered), and without a close they plus the pending bytes are the whole stream;
//   - every packet respects max_length and its mode's shape (length field, EOF at the end);
//   - length and eof_split give the same packets and close reason for one read and for any cut;
//   - a closed decoder delivers nothing more.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "procspec/framing.h"
#include "procspec/log.h"
#include "protocol/pack_code.h"

namespace {

using procspec::FrameDecoder;
using procspec::FramingMode;
using procspec::FramingSettings;

#define FUZZ_ASSERT(cond)                                                  \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                        \
    }                                                                      \
  } while (0)

struct Run {
  std::vector<std::string> packets;
  std::string closed;  // empty when not closed
  std::size_t pending = 0;
};

Run run(const FramingSettings& settings, std::string_view stream, const std::vector<std::size_t>& cuts) {
  Run r;
  FrameDecoder decoder(settings);
  std::size_t pos = 0;
  for (std::size_t i = 0; i <= cuts.size() && r.closed.empty(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : stream.size();
    // Each read in its own heap block of exactly its size, so ASan sees any over-read.
    auto read = std::make_unique<char[]>(end - pos);
    std::memcpy(read.get(), stream.data() + pos, end - pos);
    auto status = decoder.feed(std::string_view(read.get(), end - pos), [&](std::string_view p) {
      FUZZ_ASSERT(p.data() != nullptr || p.empty());
      r.packets.emplace_back(p);
    });
    if (!status) {
      r.closed = status.error().message;
      FUZZ_ASSERT(decoder.closed());
      FUZZ_ASSERT(!r.closed.empty());
      bool called = false;
      FUZZ_ASSERT(!decoder.feed("more bytes", [&](std::string_view) { called = true; }));
      FUZZ_ASSERT(!called);
    }
    pos = end;
  }
  r.pending = decoder.pending();
  return r;
}

void check_shape(const FramingSettings& s, const Run& r, std::string_view stream, const std::vector<std::size_t>& cuts) {
  std::string joined;
  for (const auto& p : r.packets) joined += p;
  FUZZ_ASSERT(stream.substr(0, joined.size()) == joined);
  if (r.closed.empty()) FUZZ_ASSERT(joined.size() + r.pending == stream.size());
  if (s.mode() == FramingMode::none) {
    // FRM-9: one packet per non-empty read, equal to it.
    std::size_t pos = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
      const std::size_t end = i < cuts.size() ? cuts[i] : stream.size();
      if (end > pos) FUZZ_ASSERT(k < r.packets.size() && r.packets[k++] == stream.substr(pos, end - pos));
      pos = end;
    }
    FUZZ_ASSERT(k == r.packets.size());
    return;
  }
  const std::string_view eof = s.package_eof();
  for (const auto& p : r.packets) {
    FUZZ_ASSERT(p.size() <= s.max_length());
    if (s.mode() == FramingMode::length) {
      FUZZ_ASSERT(p.size() >= s.header_end());
      const auto* pc = procspec::detail::find_pack_code(s.length_type());
      const auto field = procspec::detail::read_length_field(
          *pc, reinterpret_cast<const unsigned char*>(p.data()) + s.length_offset());
      FUZZ_ASSERT(field.value >= 0 && s.body_offset() + static_cast<std::uint64_t>(field.value) == p.size());
    } else {
      FUZZ_ASSERT(p.size() >= eof.size() && p.substr(p.size() - eof.size()) == eof);
      // eof_split: the EOF at the end is the first one in the packet.
      if (s.mode() == FramingMode::eof_split) FUZZ_ASSERT(p.find(eof) == p.size() - eof.size());
    }
  }
}

// Settings from the first bytes: mode, pack code (sometimes an invalid one, which must be
// refused), offsets, max_length, EOF.
std::optional<FramingSettings> settings_from(const std::uint8_t*& data, std::size_t& size) {
  if (size < 6) return std::nullopt;
  const std::uint8_t mode = data[0] % 4;
  const std::uint8_t code_index = data[1];
  const std::int64_t length_offset = data[2] % 12;
  const std::int64_t body_offset = data[3] % 20;
  const std::int64_t max_length = 1 + (data[4] | (data[5] << 8)) % 600;
  data += 6;
  size -= 6;
  if (mode == 0) return FramingSettings::none();
  if (mode == 1) {
    const char code = code_index < 14 ? procspec::detail::kPackCodes[code_index].code : static_cast<char>(code_index);
    auto s = FramingSettings::length(code, length_offset, body_offset, max_length);
    if (code_index < 14 && max_length >= body_offset &&
        max_length >= length_offset + procspec::detail::kPackCodes[code_index].width) {
      FUZZ_ASSERT(s.has_value());
    }
    if (!s) return std::nullopt;
    return *s;
  }
  const std::size_t eof_size = std::min<std::size_t>(1 + code_index % 8, size);
  const std::string_view eof(reinterpret_cast<const char*>(data), eof_size);
  data += eof_size;
  size -= eof_size;
  auto s = mode == 2 ? FramingSettings::eof_split(eof, max_length) : FramingSettings::eof_check(eof, max_length);
  if (!s) return std::nullopt;
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  procspec::set_log_level(procspec::LogLevel::off);  // closes are expected; keep stderr quiet
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t seed = data[0];
  auto settings = settings_from(data, size);
  if (!settings) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data), size);
  std::mt19937 rng(seed);
  std::vector<std::size_t> cuts;
  for (std::size_t pos = 0; pos < size;) {
    pos += std::uniform_int_distribution<std::size_t>(0, 40)(rng);
    if (pos < size) cuts.push_back(pos);
  }
  const Run chunked = run(*settings, stream, cuts);
  check_shape(*settings, chunked, stream, cuts);
  if (settings->mode() == FramingMode::length || settings->mode() == FramingMode::eof_split) {
    // FRM-10: the chunking changes nothing.
    const Run whole = run(*settings, stream, {});
    check_shape(*settings, whole, stream, {});
    FUZZ_ASSERT(whole.packets == chunked.packets);
    FUZZ_ASSERT(whole.closed == chunked.closed);
    FUZZ_ASSERT(whole.pending == chunked.pending);
  }
  return 0;
}

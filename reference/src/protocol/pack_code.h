#pragma once
// FRM-2: the length field types of the length protocol, spelled as PHP pack() codes (Swoole 6's
// set). Private to the protocol domain: users name a code by its letter.
//
//   code  width  signed  byte order        code  width  signed  byte order
//   c     1      yes     -                 N     4      no      big (default)
//   C     1      no      -                 V     4      no      little
//   s     2      yes     host              q     8      yes     host
//   S     2      no      host              Q     8      no      host
//   n     2      no      big               J     8      no      big
//   v     2      no      little            P     8      no      little
//   l     4      yes     host
//   L     4      no      host
//
// Unsigned 64-bit values >= 2^63 are treated as negative, as Swoole returns them as int64.
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace procspec::detail {

enum class ByteOrder : std::uint8_t { host, big, little };

struct PackCode {
  char code;
  std::uint8_t width;
  bool is_signed;
  ByteOrder order;
};

inline constexpr PackCode kPackCodes[] = {
    {'c', 1, true, ByteOrder::host},  {'C', 1, false, ByteOrder::host},
    {'s', 2, true, ByteOrder::host},  {'S', 2, false, ByteOrder::host},
    {'n', 2, false, ByteOrder::big},  {'v', 2, false, ByteOrder::little},
    {'l', 4, true, ByteOrder::host},  {'L', 4, false, ByteOrder::host},
    {'N', 4, false, ByteOrder::big},  {'V', 4, false, ByteOrder::little},
    {'q', 8, true, ByteOrder::host},  {'Q', 8, false, ByteOrder::host},
    {'J', 8, false, ByteOrder::big},  {'P', 8, false, ByteOrder::little},
};

// nullptr for a code outside FRM-2's set (i and I included: Swoole decodes them but refuses them
// as a length type).
constexpr const PackCode* find_pack_code(char code) noexcept {
  for (const auto& pc : kPackCodes) {
    if (pc.code == code) return &pc;
  }
  return nullptr;
}

// The header value as the protocol means it: `value` is what Swoole's unpack returns (int64),
// `raw` the field's bits zero-extended, so a message can show 2^63 rather than its negative alias.
struct LengthField {
  std::int64_t value;
  std::uint64_t raw;
};

namespace pack_detail {
template <class U>
U load(const unsigned char* p, ByteOrder order) noexcept {
  U v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (sizeof(U) > 1) {
    const bool swap = (order == ByteOrder::big && std::endian::native == std::endian::little) ||
                      (order == ByteOrder::little && std::endian::native == std::endian::big);
    if (swap) {
      if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
      if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
      if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
    }
  }
  return v;
}
}  // namespace pack_detail

// Reads pc.width bytes at p. The caller guarantees they are there.
inline LengthField read_length_field(const PackCode& pc, const unsigned char* p) noexcept {
  using pack_detail::load;
  switch (pc.width) {
    case 1: {
      const std::uint8_t u = *p;
      return {pc.is_signed ? static_cast<std::int8_t>(u) : std::int64_t{u}, u};
    }
    case 2: {
      const auto u = load<std::uint16_t>(p, pc.order);
      return {pc.is_signed ? static_cast<std::int16_t>(u) : std::int64_t{u}, u};
    }
    case 4: {
      const auto u = load<std::uint32_t>(p, pc.order);
      return {pc.is_signed ? static_cast<std::int32_t>(u) : std::int64_t{u}, u};
    }
    default: {
      const auto u = load<std::uint64_t>(p, pc.order);
      return {static_cast<std::int64_t>(u), u};
    }
  }
}

// The inverse, for tests, benchmarks and the fuzzer's own checks: writes v's low pc.width bytes.
inline void write_length_field(const PackCode& pc, std::uint64_t v, unsigned char* p) noexcept {
  const bool big = pc.order == ByteOrder::big ||
                   (pc.order == ByteOrder::host && std::endian::native == std::endian::big);
  for (unsigned i = 0; i < pc.width; ++i) {
    const unsigned shift = 8 * (big ? pc.width - 1 - i : i);
    p[i] = static_cast<unsigned char>(v >> shift);
  }
}

}  // namespace procspec::detail

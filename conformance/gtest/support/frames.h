#pragma once
// Helpers shared by the framing test programs: run a decoder over chunks and collect what it
// delivered, build length-protocol packets, cut a stream at random places.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "procspec/framing.h"
#include "protocol/pack_code.h"

namespace procspec::test {

struct Decoded {
  std::vector<std::string> packets;
  std::optional<Error> closed;  // the first close error, if any

  std::string joined() const {
    std::string s;
    for (const auto& p : packets) s += p;
    return s;
  }
};

// Feeds every chunk in order through one decoder; stops feeding after a close.
inline Decoded decode_chunks(FrameDecoder& decoder, const std::vector<std::string>& chunks) {
  Decoded out;
  for (const auto& chunk : chunks) {
    auto status = decoder.feed(chunk, [&](std::string_view p) { out.packets.emplace_back(p); });
    if (!status) {
      out.closed = status.error();
      break;
    }
  }
  return out;
}

inline Decoded decode_chunks(const FramingSettings& settings, const std::vector<std::string>& chunks) {
  FrameDecoder decoder(settings);
  return decode_chunks(decoder, chunks);
}

inline Decoded decode(const FramingSettings& settings, std::string_view stream) {
  return decode_chunks(settings, {std::string(stream)});
}

inline FramingSettings must(Result<FramingSettings> r) {
  if (!r) ADD_FAILURE() << r.error().message;
  return r.value_or(FramingSettings::none());
}

inline const detail::PackCode& pack_code(char c) {
  const detail::PackCode* pc = detail::find_pack_code(c);
  PROCSPEC_CHECK(pc != nullptr, "test asked for an unknown pack code");
  return *pc;
}

// The header (max(body_offset, length_offset + width) bytes of `fill`) with `length` written at
// length_offset, then `body`. Malformed-length tests pass any length they like.
inline std::string length_packet(char code, std::size_t length_offset, std::size_t body_offset,
                                 std::uint64_t length, std::string_view body = {}, char fill = 'h') {
  const auto& pc = pack_code(code);
  std::string packet(std::max<std::size_t>(body_offset, length_offset + pc.width), fill);
  detail::write_length_field(pc, length, reinterpret_cast<unsigned char*>(packet.data() + length_offset));
  packet += body;
  return packet;
}

// A well-formed packet carrying `body`: L is computed so that body_offset + L is the whole packet
// (when body_offset is below the end of the length field, L counts those header bytes too).
inline std::string framed(char code, std::size_t length_offset, std::size_t body_offset, std::string_view body,
                          char fill = 'h') {
  const std::size_t header = std::max<std::size_t>(body_offset, length_offset + pack_code(code).width);
  return length_packet(code, length_offset, body_offset, header + body.size() - body_offset, body, fill);
}

// Splits `stream` into pieces at random cut points (empty pieces allowed: a zero-byte read).
inline std::vector<std::string> random_chunks(std::string_view stream, std::mt19937_64& rng) {
  std::vector<std::string> chunks;
  std::size_t pos = 0;
  const std::size_t max_piece = std::uniform_int_distribution<std::size_t>(1, 64)(rng);
  while (pos < stream.size()) {
    const std::size_t piece = std::uniform_int_distribution<std::size_t>(0, max_piece)(rng);
    chunks.emplace_back(stream.substr(pos, piece));
    pos += std::min(piece, stream.size() - pos);
  }
  return chunks;
}

inline std::vector<std::string> byte_by_byte(std::string_view stream) {
  std::vector<std::string> chunks;
  for (char c : stream) chunks.emplace_back(1, c);
  return chunks;
}

}  // namespace procspec::test

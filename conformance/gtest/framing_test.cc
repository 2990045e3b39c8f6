// FrameDecoder, length protocol and none (FRM-1, FRM-3, FRM-4, FRM-9, FRM-10). EOF modes are in
// framing_eof_test.cc, the pack codes in framing_pack_code_test.cc, settings in
// framing_settings_test.cc.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "procspec/framing.h"
#include "procspec/log.h"
#include "support/frames.h"
#include "support/seed.h"

namespace procspec {
namespace {

using test::byte_by_byte;
using test::decode;
using test::decode_chunks;
using test::framed;
using test::length_packet;
using test::must;

FramingSettings length_n(std::int64_t body_offset = 4, std::int64_t max_length = 1024) {
  return must(FramingSettings::length('N', 0, body_offset, max_length));
}

bool has(const std::optional<Error>& e, std::string_view text) {
  return e && e->code == errc::frame_invalid && e->message.find(text) != std::string::npos;
}

TEST(FrameDecoder, FRM1_PacketIsBodyOffsetPlusLengthIncludingHeader) {
  // length field 'n' at offset 2, body at 8: a 6-byte prefix of which 2 bytes are the field.
  const auto settings = must(FramingSettings::length('n', 2, 8, 1024));
  const std::string packet = framed('n', 2, 8, "hello", 'x');
  ASSERT_EQ(packet.size(), 13u);
  EXPECT_EQ(packet.substr(2, 2), std::string("\x00\x05", 2));
  const auto got = decode(settings, packet + packet);
  EXPECT_FALSE(got.closed);
  EXPECT_EQ(got.packets, (std::vector<std::string>{packet, packet}));
}

TEST(FrameDecoder, FRM1_BodyOffsetZeroMeansLengthCountsTheWholePacket) {
  const auto settings = length_n(0);
  const std::string packet = framed('N', 0, 0, "abc");  // L = 4 + 3
  EXPECT_EQ(packet, std::string("\x00\x00\x00\x07" "abc", 7));
  EXPECT_EQ(decode(settings, packet).packets, std::vector<std::string>{packet});
}

TEST(FrameDecoder, FRM3_SeveralPacketsInOneReadComeOutInOrder) {
  std::string stream;
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    expected.push_back(framed('N', 0, 4, std::string(static_cast<std::size_t>(i * 7), static_cast<char>('a' + i))));
    stream += expected.back();
  }
  EXPECT_EQ(decode(length_n(), stream).packets, expected);
}

TEST(FrameDecoder, FRM3_HeaderSplitAcrossReads) {
  const std::string packet = framed('N', 0, 4, "payload");
  // The 4-byte header arrives as 1 + 2 + (1 + body), then a second packet's header as 3 + rest.
  const auto got = decode_chunks(length_n(), {packet.substr(0, 1), packet.substr(1, 2), packet.substr(3) + packet.substr(0, 3),
                                              packet.substr(3)});
  EXPECT_FALSE(got.closed);
  EXPECT_EQ(got.packets, (std::vector<std::string>{packet, packet}));
}

TEST(FrameDecoder, FRM3_ByteByByteDeliversEachPacketOnceWhole) {
  const std::string stream = framed('N', 0, 4, "first") + framed('N', 0, 4, "") + framed('N', 0, 4, "third");
  const auto got = decode_chunks(length_n(), byte_by_byte(stream));
  EXPECT_EQ(got.packets.size(), 3u);
  EXPECT_EQ(got.joined(), stream);
}

TEST(FrameDecoder, FRM3_PacketsContiguousInTheReadAreNotCopied) {
  const std::string stream = framed('N', 0, 4, "one") + framed('N', 0, 4, "two");
  FrameDecoder decoder(length_n());
  std::vector<const char*> starts;
  ASSERT_TRUE(decoder.feed(stream, [&](std::string_view p) { starts.push_back(p.data()); }));
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0], stream.data());
  EXPECT_EQ(starts[1], stream.data() + 7);
}

std::size_t g_packets_seen = 0;
void count_packet(std::string_view) { ++g_packets_seen; }

TEST(FrameDecoder, FRM3_AnyCallableReceivesThePackets) {
  const std::string stream = framed('N', 0, 4, "a") + framed('N', 0, 4, "b");
  FrameDecoder decoder(length_n());
  std::size_t bytes = 0;
  const auto const_lambda = [&bytes](std::string_view p) { bytes += p.size(); };
  ASSERT_TRUE(decoder.feed(stream, const_lambda));
  EXPECT_EQ(bytes, stream.size());
  g_packets_seen = 0;
  ASSERT_TRUE(decoder.feed(stream, count_packet));
  EXPECT_EQ(g_packets_seen, 2u);
}

TEST(FrameDecoder, FRM4_ZeroLengthWithBodyOffsetIsAHeaderOnlyPacket) {
  const std::string header = length_packet('N', 0, 4, 0);
  const auto got = decode(length_n(), header + framed('N', 0, 4, "x"));
  EXPECT_FALSE(got.closed);
  ASSERT_EQ(got.packets.size(), 2u);
  EXPECT_EQ(got.packets[0], header);
}

TEST(FrameDecoder, FRM4_ZeroLengthWithZeroBodyOffsetCloses) {
  const auto got = decode(length_n(0), length_packet('N', 0, 0, 0) + "more");
  EXPECT_TRUE(got.packets.empty());
  EXPECT_TRUE(has(got.closed, "length 0 in the 'N' field")) << got.closed->message;
}

TEST(FrameDecoder, FRM4_LengthShorterThanItsOwnHeaderCloses) {
  const auto got = decode(length_n(0), length_packet('N', 0, 0, 3) + "xyz");
  EXPECT_TRUE(has(got.closed, "length 3")) << got.closed->message;
  EXPECT_TRUE(has(got.closed, "shorter than its own 4-byte header"));
}

TEST(FrameDecoder, FRM4_SignedNegativeLengthCloses) {
  const auto settings = must(FramingSettings::length('l', 0, 4, 1024));
  const auto got = decode(settings, length_packet('l', 0, 4, static_cast<std::uint64_t>(-1)) + "body");
  EXPECT_TRUE(got.packets.empty());
  EXPECT_TRUE(has(got.closed, "length -1 in the 'l' field at offset 0 is negative")) << got.closed->message;
}

TEST(FrameDecoder, FRM4_SixtyFourBitLengthAtOrAbove2Pow63Closes) {
  for (char code : {'Q', 'J', 'P'}) {
    for (std::uint64_t v : {std::uint64_t{1} << 63, std::numeric_limits<std::uint64_t>::max()}) {
      SCOPED_TRACE(std::string("code ") + code + " value " + std::to_string(v));
      const auto settings = must(FramingSettings::length(code, 0, 8, 1024));
      const auto got = decode(settings, length_packet(code, 0, 8, v));
      EXPECT_TRUE(has(got.closed, "length " + std::to_string(v))) << got.closed->message;
      EXPECT_TRUE(has(got.closed, ">= 2^63"));
    }
  }
  // 2^63 - 1 is a valid (if huge) length: it is refused for max_length, not for its sign.
  const auto got = decode(must(FramingSettings::length('J', 0, 8, 1024)), length_packet('J', 0, 8, (std::uint64_t{1} << 63) - 1));
  EXPECT_TRUE(has(got.closed, "above package_max_length 1024")) << got.closed->message;
}

TEST(FrameDecoder, FRM4_PacketOfExactlyMaxLengthIsDelivered) {
  const std::string packet = framed('N', 0, 4, std::string(60, 'b'));
  ASSERT_EQ(packet.size(), 64u);
  const auto got = decode_chunks(length_n(4, 64), byte_by_byte(packet));
  EXPECT_FALSE(got.closed);
  EXPECT_EQ(got.packets, std::vector<std::string>{packet});
}

TEST(FrameDecoder, FRM4_OneByteOverMaxLengthClosesOnTheHeaderAlone) {
  // The header is enough: the decoder does not wait for (or buffer) the 65-byte packet.
  const auto got = decode(length_n(4, 64), length_packet('N', 0, 4, 61));
  EXPECT_TRUE(has(got.closed, "length 61 in the 'N' field at offset 0 makes a 65-byte packet, above package_max_length 64"))
      << got.closed->message;
}

TEST(FrameDecoder, FRM4_PacketsBeforeAMalformedHeaderAreDeliveredThenItCloses) {
  const std::string good = framed('N', 0, 4, "ok");
  const auto got = decode(length_n(4, 64), good + good + length_packet('N', 0, 4, 1000) + good);
  EXPECT_EQ(got.packets, (std::vector<std::string>{good, good}));
  EXPECT_TRUE(has(got.closed, "length 1000"));
}

TEST(FrameDecoder, FRM4_CloseIsLoggedAsAWarningNamingTheLength) {
  LogCapture capture;
  FrameDecoder decoder(length_n(4, 64));
  EXPECT_FALSE(decoder.feed(length_packet('N', 0, 4, 5000), [](std::string_view) {}));
  EXPECT_TRUE(capture.warned());
  EXPECT_TRUE(capture.contains("length 5000"));
}

TEST(FrameDecoder, FRM4_ClosedDecoderDeliversNothingMore) {
  FrameDecoder decoder(length_n(4, 64));
  EXPECT_FALSE(decoder.feed(length_packet('N', 0, 4, 5000), [](std::string_view) {}));
  ASSERT_TRUE(decoder.closed());
  int calls = 0;
  auto again = decoder.feed(framed('N', 0, 4, "fine"), [&](std::string_view) { ++calls; });
  EXPECT_FALSE(again);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(again.error().message, decoder.close_reason()->message);
  EXPECT_EQ(decoder.pending(), 0u);
}

TEST(FrameDecoder, FRM4_IncompletePacketStaysPendingWithoutClosing) {
  FrameDecoder decoder(length_n());
  const std::string packet = framed('N', 0, 4, "0123456789");
  int calls = 0;
  ASSERT_TRUE(decoder.feed(std::string_view(packet).substr(0, 9), [&](std::string_view) { ++calls; }));
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(decoder.closed());
  EXPECT_EQ(decoder.pending(), 9u);
  ASSERT_TRUE(decoder.feed(std::string_view(packet).substr(9), [&](std::string_view p) {
    ++calls;
    EXPECT_EQ(p, packet);
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(decoder.pending(), 0u);
}

TEST(FrameDecoder, FRM4_OtherConnectionsAreUnaffected) {
  // Two connections' decoders fed interleaved: one is closed by a bad header, the other goes on.
  FrameDecoder bad(length_n(4, 64));
  FrameDecoder good(length_n(4, 64));
  const std::string packet = framed('N', 0, 4, "still here");
  std::vector<std::string> got;
  auto keep = [&](std::string_view p) { got.emplace_back(p); };
  ASSERT_TRUE(good.feed(std::string_view(packet).substr(0, 5), keep));
  EXPECT_FALSE(bad.feed(length_packet('N', 0, 4, 99999), keep));
  ASSERT_TRUE(good.feed(std::string_view(packet).substr(5), keep));
  ASSERT_TRUE(good.feed(packet, keep));
  EXPECT_TRUE(bad.closed());
  EXPECT_FALSE(good.closed());
  EXPECT_EQ(got, (std::vector<std::string>{packet, packet}));
}

TEST(FrameDecoder, FRM9_NoProtocolDeliversEachReadAsItCame) {
  const std::vector<std::string> reads = {"GET / HT", "TP/1.1\r\n\r\nGET", "x"};
  const auto got = decode_chunks(FramingSettings::none(), {reads[0], "", reads[1], reads[2]});
  EXPECT_FALSE(got.closed);
  EXPECT_EQ(got.packets, reads);  // the empty read delivers nothing
}

TEST(FrameDecoder, FRM10_ResetForgetsPendingBytesAndAClose) {
  FrameDecoder decoder(length_n(4, 64));
  EXPECT_FALSE(decoder.feed(length_packet('N', 0, 4, 5000), [](std::string_view) {}));
  decoder.reset();
  EXPECT_FALSE(decoder.closed());
  const std::string packet = framed('N', 0, 4, "again");
  const auto got = decode_chunks(decoder, {packet});
  EXPECT_EQ(got.packets, std::vector<std::string>{packet});
}

TEST(FrameDecoderDeathTest, FRM10_FeedingFromItsOwnCallbackIsAProgrammerError) {
  EXPECT_DEATH(
      {
        FrameDecoder decoder(length_n());
        const std::string packet = framed('N', 0, 4, "x");
        (void)decoder.feed(packet, [&](std::string_view) { (void)decoder.feed(packet, [](std::string_view) {}); });
      },
      "its own packet callback");
}

// A random length-protocol configuration and a stream of valid packets for it, optionally
// followed by a malformed header and trailing bytes.
struct LengthCase {
  FramingSettings settings = FramingSettings::none();
  std::vector<std::string> packets;
  std::string stream;
  bool malformed = false;
};

LengthCase random_length_case(std::mt19937_64& rng) {
  auto pick = [&](std::uint64_t lo, std::uint64_t hi) { return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng); };
  const auto& pc = detail::kPackCodes[pick(0, std::size(detail::kPackCodes) - 1)];
  const std::size_t length_offset = pick(0, 6);
  const std::size_t header_end = length_offset + pc.width;
  const std::size_t body_offset = pick(0, 3) == 0 ? pick(0, header_end) : header_end + pick(0, 4);
  const std::uint64_t code_max = pc.width == 1 ? (pc.is_signed ? 127 : 255) : 400;
  const std::size_t max_length = std::max(header_end, body_offset) + pick(0, 300);
  LengthCase c;
  c.settings = test::must(FramingSettings::length(pc.code, static_cast<std::int64_t>(length_offset),
                                                  static_cast<std::int64_t>(body_offset), static_cast<std::int64_t>(max_length)));
  const std::size_t header = std::max(header_end, body_offset);
  const std::size_t count = pick(0, 30);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t room = std::min<std::uint64_t>(max_length - header, code_max - (header - body_offset));
    std::string body(pick(0, std::min<std::uint64_t>(room, 200)), '\0');
    for (auto& ch : body) ch = static_cast<char>(pick(0, 255));
    c.packets.push_back(framed(pc.code, length_offset, body_offset, body, static_cast<char>(pick(0, 255))));
    c.stream += c.packets.back();
  }
  if (pick(0, 3) == 0 && max_length - body_offset + 1 <= code_max) {
    c.malformed = true;
    c.stream += length_packet(pc.code, length_offset, body_offset, max_length - body_offset + 1) + "tail";
  }
  return c;
}

TEST(FrameDecoder, FRM3_AnyChunkingYieldsSamePackets) {
  // spec: FRM-10 FRM-1 FRM-2 FRM-4
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with PROCSPEC_SEED=" + std::to_string(seed) + ")");
  std::printf("FRM3_AnyChunkingYieldsSamePackets seed=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 300; ++round) {
    const LengthCase c = random_length_case(rng);
    SCOPED_TRACE("round " + std::to_string(round) + " settings " + c.settings.to_spec());
    const auto whole = decode(c.settings, c.stream);
    ASSERT_EQ(whole.packets, c.packets);
    ASSERT_EQ(whole.closed.has_value(), c.malformed) << (whole.closed ? whole.closed->message : "");
    for (int chunking = 0; chunking < 6; ++chunking) {
      const auto chunks = chunking == 0 ? byte_by_byte(c.stream) : test::random_chunks(c.stream, rng);
      const auto got = decode_chunks(c.settings, chunks);
      ASSERT_EQ(got.packets, c.packets) << "chunking " << chunking;
      ASSERT_EQ(got.closed.has_value(), c.malformed);
      if (got.closed) {
        ASSERT_EQ(got.closed->message, whole.closed->message);
      }
    }
  }
}

}  // namespace
}  // namespace procspec

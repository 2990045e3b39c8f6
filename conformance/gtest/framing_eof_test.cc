// FrameDecoder, EOF modes (FRM-6 split, FRM-7 check, FRM-8 max_length without EOF).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "procspec/framing.h"
#include "support/frames.h"
#include "support/seed.h"

namespace procspec {
namespace {

using test::byte_by_byte;
using test::decode;
using test::decode_chunks;
using test::must;
using Packets = std::vector<std::string>;

FramingSettings split(std::string_view eof = "\r\n", std::int64_t max_length = 1024) {
  return must(FramingSettings::eof_split(eof, max_length));
}
FramingSettings check(std::string_view eof = "\r\n", std::int64_t max_length = 1024) {
  return must(FramingSettings::eof_check(eof, max_length));
}

bool closed_with(const test::Decoded& d, std::string_view text) {
  return d.closed && d.closed->code == errc::frame_invalid && d.closed->message.find(text) != std::string::npos;
}

TEST(FrameDecoder, FRM6_OneReadWithTwoPacketsGivesTwoPacketsIncludingTheEof) {
  const auto got = decode(split(), "a\r\nb\r\n");
  EXPECT_FALSE(got.closed);
  EXPECT_EQ(got.packets, (Packets{"a\r\n", "b\r\n"}));
}

TEST(FrameDecoder, FRM6_EmptyPacketIsDelivered) {
  EXPECT_EQ(decode(split(), "\r\n").packets, Packets{"\r\n"});
  EXPECT_EQ(decode(split(), "\r\n\r\nx\r\n").packets, (Packets{"\r\n", "\r\n", "x\r\n"}));
}

TEST(FrameDecoder, FRM6_EofSplitAcrossReadsIsFound) {
  const std::string eof = "<<END>>";
  const std::string stream = "first<<END>>second<<END>>";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const auto got = decode_chunks(split(eof), {stream.substr(0, cut), stream.substr(cut)});
    EXPECT_EQ(got.packets, (Packets{"first<<END>>", "second<<END>>"}));
  }
  EXPECT_EQ(decode_chunks(split(eof), byte_by_byte(stream)).packets, (Packets{"first<<END>>", "second<<END>>"}));
}

TEST(FrameDecoder, FRM6_EightByteEofAndSelfOverlappingEof) {
  EXPECT_EQ(decode(split("12345678"), "ab12345678c12345678").packets, (Packets{"ab12345678", "c12345678"}));
  // The first occurrence ends a packet: with EOF "aa", "xaaa" is "xaa" then a pending "a".
  FrameDecoder decoder(split("aa"));
  const auto got = decode_chunks(decoder, {"xa", "aa"});
  EXPECT_EQ(got.packets, Packets{"xaa"});
  EXPECT_EQ(decoder.pending(), 1u);
}

TEST(FrameDecoder, FRM6_PartialEofInTheBodyIsNotATerminator) {
  EXPECT_EQ(decode_chunks(split(), {"a\rb\n", "\r", "\n"}).packets, Packets{"a\rb\n\r\n"});
}

TEST(FrameDecoder, FRM6_ContiguousPacketsAreNotCopied) {
  const std::string stream = "one\r\ntwo\r\n";
  FrameDecoder decoder(split());
  std::vector<const char*> starts;
  ASSERT_TRUE(decoder.feed(stream, [&](std::string_view p) { starts.push_back(p.data()); }));
  EXPECT_EQ(starts, (std::vector<const char*>{stream.data(), stream.data() + 5}));
}

TEST(FrameDecoder, FRM6_AnyChunkingYieldsSamePackets) {
  // spec: FRM-3 FRM-8 FRM-10
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with PROCSPEC_SEED=" + std::to_string(seed) + ")");
  std::printf("FRM6_AnyChunkingYieldsSamePackets seed=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(rng); };
  for (int round = 0; round < 300; ++round) {
    // A small alphabet shared with the EOF makes near-misses and overlaps common.
    std::string eof(pick(1, 8), 'a');
    for (auto& ch : eof) ch = static_cast<char>('a' + pick(0, 2));
    const std::size_t max_length = eof.size() + pick(0, 60);
    const auto settings = split(eof, static_cast<std::int64_t>(max_length));
    SCOPED_TRACE("round " + std::to_string(round) + " settings " + settings.to_spec());
    // Random text; the expected packets come from a naive reference split.
    std::string stream(pick(0, 400), 'a');
    for (auto& ch : stream) ch = static_cast<char>('a' + pick(0, 3));
    Packets expected;
    bool over = false;
    std::size_t start = 0;
    for (;;) {
      const auto pos = stream.find(eof, start);
      const std::size_t end = pos == std::string::npos ? std::string::npos : pos + eof.size();
      // Closed once max_length bytes have arrived without an EOF among them.
      if (end == std::string::npos) {
        over = stream.size() - start >= max_length;
        break;
      }
      if (end - start > max_length) {
        over = true;
        break;
      }
      expected.push_back(stream.substr(start, end - start));
      start = end;
    }
    const auto whole = decode(settings, stream);
    ASSERT_EQ(whole.packets, expected);
    ASSERT_EQ(whole.closed.has_value(), over);
    for (int chunking = 0; chunking < 6; ++chunking) {
      const auto chunks = chunking == 0 ? byte_by_byte(stream) : test::random_chunks(stream, rng);
      const auto got = decode_chunks(settings, chunks);
      ASSERT_EQ(got.packets, expected) << "chunking " << chunking;
      ASSERT_EQ(got.closed.has_value(), over) << "chunking " << chunking;
    }
  }
}

TEST(FrameDecoder, FRM7_TwoPacketsInOneReadAreDeliveredAsOnePiece) {
  EXPECT_EQ(decode(check(), "a\r\nb\r\n").packets, Packets{"a\r\nb\r\n"});
}

TEST(FrameDecoder, FRM7_BufferIsDeliveredOnceItEndsWithTheEof) {
  const auto got = decode_chunks(check(), {"a\r\nb", "c\r", "\n", "d\r\n"});
  EXPECT_FALSE(got.closed);
  // The EOF inside the first read is not a boundary: the buffer did not end with it.
  EXPECT_EQ(got.packets, (Packets{"a\r\nbc\r\n", "d\r\n"}));
}

TEST(FrameDecoder, FRM7_ReadsEndingWithTheEofAreNotCopied) {
  const std::string read = "x\r\ny\r\n";
  FrameDecoder decoder(check());
  const char* start = nullptr;
  ASSERT_TRUE(decoder.feed(read, [&](std::string_view p) { start = p.data(); }));
  EXPECT_EQ(start, read.data());
}

TEST(FrameDecoder, FRM8_SplitPacketOfExactlyMaxLengthIsDelivered) {
  const std::string packet = std::string(14, 'p') + "\r\n";
  const auto got = decode_chunks(split("\r\n", 16), byte_by_byte(packet + packet));
  EXPECT_FALSE(got.closed);
  EXPECT_EQ(got.packets, (Packets{packet, packet}));
}

TEST(FrameDecoder, FRM8_SplitClosesWhenTheBufferReachesMaxLengthWithoutEof) {
  // 16 bytes and no EOF: closed at once, without waiting for the 17th byte.
  const auto got = decode_chunks(split("\r\n", 16), {"ok\r\n", std::string(10, 'x'), std::string(6, 'x')});
  EXPECT_EQ(got.packets, Packets{"ok\r\n"});
  EXPECT_TRUE(closed_with(got, "reached package_max_length 16 bytes without package_eof")) << got.closed->message;
}

TEST(FrameDecoder, FRM8_SplitEofOneByteBeyondMaxLengthCloses) {
  // 15 body bytes + "\r\n" = 17 > 16, whether the EOF arrives in one read or straddles two.
  const std::string packet = std::string(15, 'p') + "\r\n";
  EXPECT_TRUE(closed_with(decode(split("\r\n", 16), packet), "package_max_length 16"));
  EXPECT_TRUE(closed_with(decode_chunks(split("\r\n", 16), {packet.substr(0, 16), packet.substr(16)}), "package_max_length 16"));
  EXPECT_TRUE(closed_with(decode_chunks(split("\r\n", 16), {packet.substr(0, 15), packet.substr(15)}), "package_max_length 16"));
}

TEST(FrameDecoder, FRM8_CheckClosesWhenTheBufferReachesMaxLengthWithoutEof) {
  const auto got = decode_chunks(check("\r\n", 16), {std::string(8, 'x'), std::string(8, 'x'), "\r\n"});
  EXPECT_TRUE(got.packets.empty());
  EXPECT_TRUE(closed_with(got, "reached package_max_length 16 bytes")) << got.closed->message;
}

TEST(FrameDecoder, FRM8_CheckBufferOfExactlyMaxLengthEndingWithEofIsDelivered) {
  const std::string piece = std::string(14, 'c') + "\r\n";
  const auto got = decode_chunks(check("\r\n", 16), {piece.substr(0, 5), piece.substr(5)});
  EXPECT_FALSE(got.closed);
  EXPECT_EQ(got.packets, Packets{piece});
  // A read longer than max_length is taken max_length bytes at a time, like a bounded recv().
  EXPECT_EQ(decode(check("\r\n", 16), piece + piece).packets, (Packets{piece, piece}));
  EXPECT_TRUE(decode(check("\r\n", 16), piece + "x" + piece).closed);
}

}  // namespace
}  // namespace procspec

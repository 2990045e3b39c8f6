// FRM-2: every pack code of the length protocol, with its width, sign and byte order. The
// parameter name carries the code letter (e.g. PackCodes/FrameDecoderPackCode.FRM2_..../N_uint32_be).
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "procspec/framing.h"
#include "protocol/pack_code.h"
#include "support/frames.h"

namespace procspec {
namespace detail {
// gtest prints parameters of failing tests; show the code, not the struct's bytes.
void PrintTo(const PackCode& pc, std::ostream* os) { *os << "pack code '" << pc.code << "'"; }
}  // namespace detail
namespace {

using detail::ByteOrder;
using detail::PackCode;
using test::decode;
using test::decode_chunks;
using test::must;

class FrameDecoderPackCode : public testing::TestWithParam<PackCode> {
 protected:
  const PackCode& pc() const { return GetParam(); }
  FramingSettings settings(std::int64_t length_offset, std::int64_t max_length = 1024) const {
    return must(FramingSettings::length(pc().code, length_offset, length_offset + pc().width, max_length));
  }
  bool big_endian() const {
    return pc().order == ByteOrder::big || (pc().order == ByteOrder::host && std::endian::native == std::endian::big);
  }
  // The field's bytes written out by hand (not by write_length_field), so a byte-order mistake in
  // pack_code.h cannot cancel itself out.
  std::string field_bytes(std::uint64_t value) const {
    std::string bytes(pc().width, '\0');
    for (unsigned i = 0; i < pc().width; ++i) {
      const unsigned byte_index = big_endian() ? pc().width - 1 - i : i;
      bytes[byte_index] = static_cast<char>((value >> (8 * i)) & 0xff);
    }
    return bytes;
  }
  std::uint64_t largest_positive() const {
    const unsigned bits = 8u * pc().width - ((pc().is_signed || pc().width == 8) ? 1u : 0u);
    return bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
  }
};

TEST_P(FrameDecoderPackCode, FRM2_DecodesWidthSignAndByteOrder) {
  // 0x0102 = 258 tells the byte orders apart (read backwards it would be 513); 1-byte codes use 100.
  const std::uint64_t length = pc().width == 1 ? 100 : 0x0102;
  const std::string prefix = "\x7f\x7f\x7f";
  const std::string packet = prefix + field_bytes(length) + std::string(length, 'b');
  const auto got = decode(settings(3), packet + packet);
  ASSERT_FALSE(got.closed) << got.closed->message;
  EXPECT_EQ(got.packets, (std::vector<std::string>{packet, packet}));
}

TEST_P(FrameDecoderPackCode, FRM2_HeaderSplitAcrossReadsByteByByte) {
  const std::string packet = test::framed(pc().code, 1, 1 + pc().width, "body bytes");
  const auto got = decode_chunks(settings(1), test::byte_by_byte(packet + packet));
  ASSERT_FALSE(got.closed) << got.closed->message;
  EXPECT_EQ(got.packets, (std::vector<std::string>{packet, packet}));
}

TEST_P(FrameDecoderPackCode, FRM2_AllOnesIsNegativeOrTooLarge) {
  // spec: FRM-4
  const auto got = decode(settings(0, 64), std::string(pc().width, '\xff') + "body");
  ASSERT_TRUE(got.closed);
  EXPECT_EQ(got.closed->code, errc::frame_invalid);
  const std::string& m = got.closed->message;
  if (pc().is_signed) {
    EXPECT_NE(m.find("length -1 in the '" + std::string(1, pc().code) + "' field at offset 0 is negative"), std::string::npos) << m;
  } else if (pc().width == 8) {
    EXPECT_NE(m.find("length 18446744073709551615"), std::string::npos) << m;
    EXPECT_NE(m.find(">= 2^63"), std::string::npos) << m;
  } else {
    EXPECT_NE(m.find("above package_max_length 64"), std::string::npos) << m;
  }
}

TEST_P(FrameDecoderPackCode, FRM2_LargestPositiveLengthIsRefusedOnlyByMaxLength) {
  // spec: FRM-4
  const auto got = decode(settings(0, 64), field_bytes(largest_positive()));
  ASSERT_TRUE(got.closed);
  EXPECT_NE(got.closed->message.find("length " + std::to_string(largest_positive())), std::string::npos)
      << got.closed->message;
  EXPECT_NE(got.closed->message.find("above package_max_length 64"), std::string::npos) << got.closed->message;
}

TEST_P(FrameDecoderPackCode, FRM2_SettingsAcceptTheCodeAndRoundTrip) {
  const auto s = settings(2);
  EXPECT_EQ(s.length_type(), pc().code);
  EXPECT_EQ(s.header_end(), 2u + pc().width);
  auto again = FramingSettings::parse(s.to_spec());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, s);
}

std::string code_name(const testing::TestParamInfo<PackCode>& info) {
  const PackCode& pc = info.param;
  std::string name(1, pc.code);
  name += pc.is_signed ? "_int" : "_uint";
  name += std::to_string(8 * pc.width);
  if (pc.width > 1) name += pc.order == ByteOrder::host ? "_host" : pc.order == ByteOrder::big ? "_be" : "_le";
  return name;
}

INSTANTIATE_TEST_SUITE_P(PackCodes, FrameDecoderPackCode, testing::ValuesIn(detail::kPackCodes), code_name);

TEST(FrameDecoderPackCodeTable, FRM2_ExactlyTheFourteenCodesOfSwoole6) {
  std::string codes;
  for (const auto& pc : detail::kPackCodes) codes += pc.code;
  EXPECT_EQ(codes, "cCsSnvlLNVqQJP");
  for (char c : std::string("iIaAhHxXZ@eEfgGd")) EXPECT_EQ(detail::find_pack_code(c), nullptr) << c;
}

}  // namespace
}  // namespace procspec

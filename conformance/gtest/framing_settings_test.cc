// Framing settings: validation at configuration time (FRM-2, FRM-5, FRM-6), the IUT framing SPEC
// string, and Swoole's setting keys (FramingOptions).
#include <gtest/gtest.h>

#include <string>

#include "procspec/framing.h"

namespace procspec {
namespace {

// The call fails with invalid_setting and a message containing `text`.
template <class T>
testing::AssertionResult refused(const Result<T>& r, std::string_view text) {
  if (r) return testing::AssertionFailure() << "accepted";
  if (r.error().code != errc::invalid_setting) return testing::AssertionFailure() << "code " << r.error().code.message();
  if (r.error().message.find(text) == std::string::npos) {
    return testing::AssertionFailure() << "message '" << r.error().message << "' lacks '" << text << "'";
  }
  return testing::AssertionSuccess();
}

TEST(FramingSettings, FRM2_UnknownPackCodeIsASettingsErrorNamingIt) {
  for (char c : {'i', 'I', 'x', 'a', 'Z', '\0'}) {
    SCOPED_TRACE(std::string("code ") + c);
    EXPECT_TRUE(refused(FramingSettings::length(c, 0, 4, 1024), "package_length_type"));
  }
  EXPECT_TRUE(refused(FramingSettings::length('i', 0, 4, 1024), "'i' is not a supported pack code (c C s S n v l L N V q Q J P)"));
}

TEST(FramingSettings, FRM2_OffsetsAreLimitedTo0Through65535) {
  EXPECT_TRUE(refused(FramingSettings::length('N', -1, 4, 1 << 20), "package_length_offset -1 is outside 0..65535"));
  EXPECT_TRUE(refused(FramingSettings::length('N', 65536, 4, 1 << 20), "package_length_offset 65536 is outside 0..65535"));
  EXPECT_TRUE(refused(FramingSettings::length('N', 0, -4, 1 << 20), "package_body_offset -4 is outside 0..65535"));
  EXPECT_TRUE(refused(FramingSettings::length('N', 0, 65536, 1 << 20), "package_body_offset 65536 is outside 0..65535"));
  auto edge = FramingSettings::length('N', 65535, 65535, 1 << 20);
  ASSERT_TRUE(edge) << edge.error().message;
  EXPECT_EQ(edge->header_end(), 65539u);
}

TEST(FramingSettings, FRM5_SmallMaxLengthIsKeptExactly) {
  // Swoole would raise 100 to 65536; procspec enforces 100.
  auto s = FramingSettings::length('N', 0, 4, 100);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->max_length(), 100u);
  auto header_only = FramingSettings::length('N', 0, 4, 4);
  ASSERT_TRUE(header_only) << header_only.error().message;
  EXPECT_EQ(header_only->max_length(), 4u);
}

TEST(FramingSettings, FRM5_MaxLengthBelowBodyOffsetIsASettingsError) {
  EXPECT_TRUE(refused(FramingSettings::length('N', 0, 200, 100), "package_max_length 100 is below package_body_offset 200"));
  EXPECT_TRUE(refused(FramingSettings::length('N', 0, 4, 0), "package_max_length 0 is below package_body_offset 4"));
  EXPECT_TRUE(refused(FramingSettings::length('N', 0, 4, -1), "package_max_length -1"));
}

TEST(FramingSettings, FRM5_MaxLengthBelowTheLengthFieldIsASettingsError) {
  EXPECT_TRUE(refused(FramingSettings::length('J', 4, 0, 11), "package_max_length 11 is below the end of the length field"));
  EXPECT_TRUE(FramingSettings::length('J', 4, 0, 12));
}

TEST(FramingSettings, FRM6_PackageEofIsOneToEightBytes) {
  EXPECT_TRUE(refused(FramingSettings::eof_split("", 1024), "package_eof must be 1..8 bytes, got 0"));
  EXPECT_TRUE(refused(FramingSettings::eof_check("123456789", 1024), "package_eof must be 1..8 bytes, got 9"));
  EXPECT_TRUE(FramingSettings::eof_split("12345678", 1024));
  EXPECT_TRUE(FramingSettings::eof_check("\n", 1));
  EXPECT_TRUE(refused(FramingSettings::eof_split("\r\n", 1), "package_max_length 1 is below the package_eof size 2"));
  auto nul = FramingSettings::eof_split(std::string_view("\0\n", 2), 64);
  ASSERT_TRUE(nul);
  EXPECT_EQ(nul->package_eof(), std::string_view("\0\n", 2));
}

TEST(FramingSettings, FRM1_SpecStringsOfTheDriverInterfaceParse) {
  // spec: FRM-6 FRM-7 FRM-9
  auto none = FramingSettings::parse("none");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->mode(), FramingMode::none);
  auto length = FramingSettings::parse("length:N:0:4:65536");
  ASSERT_TRUE(length) << length.error().message;
  EXPECT_EQ(*length, *FramingSettings::length('N', 0, 4, 65536));
  auto split = FramingSettings::parse("eof-split:0d0A:64K");
  ASSERT_TRUE(split) << split.error().message;
  EXPECT_EQ(split->mode(), FramingMode::eof_split);
  EXPECT_EQ(split->package_eof(), "\r\n");
  EXPECT_EQ(split->max_length(), 65536u);
  EXPECT_EQ(split->to_spec(), "eof-split:0d0a:65536");
  auto check = FramingSettings::parse("eof-check:00:2M");
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_EQ(check->mode(), FramingMode::eof_check);
  EXPECT_EQ(check->max_length(), 2u << 20);
  for (const auto* spec : {"none", "length:q:3:0:99", "eof-split:0d0a:64", "eof-check:6162636465666768:8"}) {
    auto s = FramingSettings::parse(spec);
    ASSERT_TRUE(s) << spec << ": " << s.error().message;
    EXPECT_EQ(s->to_spec(), spec);
  }
}

TEST(FramingSettings, FRM1_MalformedSpecStringsAreRefusedWithTheReason) {
  // spec: FRM-2 FRM-5 FRM-6
  EXPECT_TRUE(refused(FramingSettings::parse(""), "framing spec '' is not none, length:TYPE:"));
  EXPECT_TRUE(refused(FramingSettings::parse("lenght:N:0:4:64"), "framing spec 'lenght:N:0:4:64'"));
  EXPECT_TRUE(refused(FramingSettings::parse("length:N:0:4"), "is not none"));
  EXPECT_TRUE(refused(FramingSettings::parse("none:1"), "is not none"));
  EXPECT_TRUE(refused(FramingSettings::parse("length:NN:0:4:64"), "package_length_type: 'NN' is not one pack code letter"));
  EXPECT_TRUE(refused(FramingSettings::parse("length:i:0:4:64"), "'i' is not a supported pack code"));
  EXPECT_TRUE(refused(FramingSettings::parse("length:N:x:4:64"), "package_length_offset: 'x' is not a decimal integer"));
  EXPECT_TRUE(refused(FramingSettings::parse("length:N:0:4:64Q"), "package_max_length: '64Q' is not a size"));
  EXPECT_TRUE(refused(FramingSettings::parse("length:N:0:8:4"), "package_max_length 4 is below package_body_offset 8"));
  EXPECT_TRUE(refused(FramingSettings::parse("eof-split:0d0:64"), "package_eof: '0d0' is not hex bytes"));
  EXPECT_TRUE(refused(FramingSettings::parse("eof-split:zz:64"), "package_eof: 'zz' is not hex bytes"));
  EXPECT_TRUE(refused(FramingSettings::parse("eof-check::64"), "package_eof must be 1..8 bytes, got 0"));
  EXPECT_TRUE(refused(FramingSettings::parse("eof-check:000102030405060708:64"), "got 9"));
}

TEST(FramingOptions, FRM1_SwooleKeysBuildTheLengthProtocol) {
  FramingOptions o;
  EXPECT_TRUE(o.set("open_length_check", "true"));
  EXPECT_TRUE(o.set("package_length_type", "n"));
  EXPECT_TRUE(o.set("package_length_offset", "2"));
  EXPECT_TRUE(o.set("package_body_start", "6"));  // Swoole's alias of package_body_offset
  EXPECT_TRUE(o.set("package_max_length", "8K"));
  auto s = o.build();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(*s, *FramingSettings::length('n', 2, 6, 8192));
}

TEST(FramingOptions, FRM6_SwooleKeysBuildTheEofProtocols) {
  // spec: FRM-7 FRM-9
  FramingOptions defaults;
  EXPECT_EQ(defaults.build()->mode(), FramingMode::none);
  FramingOptions split;
  EXPECT_TRUE(split.set("open_eof_split", "1"));
  EXPECT_TRUE(split.set("package_eof", "\r\n"));
  auto s = split.build();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->mode(), FramingMode::eof_split);
  EXPECT_EQ(s->max_length(), 2u << 20);  // Swoole's default package_max_length
  FramingOptions check;
  EXPECT_TRUE(check.set("open_eof_check", "true"));
  EXPECT_EQ(check.build()->package_eof(), "\r\n\r\n");  // Swoole's default package_eof
  EXPECT_EQ(check.build()->mode(), FramingMode::eof_check);
  EXPECT_TRUE(check.set("open_eof_split", "true"));  // split implies check, as in Swoole
  EXPECT_EQ(check.build()->mode(), FramingMode::eof_split);
}

TEST(FramingOptions, FRM2_BadKeysAndValuesAreRefusedByName) {
  // spec: FRM-5 FRM-6
  FramingOptions o;
  EXPECT_TRUE(refused(o.set("package_lenght_type", "N"), "unknown framing setting 'package_lenght_type'"));
  EXPECT_TRUE(refused(o.set("open_length_check", "yes"), "open_length_check: 'yes' is not a boolean"));
  EXPECT_TRUE(refused(o.set("package_length_type", "NN"), "package_length_type: 'NN' is not one pack code letter"));
  EXPECT_TRUE(refused(o.set("package_max_length", "lots"), "package_max_length: 'lots' is not a size"));
  EXPECT_TRUE(o.set("open_length_check", "true"));
  EXPECT_TRUE(o.set("package_length_type", "I"));
  EXPECT_TRUE(refused(o.build(), "package_length_type: 'I' is not a supported pack code"));
  EXPECT_TRUE(o.set("package_length_type", "N"));
  EXPECT_TRUE(o.set("package_max_length", "3"));
  EXPECT_TRUE(refused(o.build(), "package_max_length 3 is below package_body_offset 4"));
  EXPECT_TRUE(o.set("package_max_length", "64K"));
  EXPECT_TRUE(o.set("open_eof_check", "true"));
  EXPECT_TRUE(refused(o.build(), "open_length_check cannot be combined with open_eof_check"));
  FramingOptions eof;
  EXPECT_TRUE(eof.set("open_eof_split", "true"));
  EXPECT_TRUE(eof.set("package_eof", ""));
  EXPECT_TRUE(refused(eof.build(), "package_eof must be 1..8 bytes, got 0"));
  EXPECT_TRUE(FramingOptions::is_key("package_eof"));
  EXPECT_TRUE(FramingOptions::is_key("package_body_start"));
  EXPECT_FALSE(FramingOptions::is_key("worker_num"));
}

}  // namespace
}  // namespace procspec

// SRV-2: settings are checked when set; a failed set changes nothing.
#include <gtest/gtest.h>

#include <string>

#include "procspec/settings.h"

namespace procspec {
namespace {

void expect_setting_error(const Status& st, const std::string& names) {
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, errc::invalid_setting);
  EXPECT_NE(st.error().message.find(names), std::string::npos) << st.error().message;
}

TEST(ServerSettings, SRV2_UnknownKeyIsAnErrorNamingIt) {
  auto s = ServerSettings::defaults(ServerMode::process);
  expect_setting_error(s.set("worker_nmu", 4LL), "worker_nmu");
}

TEST(ServerSettings, SRV2_OutOfRangeValuesAreErrorsNamingKeyAndRange) {
  auto s = ServerSettings::defaults(ServerMode::process);
  expect_setting_error(s.set("worker_num", 0LL), "worker_num: 0 is outside 1..");
  expect_setting_error(s.set("dispatch_mode", 5LL), "dispatch_mode: 5 is outside 1..4");
  expect_setting_error(s.set("task_ipc_mode", 4LL), "task_ipc_mode");
  expect_setting_error(s.set("heartbeat_idle_time", -1.0), "heartbeat_idle_time");
  expect_setting_error(s.set("max_conn", std::string("many")), "max_conn: expects an integer");
  expect_setting_error(s.set("ipc", std::string("carrier-pigeon")), "carrier-pigeon");
}

// spec: FRM-2
TEST(ServerSettings, SRV2_UnsupportedPackCodeFailsAtConfigurationTime) {
  auto s = ServerSettings::defaults(ServerMode::process);
  ASSERT_TRUE(s.set({{"open_length_check", true}, {"package_length_type", std::string("i")}}));
  auto framing = s.finalize();
  ASSERT_FALSE(framing);
  EXPECT_EQ(framing.error().code, errc::invalid_setting);
  EXPECT_NE(framing.error().message.find("package_length_type"), std::string::npos) << framing.error().message;
}

TEST(ServerSettings, SRV2_TextAndTypedValuesAreAccepted) {
  auto s = ServerSettings::defaults(ServerMode::process);
  ASSERT_TRUE(s.set("worker_num", std::string("3")));
  ASSERT_TRUE(s.set("output_buffer_size", std::string("4M")));
  ASSERT_TRUE(s.set("heartbeat_idle_time", 1.5));
  ASSERT_TRUE(s.set("daemonize", std::string("false")));
  ASSERT_TRUE(s.set("ipc", std::string("uds-stream")));
  ASSERT_TRUE(s.set("max_connection", 512LL));
  EXPECT_EQ(s.worker_num, 3);
  EXPECT_EQ(s.output_buffer_size, 4LL << 20);
  EXPECT_EQ(s.heartbeat_idle_time, 1.5);
  EXPECT_EQ(s.ipc, ChannelType::uds_stream);
  EXPECT_EQ(s.max_conn, 512);
}

TEST(ServerSettings, SRV2_FailedBatchChangesNothing) {
  auto s = ServerSettings::defaults(ServerMode::process);
  const int before = s.worker_num;
  expect_setting_error(s.set({{"worker_num", 7LL}, {"dispatch_mode", 9LL}}), "dispatch_mode");
  EXPECT_EQ(s.worker_num, before);
  ASSERT_TRUE(s.set({{"worker_num", 7LL}, {"dispatch_mode", 3LL}}));
  EXPECT_EQ(s.worker_num, 7);
  EXPECT_EQ(s.dispatch_mode, 3);
}

// spec: SRV-7 SRV-13
TEST(ServerSettings, SRV2_HeartbeatDefaultsFollowSwoole) {
  auto only_idle = ServerSettings::defaults(ServerMode::base);
  ASSERT_TRUE(only_idle.set("heartbeat_idle_time", 10LL));
  ASSERT_TRUE(only_idle.finalize());
  EXPECT_EQ(only_idle.heartbeat_check_interval, 5);
  auto short_idle = ServerSettings::defaults(ServerMode::base);
  ASSERT_TRUE(short_idle.set("heartbeat_idle_time", 2LL));
  ASSERT_TRUE(short_idle.finalize());
  EXPECT_EQ(short_idle.heartbeat_check_interval, 1);
  auto only_interval = ServerSettings::defaults(ServerMode::base);
  ASSERT_TRUE(only_interval.set("heartbeat_check_interval", 3LL));
  ASSERT_TRUE(only_interval.finalize());
  EXPECT_EQ(only_interval.heartbeat_idle_time, 6);
}

// spec: FRM-5
TEST(ServerSettings, SRV2_FramingKeysAreCheckedTogetherAtFinalize) {
  auto s = ServerSettings::defaults(ServerMode::process);
  ASSERT_TRUE(s.set({{"open_length_check", true}, {"package_length_type", std::string("N")},
                     {"package_body_offset", 4LL}, {"package_max_length", 2LL}}));
  auto framing = s.finalize();
  ASSERT_FALSE(framing);
  EXPECT_EQ(framing.error().code, errc::invalid_setting);
  ASSERT_TRUE(s.set("package_max_length", 1024LL));
  auto ok = s.finalize();
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->mode(), FramingMode::length);
  EXPECT_EQ(ok->max_length(), 1024u);
}

TEST(ServerSettings, SRV2_ReactorsNeverOutnumberWorkers) {
  auto s = ServerSettings::defaults(ServerMode::process);
  ASSERT_TRUE(s.set({{"worker_num", 1LL}, {"reactor_num", 2LL}}));
  ASSERT_TRUE(s.finalize());
  EXPECT_EQ(s.reactor_num, 1);
}

}  // namespace
}  // namespace procspec

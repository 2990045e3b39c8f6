#pragma once
// The fixture of the channel test files: ChannelTest runs each case against every channel type
// (instantiated once, in channel_test.cc), and round_trip_sizes sends messages of given sizes
// through a pair and checks each one on the other side.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "procspec/channel.h"
#include "support/channel_messages.h"
#include "support/leak_check.h"

namespace procspec::test {

inline std::string type_name(const testing::TestParamInfo<ChannelType>& info) {
  return std::string(channel_type_name(info.param));
}

class ChannelTest : public LeakCheckedTest, public testing::WithParamInterface<ChannelType> {
 protected:
  // The queue check sees every queue on the machine; only the sysvmsg cases make any, so only
  // they look (fewer false alarms from other test programs running at the same time).
  ChannelTest() { check_msg_queues_ = GetParam() == ChannelType::sysvmsg; }
  ChannelPair make(const ChannelOptions& options = {}) {
    auto pair = make_channel(GetParam(), options);
    EXPECT_TRUE(pair) << pair.error().message;
    return std::move(pair).value();
  }
  bool forks() const { return GetParam() != ChannelType::thread; }
};

// Sends `sizes` in order from a thread and checks every message on the other side.
inline void round_trip_sizes(ChannelPair& pair, const std::vector<std::size_t>& sizes) {
  std::jthread sender([&] {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto st = pair.reactor->send(header_for(i), make_payload(i, sizes[i]));
      if (!st) ADD_FAILURE() << "send " << i << ": " << st.error().message;
    }
  });
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto m = receive_within(*pair.worker);
    ASSERT_TRUE(m) << "message " << i << " of " << sizes[i] << " bytes: " << m.error().message;
    EXPECT_EQ(m->header, header_for(i)) << "message " << i;
    ASSERT_EQ(m->payload.size(), sizes[i]) << "message " << i;
    EXPECT_TRUE(m->payload == make_payload(i, sizes[i])) << "payload of message " << i << " differs";
  }
}

}  // namespace procspec::test

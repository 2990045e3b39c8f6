// IPC-3: the benchmarks' receivers verify every payload, so a channel that delivers less than
// it was given cannot look faster. The checker the benchmarks use is exercised here on messages
// that crossed a real channel, and on each way a channel could get them wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "procspec/channel.h"
#include "support/leak_check.h"
#include "support/payload.h"

namespace procspec {
namespace {

using bench::PayloadChecker;
using bench::PayloadVerdict;
using bench::PayloadWriter;

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

class PayloadCheck : public test::LeakCheckedTest {};

TEST_F(PayloadCheck, IPC3_IntactMessagesThroughAChannelPassTheReceiversCheck) {
  auto pair = make_channel(ChannelType::uds_dgram);
  ASSERT_TRUE(pair) << pair.error().message;
  PayloadWriter writer(1024);
  PayloadChecker checker(1024);
  for (std::uint64_t seq = 0; seq < 50; ++seq) {
    auto message = writer.next(seq);
    ASSERT_TRUE(pair->reactor->send({}, {reinterpret_cast<const char*>(message.data()), message.size()}));
    auto got = pair->worker->receive();
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(checker.check(bytes(got->payload), seq), PayloadVerdict::ok) << "seq " << seq;
  }
}

TEST_F(PayloadCheck, IPC3_ShortCorruptReorderedOrDuplicatedMessagesAreCaught) {
  PayloadWriter writer(1024);
  PayloadChecker checker(1024);
  auto as_string = [&](std::uint64_t seq) {
    auto m = writer.next(seq);
    return std::string(reinterpret_cast<const char*>(m.data()), m.size());
  };
  const std::string seven = as_string(7);
  EXPECT_EQ(checker.check(bytes(seven), 7), PayloadVerdict::ok);
  EXPECT_EQ(checker.check(bytes(seven.substr(0, 1000)), 7), PayloadVerdict::mismatch);  // truncated
  std::string flipped = seven;
  flipped[500] = static_cast<char>(flipped[500] ^ 0x01);
  EXPECT_EQ(checker.check(bytes(flipped), 7), PayloadVerdict::mismatch);                // one bit in the body
  EXPECT_EQ(checker.check(bytes(seven), 8), PayloadVerdict::mismatch);                  // reordered / duplicated
  std::string spliced = as_string(8);
  std::memcpy(spliced.data() + 512, seven.data() + 512, 512);                          // two messages spliced
  EXPECT_EQ(checker.check(bytes(spliced), 8), PayloadVerdict::mismatch);
}

}  // namespace
}  // namespace procspec

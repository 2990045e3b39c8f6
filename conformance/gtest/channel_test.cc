// Reactor<->worker channels (IPC-1, IPC-2, SRV-PROC-4), run against every implementation:
// messages intact and in order at every size, the length limit, back-pressure, readiness,
// independent pairs, and the names and options that select a channel. (Peers across fork and
// their death: channel_peer_test.cc; chunk reassembly: channel_chunking_test.cc.)
#include "procspec/channel.h"

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ipc/chunking.h"
#include "support/channel_fixture.h"
#include "support/channel_messages.h"
#include "support/seed.h"

namespace procspec {
namespace {

using test::ChannelTest;
using test::header_for;
using test::make_payload;
using test::receive_within;
using test::round_trip_sizes;
using test::type_name;

INSTANTIATE_TEST_SUITE_P(All, ChannelTest,
                         testing::Values(ChannelType::uds_dgram, ChannelType::uds_stream, ChannelType::sysvmsg,
                                         ChannelType::thread, ChannelType::uds_batch, ChannelType::shm_ring),
                         type_name);

TEST_P(ChannelTest, IPC1_MessagesArriveIntactAndInOrder) {
  ChannelPair pair = make();
  std::mt19937_64 rng(test::test_seed());
  std::vector<std::size_t> sizes(500);
  for (auto& s : sizes) s = rng() % 3000;
  round_trip_sizes(pair, sizes);
}

// spec: IPC-1
TEST_P(ChannelTest, SRVPROC4_SizesFromOneByteToMaxLengthStraddlingChunkBoundaries) {
  ChannelOptions options;
  ChannelPair pair = make(options);
  const std::size_t max = options.max_length;
  std::vector<std::size_t> sizes{0, 1, 2, max - 1, max};
  // Datagram payload boundaries: 64 KiB, the 2 KiB fallback, and msgmax (8 KiB here).
  for (std::size_t datagram : {std::size_t{65536}, std::size_t{2048}, std::size_t{8192}}) {
    const std::size_t cp = datagram - detail::kWireHeaderSize;
    for (std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
      for (std::size_t s : {k * cp - 1, k * cp, k * cp + 1}) sizes.push_back(s);
    }
  }
  round_trip_sizes(pair, sizes);
}

TEST_P(ChannelTest, SRVPROC4_SmallChunksStillReassembleInOrder) {
  ChannelOptions options;
  options.chunk_size = 64;  // 40-byte slices: a 10 KiB message is 256 datagrams
  options.max_length = 64 * 1024;
  ChannelPair pair = make(options);
  round_trip_sizes(pair, {10000, 39, 40, 41, 80, 81, 0, 65536, 5});
}

TEST_P(ChannelTest, IPC1_OversizeMessageIsRejectedNamingTheLimit) {
  ChannelOptions options;
  options.max_length = 1000;
  ChannelPair pair = make(options);
  auto st = pair.reactor->send({}, std::string(1001, 'x'));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, errc::payload_too_large);
  EXPECT_NE(st.error().message.find("1000"), std::string::npos) << st.error().message;
  ASSERT_TRUE(pair.reactor->send({}, std::string(1000, 'y')));  // the limit itself is fine
  auto m = receive_within(*pair.worker);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->payload.size(), 1000u);
}

// spec: IPC-1
TEST_P(ChannelTest, IPC2_NonBlockingFullGivesEagainThenDrainsWithoutLoss) {
  for (std::size_t size : {std::size_t{1024}, std::size_t{200000}}) {
    SCOPED_TRACE("message size " + std::to_string(size));
    ChannelOptions options;
    options.queue_capacity = 16;  // the thread queue's bound; keeps the fill small
    ChannelPair pair = make(options);
    pair.reactor->set_nonblocking(true);
    std::uint64_t accepted = 0;
    bool saw_eagain = false;
    for (int i = 0; i < 100000; ++i) {
      auto st = pair.reactor->send(header_for(accepted), make_payload(accepted, size));
      if (!st) {
        ASSERT_TRUE(would_block(st.error())) << st.error().message;
        saw_eagain = true;
        break;
      }
      ++accepted;
    }
    ASSERT_TRUE(saw_eagain) << "a full channel never said EAGAIN";
    ASSERT_GT(accepted, 0u);
    // Drain: every accepted message arrives, in order, including a held tail once flushed.
    // One thread does both, as a reactor would: flush what is held, take what is there.
    pair.worker->set_nonblocking(true);
    std::uint64_t received = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (received < accepted && std::chrono::steady_clock::now() < deadline) {
      if (pair.reactor->has_pending()) {
        auto st = pair.reactor->flush();
        ASSERT_TRUE(st || would_block(st.error())) << st.error().message;
      }
      auto m = pair.worker->receive();
      if (!m) {
        ASSERT_TRUE(would_block(m.error())) << m.error().message;
        const PollTarget t = pair.worker->readable_target();
        pollfd p{t.fd, static_cast<short>(t.events), 0};
        (void)::poll(&p, 1, 10);
        continue;
      }
      ASSERT_EQ(m->header, header_for(received));
      ASSERT_TRUE(m->payload == make_payload(received, size)) << "message " << received << " differs";
      ++received;
    }
    EXPECT_EQ(received, accepted);
    EXPECT_FALSE(pair.reactor->has_pending());
    auto extra = pair.worker->receive();
    ASSERT_FALSE(extra);
    EXPECT_TRUE(would_block(extra.error())) << extra.error().message;
  }
}

TEST_P(ChannelTest, IPC2_FullReceiverBlocksABlockingSenderAndLosesNothing) {
  ChannelPair pair = make();
  constexpr std::uint64_t kCount = 3000;
  constexpr std::size_t kSize = 1024;
  std::atomic<std::uint64_t> sent{0};
  std::jthread sender([&] {
    for (std::uint64_t i = 0; i < kCount; ++i) {
      if (!pair.reactor->send(header_for(i), make_payload(i, kSize))) return;
      sent.store(i + 1);
    }
  });
  // Wait (bounded) until the sender stops making progress: it is blocked on a full channel.
  std::uint64_t last = ~0ull;
  for (int i = 0; i < 200 && sent.load() != last; ++i) {
    last = sent.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_LT(sent.load(), kCount) << "3 MB went into a channel nobody reads: it buffers without bound";
  for (std::uint64_t i = 0; i < kCount; ++i) {
    auto m = receive_within(*pair.worker);
    ASSERT_TRUE(m) << "message " << i << ": " << m.error().message;
    ASSERT_TRUE(m->payload == make_payload(i, kSize)) << "message " << i << " differs";
  }
}

TEST_P(ChannelTest, IPC1_ReadableTargetSignalsAMessage) {
  ChannelPair pair = make();
  const PollTarget t = pair.worker->readable_target();
  ASSERT_GE(t.fd, 0);
  pollfd p{t.fd, static_cast<short>(t.events), 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "readable with nothing sent";
  ASSERT_TRUE(pair.reactor->send(header_for(1), "ping"));
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  pair.worker->set_nonblocking(true);
  auto m = pair.worker->receive();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->payload, "ping");
  if (GetParam() != ChannelType::uds_dgram && GetParam() != ChannelType::uds_stream &&
      GetParam() != ChannelType::uds_batch) {
    EXPECT_EQ(::poll(&p, 1, 0), 0) << "still readable after the only message was taken";
  }
}

TEST_P(ChannelTest, IPC1_ManyPairsAreIndependent) {
  auto pairs = make_channels(GetParam(), 4);
  ASSERT_TRUE(pairs) << pairs.error().message;
  // 4 x 1000 bytes: sysvmsg's pairs share a queue of msgmnb bytes per direction (16 KiB by default).
  for (std::uint64_t w = 0; w < 4; ++w) ASSERT_TRUE((*pairs)[w].reactor->send(header_for(w), make_payload(w, 1000)));
  for (std::uint64_t w = 4; w-- > 0;) {
    auto m = receive_within(*(*pairs)[w].worker);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->header, header_for(w));
    ASSERT_TRUE((*pairs)[w].worker->send(header_for(w + 10), "back"));
    auto r = receive_within(*(*pairs)[w].reactor);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->header, header_for(w + 10));
  }
}

TEST(ChannelNames, IPC1_IpcSettingSelectsTheImplementation) {
  const std::pair<const char*, ChannelType> names[] = {
      {"uds_dgram", ChannelType::uds_dgram}, {"uds-dgram", ChannelType::uds_dgram},
      {"uds_stream", ChannelType::uds_stream}, {"uds-stream", ChannelType::uds_stream},
      {"sysvmsg", ChannelType::sysvmsg}, {"thread", ChannelType::thread},
      {"uds_batch", ChannelType::uds_batch}, {"uds-batch", ChannelType::uds_batch},
      {"shm_ring", ChannelType::shm_ring}, {"shm-ring", ChannelType::shm_ring}};
  for (const auto& [name, type] : names) {
    auto t = parse_channel_type(name);
    ASSERT_TRUE(t) << name;
    EXPECT_EQ(*t, type) << name;
  }
  auto bad = parse_channel_type("carrier-pigeon");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_setting);
  EXPECT_NE(bad.error().message.find("carrier-pigeon"), std::string::npos) << bad.error().message;
}

TEST(ChannelNames, IPC1_OptionsOutOfRangeAreInvalidSettings) {
  ChannelOptions zero_length;
  zero_length.max_length = 0;
  ChannelOptions tiny_chunk;
  tiny_chunk.chunk_size = 10;
  for (const ChannelOptions& o : {zero_length, tiny_chunk}) {
    auto r = make_channel(ChannelType::uds_dgram, o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::invalid_setting) << r.error().message;
  }
}

}  // namespace
}  // namespace procspec

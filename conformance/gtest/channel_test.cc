// Reactor<->worker channels (IPC-1, IPC-2, SRV-PROC-4), run against all four implementations.
#include "procspec/channel.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/after_fork.h"
#include "ipc/chunking.h"
#include "procspec/log.h"
#include "support/channel_messages.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec {
namespace {

using test::fork_child;
using test::header_for;
using test::make_payload;
using test::receive_within;
using test::wait_exit_code;

std::string type_name(const testing::TestParamInfo<ChannelType>& info) {
  return std::string(channel_type_name(info.param));
}

class ChannelTest : public test::LeakCheckedTest, public testing::WithParamInterface<ChannelType> {
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

INSTANTIATE_TEST_SUITE_P(All, ChannelTest,
                         testing::Values(ChannelType::uds_dgram, ChannelType::uds_stream, ChannelType::sysvmsg,
                                         ChannelType::thread, ChannelType::uds_batch, ChannelType::shm_ring),
                         type_name);

// Sends `sizes` in order from a thread and checks every message on the other side.
void round_trip_sizes(ChannelPair& pair, const std::vector<std::size_t>& sizes) {
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

// spec: IPC-1 SRV-PROC-4
TEST_P(ChannelTest, IPC1_AcrossForkBothDirections) {
  if (!forks()) GTEST_SKIP() << "the thread channel lives in one process";
  ChannelPair pair = make();
  const std::vector<std::size_t> sizes{0, 1, 100, 65511, 65512, 65513, 300000, 2 * 1024 * 1024, 7};
  const pid_t child = fork_child([&] {
    pair.reactor.reset();
    // Echo every message back with its header; the parent checks both directions.
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto m = pair.worker->receive();
      if (!m || m->payload != make_payload(i, sizes[i]) || !(m->header == header_for(i))) return 10;
      if (!pair.worker->send(m->header, m->payload)) return 11;
    }
    return 0;
  });
  ASSERT_GT(child, 0);
  pair.worker.reset();
  // One thread sends while this one receives on the same endpoint (allowed: one of each), so
  // the blocking mode stays as it is and a watchdog bounds the test instead.
  ::alarm(60);
  std::jthread sender([&] {
    for (std::size_t i = 0; i < sizes.size(); ++i) (void)pair.reactor->send(header_for(i), make_payload(i, sizes[i]));
  });
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto m = pair.reactor->receive();
    if (!m) {
      ADD_FAILURE() << "echo " << i << ": " << m.error().message;
      ::kill(child, SIGKILL);
      break;
    }
    EXPECT_EQ(m->header, header_for(i));
    EXPECT_TRUE(m->payload == make_payload(i, sizes[i])) << "echo " << i << " differs";
  }
  sender.join();
  EXPECT_EQ(wait_exit_code(child), 0);
  ::alarm(0);
}

TEST_P(ChannelTest, IPC1_PeerDeathEndsTheStreamAfterItsMessages) {
  ChannelPair pair = make();
  ::alarm(60);  // a hang here is the failure this test exists for
  pid_t child = -1;
  std::jthread peer;
  if (forks()) {
    child = fork_child([&] {
      pair.reactor.reset();
      for (std::uint64_t i = 0; i < 3; ++i) (void)pair.worker->send(header_for(i), make_payload(i, 100000));
      (void)pair.worker->receive();  // "die now"
      return 0;
    });
    ASSERT_GT(child, 0);
    pair.worker.reset();
    ASSERT_TRUE(pair.reactor->watch_peer(child));
  } else {
    peer = std::jthread([&] {
      for (std::uint64_t i = 0; i < 3; ++i) (void)pair.worker->send(header_for(i), make_payload(i, 100000));
      (void)pair.worker->receive();
      pair.worker.reset();
    });
  }
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto m = pair.reactor->receive();
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE(m->payload == make_payload(i, 100000));
  }
  ASSERT_TRUE(pair.reactor->send({}, "die"));
  // Blocking receive while the peer is still alive: its exit must wake us.
  auto end = pair.reactor->receive();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, errc::peer_closed) << end.error().message;
  if (child > 0) {
    EXPECT_EQ(wait_exit_code(child), 0);
  } else {
    peer.join();
  }
  if (GetParam() != ChannelType::sysvmsg) {  // a queue cannot tell a sender its reader is gone
    auto st = pair.reactor->send({}, "anyone?");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, errc::peer_closed) << st.error().message;
  }
  ::alarm(0);
}

TEST_P(ChannelTest, IPC1_NonBlockingReceiveReportsADeadPeer) {
  if (!forks()) GTEST_SKIP() << "covered by PeerDeathEndsTheStreamAfterItsMessages";
  ChannelPair pair = make();
  const pid_t child = fork_child([&] {
    pair.reactor.reset();
    return pair.worker->send(header_for(0), "last words") ? 0 : 1;
  });
  ASSERT_GT(child, 0);
  pair.worker.reset();
  ASSERT_TRUE(pair.reactor->watch_peer(child));
  EXPECT_EQ(wait_exit_code(child), 0);  // reaped: watch_peer already holds its pidfd
  pair.reactor->set_nonblocking(true);
  auto m = pair.reactor->receive();
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->payload, "last words");
  auto end = receive_within(*pair.reactor);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, errc::peer_closed) << end.error().message;
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

// Chunks of messages of several connections (and several reactor threads sharing one worker's
// socket) arrive interleaved in any order between messages, yet each message's own chunks keep
// their order: every message must come out whole.
TEST(ChannelChunking, SRVPROC4_InterleavedChunksOfSeveralConnectionsReassemble) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  struct Stream {
    std::vector<std::string> datagrams;
    std::size_t next = 0;
  };
  std::vector<Stream> streams(12);
  std::vector<std::string> expected(streams.size());
  for (std::size_t i = 0; i < streams.size(); ++i) {
    MessageHeader h = header_for(i);
    h.reactor_id = static_cast<std::uint16_t>(i % 2);  // two senders
    h.session_id = i / 3;                              // several messages per connection
    expected[i] = make_payload(i, 1 + rng() % 5000);
    detail::OutgoingMessage m(detail::make_wire_header(h, expected[i].size(), static_cast<std::uint32_t>(i)),
                              expected[i], 64 + rng() % 1000);
    while (!m.done()) {
      const detail::WireHeader w = m.next_header();
      std::string d(reinterpret_cast<const char*>(&w), sizeof w);
      d += m.next_slice();
      streams[i].datagrams.push_back(std::move(d));
      m.advance();
    }
  }
  detail::Reassembler reassembler("test", 1 << 20);
  std::vector<bool> done(streams.size(), false);
  std::size_t remaining = streams.size();
  while (remaining > 0) {
    const std::size_t i = rng() % streams.size();
    Stream& s = streams[i];
    if (s.next == s.datagrams.size()) continue;
    auto r = reassembler.feed(s.datagrams[s.next++]);
    ASSERT_TRUE(r) << r.error().message;
    if (!*r) continue;
    const Message& m = **r;
    ASSERT_EQ(s.next, s.datagrams.size()) << "message " << i << " completed early";
    EXPECT_TRUE(m.payload == expected[i]) << "message " << i << " differs";
    EXPECT_EQ(m.header.session_id, i / 3);
    done[i] = true;
    --remaining;
  }
  EXPECT_EQ(reassembler.in_progress(), 0u);
}

TEST(ChannelChunking, SRVPROC4_OrphanChunkIsDroppedWithAWarning) {
  detail::Reassembler reassembler("test", 1 << 20);
  const std::string payload = make_payload(1, 500);
  detail::OutgoingMessage m(detail::make_wire_header({}, payload.size(), 9), payload, 224);
  m.advance();  // the first chunk was lost with a dead worker
  const detail::WireHeader w = m.next_header();
  std::string d(reinterpret_cast<const char*>(&w), sizeof w);
  d += m.next_slice();
  LogCapture capture;
  auto r = reassembler.feed(d);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(*r);
  EXPECT_TRUE(capture.warned());
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

class UdsDgramChannel : public test::LeakCheckedTest {};

// SRV-PROC-4's fallback: a socket whose buffer cannot hold a 64 KiB datagram refuses it with
// EMSGSIZE, and the channel resends the message in 2 KiB chunks.
TEST_F(UdsDgramChannel, SRVPROC4_FallsBackToSmallChunksWhenTheKernelRefuses) {
  ChannelOptions options;
  options.socket_buffer_size = 4096;
  auto pair = make_channel(ChannelType::uds_dgram, options);
  ASSERT_TRUE(pair) << pair.error().message;
  round_trip_sizes(*pair, {100000, 1, 65000, 3000});
}

class UdsStreamChannel : public test::LeakCheckedTest {};

// A worker killed mid-frame leaves a torn stream; reset on both ends (the reactor drops its
// unsent tail, the replacement drops the bytes waiting) makes the next message arrive whole.
TEST_F(UdsStreamChannel, IPC1_ResetDropsATornFrameOnBothSides) {
  ChannelOptions options;
  options.socket_buffer_size = 4096;
  auto pair = make_channel(ChannelType::uds_stream, options);
  ASSERT_TRUE(pair) << pair.error().message;
  pair->reactor->set_nonblocking(true);
  ASSERT_TRUE(pair->reactor->send({}, std::string(200000, 'x')));  // accepted: a part written, the tail held
  ASSERT_TRUE(pair->reactor->has_pending());
  ASSERT_TRUE(pair->reactor->reset());
  EXPECT_FALSE(pair->reactor->has_pending());
  ASSERT_TRUE(pair->worker->reset());
  MessageHeader header;
  header.session_id = 7;
  ASSERT_TRUE(pair->reactor->send(header, "whole"));
  auto message = pair->worker->receive();
  ASSERT_TRUE(message) << message.error().message;
  EXPECT_EQ(message->payload, "whole");
  EXPECT_EQ(message->header.session_id, 7u);
}

}  // namespace
}  // namespace procspec

// Channel chunking (SRV-PROC-4): a message cut into datagrams comes out whole however the chunks
// of several connections interleave; an orphan chunk is dropped with a warning; uds_dgram falls
// back to small chunks when the kernel refuses a 64 KiB datagram.
#include "procspec/channel.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ipc/chunking.h"
#include "procspec/log.h"
#include "support/channel_fixture.h"
#include "support/channel_messages.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec {
namespace {

using test::header_for;
using test::make_payload;
using test::round_trip_sizes;

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

}  // namespace
}  // namespace procspec

// Channels between two processes (IPC-1, SRV-PROC-4): both directions across fork, the end of
// the stream when the peer dies (blocking and non-blocking), and uds_stream's reset after a
// worker died mid-frame. The typed cases run on every channel type (see channel_test.cc).
#include "procspec/channel.h"

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "support/channel_fixture.h"
#include "support/channel_messages.h"
#include "support/leak_check.h"

namespace procspec {
namespace {

using test::ChannelTest;
using test::fork_child;
using test::header_for;
using test::make_payload;
using test::receive_within;
using test::wait_exit_code;

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

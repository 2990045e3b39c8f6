// The two fast channels beyond Swoole's (issue #9): uds_batch's coalescing and shm_ring's
// wake-ups, large messages, peer death and reset. The typed cases in channel_test.cc run on
// both as well; these are the behaviours only they have.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "procspec/channel.h"
#include "support/channel_messages.h"
#include "support/channel_stress.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec {
namespace {

using test::fork_child;
using test::header_for;
using test::make_pair;
using test::make_payload;
using test::readable_now;
using test::receive_and_verify;
using test::receive_within;
using test::sizes_for;
using test::jitter;
using test::wait_exit_code;

class ShmRingChannel : public test::LeakCheckedTest {};

// spec: SRV-PROC-4
TEST_F(ShmRingChannel, IPC1_MessagesLargerThanTheRingAreStreamedAndReassembled) {
  ChannelOptions options;
  options.ring_size = 4096;
  options.max_length = 300000;
  for (bool nonblocking_sender : {false, true}) {
    SCOPED_TRACE(nonblocking_sender ? "non-blocking sender (tail held for flush)" : "blocking sender");
    ChannelPair pair = make_pair(ChannelType::shm_ring, options);
    const std::vector<std::size_t> sizes{2047, 2048, 2049, 4095, 4096, 4097, 0, 300000, 1, 100000, 5000};
    std::jthread sender([&] {
      Channel& s = *pair.reactor;
      s.set_nonblocking(nonblocking_sender);
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        const std::string payload = make_payload(i, sizes[i]);
        for (;;) {
          auto st = s.has_pending() ? s.flush() : s.send(header_for(i), payload);
          if (st && !s.has_pending()) break;
          if (st) continue;  // accepted with a tail held: flush it before the next message
          if (!would_block(st.error())) return ADD_FAILURE() << "send " << i << ": " << st.error().message;
          const PollTarget t = s.writable_target();
          pollfd p{t.fd, static_cast<short>(t.events), 0};
          (void)::poll(&p, 1, 100);
        }
      }
    });
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto m = receive_within(*pair.worker);
      ASSERT_TRUE(m) << "message " << i << ": " << m.error().message;
      EXPECT_EQ(m->header, header_for(i));
      ASSERT_TRUE(m->payload == make_payload(i, sizes[i])) << "message " << i << " of " << sizes[i] << " differs";
    }
  }
}

// A worker SIGKILLed while it holds the ring — blocked on a full ring in the middle of a message
// larger than the ring — ends the stream after its whole messages; reset() on both ends then
// gives the replacement (forked from a process that kept the worker endpoint, as a manager does)
// a clean ring: the torn message is gone, a whole one the dead worker never read is kept.
TEST_F(ShmRingChannel, IPC1_SigkilledPeerMidMessageThenResetGivesTheReplacementACleanRing) {
  ChannelOptions options;
  options.ring_size = 4096;
  ChannelPair pair = make_pair(ChannelType::shm_ring, options);
  ::alarm(60);
  ASSERT_TRUE(pair.reactor->send(header_for(99), "never read by the first worker"));
  const pid_t first = fork_child([&] {
    for (std::uint64_t i = 0; i < 3; ++i) (void)pair.worker->send(header_for(i), make_payload(i, 1000));
    (void)pair.worker->send(header_for(3), make_payload(3, 100000));  // blocks: nobody reads yet
    return 0;
  });
  ASSERT_GT(first, 0);
  ASSERT_TRUE(pair.reactor->watch_peer(first));
  // Let the child fill the ring (bounded wait), then kill it mid-message.
  for (int i = 0; i < 200 && !readable_now(*pair.reactor, 0); ++i) ::usleep(5000);
  ::usleep(50000);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  EXPECT_EQ(wait_exit_code(first), 128 + SIGKILL);
  for (std::uint64_t i = 0; i < 3; ++i) {
    auto m = receive_within(*pair.reactor);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE(m->payload == make_payload(i, 1000)) << "message " << i;
  }
  auto end = receive_within(*pair.reactor);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, errc::peer_closed) << end.error().message;
  auto refused = pair.reactor->send({}, "to the dead");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::peer_closed);

  ASSERT_TRUE(pair.reactor->reset());
  const pid_t second = fork_child([&] {
    pair.reactor.reset();
    if (!pair.worker->reset()) return 9;
    auto kept = pair.worker->receive();  // the first worker's unread message is still there
    if (!kept || kept->header != header_for(99)) return 10;
    auto m = pair.worker->receive();
    if (!m || m->header != header_for(7)) return 11;
    return pair.worker->send(header_for(8), make_payload(8, 20000)) ? 0 : 12;
  });
  ASSERT_GT(second, 0);
  ASSERT_TRUE(pair.reactor->watch_peer(second));
  ASSERT_TRUE(pair.reactor->send(header_for(7), "hello, replacement"));
  auto m = receive_within(*pair.reactor);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->header, header_for(8));
  EXPECT_TRUE(m->payload == make_payload(8, 20000));
  EXPECT_EQ(wait_exit_code(second), 0);
  ::alarm(0);
}

// The reactor's own torn message (a non-blocking send that left its tail held) is taken back by
// its reset; the whole message before it stays for the replacement.
TEST_F(ShmRingChannel, IPC1_ResetTakesBackOurOwnHalfWrittenMessage) {
  ChannelOptions options;
  options.ring_size = 4096;
  ChannelPair pair = make_pair(ChannelType::shm_ring, options);
  pair.reactor->set_nonblocking(true);
  ASSERT_TRUE(pair.reactor->send(header_for(1), "whole"));
  ASSERT_TRUE(pair.reactor->send(header_for(2), make_payload(2, 100000)));  // part written, tail held
  ASSERT_TRUE(pair.reactor->has_pending());
  ASSERT_TRUE(pair.reactor->reset());
  ASSERT_TRUE(pair.worker->reset());
  EXPECT_FALSE(pair.reactor->has_pending());
  ASSERT_TRUE(pair.reactor->send(header_for(3), "after"));
  for (std::uint64_t i : {1u, 3u}) {
    auto m = receive_within(*pair.worker);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->header, header_for(i));
  }
  auto none = receive_within(*pair.worker, 50);
  ASSERT_FALSE(none);
  EXPECT_TRUE(would_block(none.error())) << none.error().message;
}

// THREAD mode: the peer is a thread, its endpoint's destructor is its death.
TEST_F(ShmRingChannel, IPC1_DroppedEndpointInTheSameProcessEndsTheStream) {
  for (bool blocking : {true, false}) {
    SCOPED_TRACE(blocking ? "blocking receiver" : "non-blocking receiver");
    ChannelPair pair = make_pair(ChannelType::shm_ring);
    ::alarm(60);
    std::jthread peer([&] {
      (void)pair.worker->send(header_for(1), "last");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the receiver is asleep by now
      pair.worker.reset();
    });
    auto m = blocking ? pair.reactor->receive() : receive_within(*pair.reactor);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->payload, "last");
    auto end = blocking ? pair.reactor->receive() : receive_within(*pair.reactor);
    ASSERT_FALSE(end);
    EXPECT_EQ(end.error().code, errc::peer_closed);
    peer.join();
    auto refused = pair.reactor->send({}, "anyone?");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, errc::peer_closed);
    ::alarm(0);
  }
}

// THREAD mode: a writer asleep on a full ring learns that the reader's endpoint was dropped.
TEST_F(ShmRingChannel, IPC1_WriterBlockedOnAFullRingSeesTheReaderGo) {
  ChannelOptions options;
  options.ring_size = 4096;
  ChannelPair pair = make_pair(ChannelType::shm_ring, options);
  ::alarm(60);
  std::jthread dropper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pair.worker.reset();
  });
  Status st;
  for (std::uint64_t i = 0; i < 100 && st; ++i) st = pair.reactor->send(header_for(i), make_payload(i, 1000));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, errc::peer_closed) << st.error().message;
  ::alarm(0);
}

TEST_F(ShmRingChannel, IPC1_RingSizeMustBeAPowerOfTwoInRange) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1000}, std::size_t{2048}, std::size_t{6000}}) {
    ChannelOptions options;
    options.ring_size = size;
    auto r = make_channel(ChannelType::shm_ring, options);
    ASSERT_FALSE(r) << size;
    EXPECT_EQ(r.error().code, errc::invalid_setting) << r.error().message;
  }
}

class UdsBatchChannel : public test::LeakCheckedTest {};

// Non-blocking sends wait in the buffer until flush() (the event loop's end of turn), then
// arrive together and in order; blocking sends go out at once.
TEST_F(UdsBatchChannel, IPC1_NonBlockingSendsWaitForFlushBlockingSendsDoNot) {
  ChannelPair pair = make_pair(ChannelType::uds_batch);
  pair.reactor->set_nonblocking(true);
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(pair.reactor->send(header_for(i), make_payload(i, 100)));
  EXPECT_TRUE(pair.reactor->has_pending());
  EXPECT_FALSE(readable_now(*pair.worker)) << "bytes reached the socket before flush()";
  ASSERT_TRUE(pair.reactor->flush());
  EXPECT_FALSE(pair.reactor->has_pending());
  for (std::uint64_t i = 0; i < 10; ++i) {
    auto m = receive_within(*pair.worker);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->header, header_for(i));
    EXPECT_TRUE(m->payload == make_payload(i, 100));
  }
  // Buffered bytes go ahead of a blocking send.
  ASSERT_TRUE(pair.reactor->send(header_for(20), "buffered"));
  pair.reactor->set_nonblocking(false);
  ASSERT_TRUE(pair.reactor->send(header_for(21), "at once"));
  EXPECT_FALSE(pair.reactor->has_pending());
  for (std::uint64_t i : {20u, 21u}) {
    auto m = receive_within(*pair.worker);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->header, header_for(i));
  }
}

TEST_F(UdsBatchChannel, IPC1_AFullBatchIsWrittenWithoutWaitingForFlush) {
  ChannelPair pair = make_pair(ChannelType::uds_batch);
  pair.reactor->set_nonblocking(true);
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(pair.reactor->send(header_for(i), make_payload(i, 1000)));
  EXPECT_TRUE(readable_now(*pair.worker)) << "100 KB buffered and nothing written";
  ASSERT_TRUE(pair.reactor->flush());
  for (std::uint64_t i = 0; i < 100; ++i) {
    auto m = receive_within(*pair.worker);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(m->payload == make_payload(i, 1000)) << "message " << i;
  }
}

// spec: IPC-2
TEST_F(UdsBatchChannel, IPC1_EventLoopSenderFlushingOncePerTurnLosesAndReordersNothing) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  ChannelPair pair = make_pair(ChannelType::uds_batch);
  constexpr std::uint64_t kCount = 5000;
  std::jthread sender([&] {
    std::mt19937_64 rng(seed ^ 0xAAAA);
    const auto sizes = sizes_for(seed, kCount, 5000);
    Channel& s = *pair.reactor;
    s.set_nonblocking(true);
    auto wait_writable = [&s] {
      const PollTarget t = s.writable_target();
      pollfd p{t.fd, static_cast<short>(t.events), 0};
      (void)::poll(&p, 1, 100);
    };
    std::uint64_t i = 0;
    while (i < kCount) {
      // One loop turn: a random number of messages, then flush.
      for (auto burst = rng() % 40; burst-- > 0 && i < kCount;) {
        auto st = s.send(header_for(i), make_payload(i, sizes[i]));
        if (st) {
          ++i;
          continue;
        }
        if (!would_block(st.error())) return ADD_FAILURE() << st.error().message;
        wait_writable();
        (void)s.flush();
      }
      if (s.has_pending()) {
        auto st = s.flush();
        if (!st && !would_block(st.error())) return ADD_FAILURE() << st.error().message;
      }
      jitter(rng, 300);
    }
    while (s.has_pending()) {
      wait_writable();
      (void)s.flush();
    }
  });
  receive_and_verify(*pair.worker, kCount, seed, true, 5000);
}

}  // namespace
}  // namespace procspec

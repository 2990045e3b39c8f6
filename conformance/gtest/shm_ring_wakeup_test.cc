// shm_ring's wake-up protocol (issue #9, IPC-1/IPC-2): a side that sleeps must be woken for
// every progress it waits for, and a wake-up must never be spent twice. The races are made
// likely by random delays, small rings and both sides blocking; each case is bounded in time
// by a watchdog so a lost wake-up fails the test instead of hanging it.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "procspec/channel.h"
#include "support/channel_messages.h"
#include "support/channel_stress.h"
#include "support/forked.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec {
namespace {

using test::header_for;
using test::make_pair;
using test::make_payload;
using test::readable_now;
using test::receive_and_verify;
using test::send_with_jitter;
using test::wait_exit_code;

class ShmRingWakeUp : public test::LeakCheckedTest {};

// The race the wake-up protocol exists for: the reader announced its sleep, the message came
// and was consumed by the reader's re-check, and the writer's eventfd write for it arrives
// late. That stale wake-up must neither leave the channel readable with nothing in it nor
// swallow the next message's wake-up.
TEST_F(ShmRingWakeUp, IPC1_WakeUpForAConsumedMessageDoesNotSwallowTheNext) {
  ChannelPair pair = make_pair(ChannelType::shm_ring);
  Channel& r = *pair.worker;
  r.set_nonblocking(true);
  for (std::uint64_t round = 0; round < 200; ++round) {
    EXPECT_FALSE(readable_now(r)) << "round " << round << ": readable with nothing sent";
    ASSERT_TRUE(pair.reactor->send(header_for(round), make_payload(round, 10)));
    auto m = r.receive();  // taken without waiting for the wake-up
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->header, header_for(round));
    auto none = r.receive();
    ASSERT_FALSE(none);
    ASSERT_TRUE(would_block(none.error())) << none.error().message;
    ASSERT_FALSE(readable_now(r)) << "round " << round << ": a stale wake-up left the channel readable";
    ASSERT_TRUE(pair.reactor->send(header_for(round + 1000), "next"));
    ASSERT_TRUE(readable_now(r, 10000)) << "round " << round << ": the next message's wake-up was swallowed";
    auto next = r.receive();
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_EQ(next->payload, "next");
  }
}

// spec: IPC-2
TEST_F(ShmRingWakeUp, IPC1_WakeUpStressBetweenThreadsWithRandomDelays) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  for (bool event_loop : {false, true}) {
    SCOPED_TRACE(event_loop ? "non-blocking receiver polling readable_target" : "blocking receiver");
    ChannelOptions options;
    options.ring_size = 4096;  // full often: the writer sleeps too
    ChannelPair pair = make_pair(ChannelType::shm_ring, options);
    constexpr std::uint64_t kCount = 3000;
    std::jthread sender([&] { send_with_jitter(*pair.reactor, kCount, seed, 1500); });
    receive_and_verify(*pair.worker, kCount, seed, event_loop, 1500);
  }
}

// spec: IPC-2
TEST_F(ShmRingWakeUp, IPC1_WakeUpStressAcrossForkWithRandomDelays) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  ChannelOptions options;
  options.ring_size = 4096;
  ChannelPair pair = make_pair(ChannelType::shm_ring, options);
  constexpr std::uint64_t kCount = 3000;
  const pid_t child = test::fork_child([&] {
    pair.reactor.reset();
    send_with_jitter(*pair.worker, kCount, seed, 3000);  // some messages stream through in pieces
    auto bye = pair.worker->receive();
    return bye && bye->payload == "bye" ? 0 : 1;
  });
  ASSERT_GT(child, 0);
  pair.worker.reset();
  ASSERT_TRUE(pair.reactor->watch_peer(child));
  receive_and_verify(*pair.reactor, kCount, seed, true, 3000);
  pair.reactor->set_nonblocking(false);
  ASSERT_TRUE(pair.reactor->send({}, "bye"));
  EXPECT_EQ(wait_exit_code(child), 0);
}

// Both sides blocking, the writer always ahead: the reader wakes the writer when *its* view of
// the ring says half is free, which the writer (already further on) may find untrue and sleep
// again. Such a wake-up, taken while the writer was re-announcing a sleep it had announced
// before, once left the writer asleep with no announcement standing (and, in a second race,
// read without being counted): both sides slept for good — the channel_bench hang with 16 KiB
// messages through the default 1 MiB ring.
TEST_F(ShmRingWakeUp, IPC1_WriterWokenOnTheReadersStaleViewSleepsAgainAndIsWokenAgain) {
  for (std::size_t ring_size : {std::size_t{65536}, std::size_t{1} << 20}) {
    SCOPED_TRACE("ring of " + std::to_string(ring_size) + " bytes");
    ChannelOptions options;
    options.ring_size = ring_size;
    ChannelPair pair = make_pair(ChannelType::shm_ring, options);
    const std::size_t size = 16384;
    const std::uint64_t count = 40000;  // 640 MiB: a second or two, and the hang came within 50 ms
    const std::string payload = make_payload(7, size);
    const pid_t writer = test::fork_child([&] {
      pair.reactor.reset();
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!pair.worker->send(header_for(i), payload)) return 1;
      }
      return 0;
    });
    ASSERT_GT(writer, 0);
    const pid_t reader = test::fork_child([&] {
      pair.worker.reset();
      for (std::uint64_t i = 0; i < count; ++i) {
        auto m = pair.reactor->receive();
        if (!m || m->header != header_for(i) || m->payload != payload) return 2;
      }
      return 0;
    });
    ASSERT_GT(reader, 0);
    pair.reactor.reset();
    pair.worker.reset();
    const test::ChildExit w = test::wait_child(writer, std::chrono::seconds(20));
    const test::ChildExit r = test::wait_child(reader, std::chrono::seconds(5));
    EXPECT_FALSE(w.timed_out) << "the writer never finished: a lost wake-up left both sides asleep";
    EXPECT_FALSE(r.timed_out) << "the reader never finished";
    EXPECT_TRUE(w.exited && w.code == 0) << "writer: code " << w.code << " signal " << w.signal;
    EXPECT_TRUE(r.exited && r.code == 0) << "reader: code " << r.code << " signal " << r.signal;
  }
}

}  // namespace
}  // namespace procspec

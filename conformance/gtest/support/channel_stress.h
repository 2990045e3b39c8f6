#pragma once
// Randomised traffic for the channel stress tests: jittered senders and verifying receivers
// that exercise both the spinning and the sleeping paths of a channel's wake-ups.
#include <gtest/gtest.h>

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "procspec/channel.h"
#include "support/channel_messages.h"

namespace procspec::test {

inline bool readable_now(Channel& ch, int timeout_ms = 0) {
  const PollTarget t = ch.readable_target();
  pollfd p{t.fd, static_cast<short>(t.events), 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

inline ChannelPair make_pair(ChannelType type, const ChannelOptions& options = {}) {
  auto pair = make_channel(type, options);
  EXPECT_TRUE(pair) << pair.error().message;
  return std::move(pair).value();
}

// Sleeps 0..max_us microseconds, mostly 0 (so both the spinning and the sleeping paths run).
inline void jitter(std::mt19937_64& rng, int max_us) {
  const auto r = rng() % 8;
  if (r < 5) return;
  if (r < 7) {
    std::this_thread::yield();
    return;
  }
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int>(rng() % static_cast<std::uint64_t>(max_us))));
}

inline std::vector<std::size_t> sizes_for(std::uint64_t seed, std::uint64_t count, std::size_t max_size) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> sizes(count);
  for (auto& size : sizes) size = rng() % max_size;
  return sizes;
}

// Receives `count` messages with random delays, verifying each; epoll-style (non-blocking +
// poll on readable_target) or blocking.
inline void receive_and_verify(Channel& ch, std::uint64_t count, std::uint64_t seed, bool event_loop,
                               std::size_t max_size) {
  std::mt19937_64 rng(seed ^ 0x5555);
  const auto sizes = sizes_for(seed, count, max_size);
  ch.set_nonblocking(event_loop);
  for (std::uint64_t i = 0; i < count; ++i) {
    jitter(rng, 200);
    const std::size_t size = sizes[i];
    Result<Message> m = event_loop ? receive_within(ch, 20000) : ch.receive();
    ASSERT_TRUE(m) << "message " << i << ": " << m.error().message;
    ASSERT_EQ(m->header, header_for(i)) << "message " << i;
    ASSERT_TRUE(m->payload == make_payload(i, size)) << "message " << i << " differs";
  }
}

inline void send_with_jitter(Channel& ch, std::uint64_t count, std::uint64_t seed, std::size_t max_size) {
  std::mt19937_64 rng(seed ^ 0xAAAA);
  const auto sizes = sizes_for(seed, count, max_size);
  for (std::uint64_t i = 0; i < count; ++i) {
    jitter(rng, 200);
    const std::size_t size = sizes[i];
    if (auto st = ch.send(header_for(i), make_payload(i, size)); !st) {
      ADD_FAILURE() << "send " << i << ": " << st.error().message;
      return;
    }
  }
}

}  // namespace procspec::test

#pragma once
// The two memory-based mechanisms, in raw_channels.h's shape: an in-process thread queue
// (mutex + condition variables, copy in and out, like a channel between threads would) and the
// shared-memory ring between two processes (the floor).
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "procspec/result.h"
#include "support/raw_channels.h"
#include "support/shm_ring.h"

namespace procspec::bench {

// Bounded FIFO of fixed-size slots guarded by one mutex.
class BoundedQueue {
 public:
  BoundedQueue(std::size_t slots, std::size_t max_message);
  Status push(std::span<const std::byte> msg);
  Result<std::size_t> pop(std::span<std::byte> into);
  void close();  // wakes every waiter; later calls fail

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::vector<std::vector<std::byte>> slots_;
  std::vector<std::size_t> lengths_;
  std::size_t head_ = 0, count_ = 0;
  bool closed_ = false;
};

class ThreadQueueChannel {
 public:
  static constexpr bool kInProcess = true;
  static std::size_t max_message();
  static Result<ThreadQueueChannel> open(std::size_t size);
  void keep(Side) noexcept {}
  Status send(Side from, std::span<const std::byte> msg) noexcept;
  Result<std::span<const std::byte>> recv(Side at) noexcept;
  void unblock() noexcept;

 private:
  explicit ThreadQueueChannel(std::size_t size);
  std::unique_ptr<BoundedQueue> ab_, ba_;
  RecvBuffers buf_;
};

// Two rings (one per direction). kWait picks sleeping (eventfd) or spinning waits.
template <RingWait kWait>
class ShmRingChannel {
 public:
  static constexpr bool kInProcess = false;
  static constexpr bool kBusyPolls = kWait == RingWait::spin;
  static std::size_t max_message() { return std::size_t{1} << 20; }
  static Result<ShmRingChannel> open(std::size_t size);
  void keep(Side) noexcept {}
  Status send(Side from, std::span<const std::byte> msg) noexcept {
    return (from == Side::a ? ab_ : ba_).push(msg);
  }
  Result<std::span<const std::byte>> recv(Side at) noexcept {
    auto buf = buf_.at(at);
    auto n = (at == Side::a ? ba_ : ab_).pop(buf);
    if (!n) return forward_error(std::move(n).error());
    return std::span<const std::byte>(buf.data(), *n < buf.size() ? *n : buf.size() + 1);
  }
  void unblock() noexcept {}

 private:
  ShmRingChannel(ShmRing ab, ShmRing ba, std::size_t size) : ab_(std::move(ab)), ba_(std::move(ba)), buf_(size + 1) {}
  ShmRing ab_, ba_;
  RecvBuffers buf_;
};

// Ring capacity in messages: about 256 KiB of payload, like a socket buffer, at least 16 slots.
std::size_t ring_slots(std::size_t size) noexcept;

template <RingWait kWait>
Result<ShmRingChannel<kWait>> ShmRingChannel<kWait>::open(std::size_t size) {
  auto ab = ShmRing::create(size, ring_slots(size), kWait);
  if (!ab) return forward_error(std::move(ab).error());
  auto ba = ShmRing::create(size, ring_slots(size), kWait);
  if (!ba) return forward_error(std::move(ba).error());
  return ShmRingChannel(std::move(*ab), std::move(*ba), size);
}

}  // namespace procspec::bench

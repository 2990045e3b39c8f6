#pragma once
// The shared-memory parts of the shm_ring channel: one memfd mapping per pair holding, for each
// direction, an SPSC byte ring and the flags its two sides use to sleep and wake each other.
//
// Wake-ups (the lost-wake-up race): a side that finds nothing to do *arms* — stores 1 in its
// `waiting` flag — and only then re-checks the ring; the other side publishes its progress and
// only then looks at the flag. Both the store and the load on each side are seq_cst, so at least
// one of them sees the other's store (Dekker): either the sleeper's re-check sees the progress or
// the publisher sees the flag. The publisher *takes* the flag (exchange to 0) before writing the
// eventfd, so every armed sleep gets at most one eventfd write and the sleeper knows exactly how
// many writes it is owed. That count is what keeps a wake-up for a message that was already
// consumed from swallowing the next one: the sleeper always re-arms and re-checks the ring after
// reading the eventfd, and never treats "the eventfd fired" as "there is a message".
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "ipc/peer_watch.h"
#include "procspec/result.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

inline constexpr std::size_t kCacheLine = 64;

// One direction. head/tail count bytes since the ring was made (never wrap in 64 bits).
struct RingControl {
  alignas(kCacheLine) std::atomic<std::uint64_t> head{0};      // bytes published by the writer
  alignas(kCacheLine) std::atomic<std::uint64_t> tail{0};      // bytes consumed by the reader
  alignas(kCacheLine) std::atomic<std::uint32_t> reader_waiting{0};
  alignas(kCacheLine) std::atomic<std::uint32_t> writer_waiting{0};
};

// Side 0 is the reactor endpoint, side 1 the worker. Ring d carries side d's messages to side 1-d.
struct RingShared {
  RingControl ring[2];
  // Read-mostly: written when an endpoint goes away.
  alignas(kCacheLine) std::atomic<std::uint32_t> gone[2];   // the last holder of that endpoint dropped it
  std::atomic<std::uint32_t> refs[2];                       // processes holding that endpoint
  std::uint64_t size = 0;                                   // bytes per ring, a power of two
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared across processes");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "shared across processes");

// The mapping and the four eventfds, shared by both endpoints of a pair in one process.
class RingMapping {
 public:
  static Result<std::shared_ptr<RingMapping>> create(std::size_t ring_size);
  ~RingMapping();
  RingMapping(const RingMapping&) = delete;
  RingMapping& operator=(const RingMapping&) = delete;

  RingShared& shared() const noexcept { return *shared_; }
  RingControl& control(int ring) const noexcept { return shared_->ring[ring]; }
  char* data(int ring) const noexcept { return data_[ring]; }
  int data_ready(int ring) const noexcept { return data_ready_[ring].get(); }    // the reader sleeps on it
  int space_ready(int ring) const noexcept { return space_ready_[ring].get(); }  // the writer sleeps on it

 private:
  RingMapping() = default;
  RingShared* shared_ = nullptr;
  std::size_t map_size_ = 0;
  char* data_[2] = {nullptr, nullptr};
  UniqueFd data_ready_[2];
  UniqueFd space_ready_[2];
};

// Wakes the other side if it armed `waiting`. Call after publishing progress with a seq_cst store.
void wake_if_waiting(std::atomic<std::uint32_t>& waiting, int eventfd) noexcept;

// One side's sleep on an eventfd. Used by one thread at a time (the endpoint's sending or
// receiving thread). Keeps the eventfd level-triggered truthful for epoll: see settle().
class Sleeper {
 public:
  Sleeper(std::atomic<std::uint32_t>& waiting, int eventfd) noexcept : waiting_(&waiting), fd_(eventfd) {}

  int fd() const noexcept { return fd_; }
  // Takes the eventfd writes already owed, then announces the sleep; the caller must re-check
  // its condition afterwards. In this order because taking a write may show that the other
  // side already took our announcement: arming first would leave us asleep unannounced.
  void prepare() noexcept {
    drain();
    arm();
  }
  // Makes the eventfd readable and, if `ready` (re-evaluated after arming), keeps it so; else
  // leaves it armed and empty, so the other side's next progress makes it readable. For a
  // non-blocking caller about to return to its event loop.
  template <class Ready>
  void settle(Ready ready) noexcept {
    if (ready()) {
      if (!signaled()) self_signal();
      return;
    }
    prepare();
    if (ready() && !signaled()) self_signal();
  }
  // Blocks until the eventfd or the peer's pidfd is readable, then drains. Caller re-checks.
  // True if the peer's pidfd fired (it exited).
  Result<bool> sleep(const PeerWatch& peer) noexcept;
  // Forgets all state (after the peer died): disarms and empties the eventfd.
  void clear() noexcept;

 private:
  // Announces the sleep (if the last announcement was taken, a new one).
  void arm() noexcept;
  // Reads whatever the eventfd holds now (non-blocking).
  void drain() noexcept;
  // Notes an eventfd write the other side committed to (it took the flag).
  void collect() noexcept;
  // Counts `v` eventfd writes just read against what we are owed.
  void account_read(std::uint64_t v) noexcept;
  bool signaled() noexcept {
    collect();
    return owed_ > 0;
  }
  void self_signal() noexcept;

  std::atomic<std::uint32_t>* waiting_;
  int fd_;
  bool armed_ = false;      // we stored 1 and have not seen the other side take it
  std::uint64_t owed_ = 0;  // eventfd writes made or committed that we have not read
};

// Re-checks a bounded, adaptive number of times before sleeping: the budget doubles when a
// re-check found the condition (the peer is active on another CPU, a sleep would have been
// wasted) and halves when it did not (the CPU is better given to the peer). Plain loads, no
// pause instruction: under KVM a pause loop can exit to the host, which costs more than a sleep.
class AdaptiveSpin {
 public:
  template <class Ready>
  bool spin(Ready ready) noexcept {
    for (std::uint32_t i = 0; i < budget_; ++i) {
      if (ready()) {
        if (budget_ < kMax) budget_ *= 2;
        return true;
      }
    }
    if (budget_ > kMin) budget_ /= 2;
    return false;
  }

 private:
  // A few microseconds at most.
  static constexpr std::uint32_t kMin = 16;
  static constexpr std::uint32_t kMax = 1024;
  std::uint32_t budget_ = 64;
};

// Keeps RingShared::refs in step across fork() (pthread_atfork): the child holds every endpoint
// its parent held. Children that _exit never drop theirs: watch_peer covers those.
void register_ring_endpoint(std::atomic<std::uint32_t>* refs);
void unregister_ring_endpoint(std::atomic<std::uint32_t>* refs) noexcept;

}  // namespace procspec::detail

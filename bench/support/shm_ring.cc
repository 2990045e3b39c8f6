#include "support/shm_ring.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "support/peer.h"

namespace procspec::bench {
namespace {

// Sleep mode re-checks a few times before sleeping (a plain load, no pause: under KVM a pause
// loop can exit to the host), which catches a producer that is already mid-push.
constexpr int kSpinsBeforeSleep = 64;
constexpr std::size_t kCacheLine = 64;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

struct ShmRing::Header {
  alignas(kCacheLine) std::atomic<std::uint64_t> head{0};  // next slot to consume
  alignas(kCacheLine) std::atomic<std::uint64_t> tail{0};  // next slot to produce
  alignas(kCacheLine) std::atomic<std::uint32_t> consumer_sleeping{0};
  alignas(kCacheLine) std::atomic<std::uint32_t> producer_sleeping{0};
  alignas(kCacheLine) std::uint64_t slots = 0;  // a power of two
  std::uint64_t slot_stride = 0;                // 8-byte length + payload, cache-line rounded
  RingWait wait = RingWait::sleep;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared across processes");

Result<ShmRing> ShmRing::create(std::size_t max_message, std::size_t slots, RingWait wait) {
  std::size_t n = 1;
  while (n < slots) n <<= 1;
  const std::size_t stride = (8 + max_message + kCacheLine - 1) / kCacheLine * kCacheLine;
  const std::size_t header = (sizeof(Header) + kCacheLine - 1) / kCacheLine * kCacheLine;
  const std::size_t size = header + n * stride;
  UniqueFd mem(::memfd_create("procspec-bench-ring", MFD_CLOEXEC));
  if (!mem) return sys_fail(errno, "memfd_create ring");
  if (::ftruncate(mem.get(), static_cast<off_t>(size)) != 0) return sys_fail(errno, "ftruncate ring");
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, mem.get(), 0);
  if (p == MAP_FAILED) return sys_fail(errno, "mmap ring");
  UniqueFd data_ready(::eventfd(0, EFD_CLOEXEC));
  UniqueFd space_ready(::eventfd(0, EFD_CLOEXEC));
  if (!data_ready || !space_ready) {
    int err = errno;
    ::munmap(p, size);
    return sys_fail(err, "eventfd ring");
  }
  auto* h = new (p) Header;
  h->slots = n;
  h->slot_stride = stride;
  h->wait = wait;
  return ShmRing(h, size, std::move(data_ready), std::move(space_ready));
}

ShmRing::ShmRing(Header* h, std::size_t map_size, UniqueFd data_ready, UniqueFd space_ready) noexcept
    : h_(h), map_size_(map_size), data_ready_(std::move(data_ready)), space_ready_(std::move(space_ready)) {}

ShmRing::ShmRing(ShmRing&& other) noexcept
    : h_(std::exchange(other.h_, nullptr)),
      map_size_(other.map_size_),
      data_ready_(std::move(other.data_ready_)),
      space_ready_(std::move(other.space_ready_)) {}

ShmRing::~ShmRing() {
  if (h_) ::munmap(h_, map_size_);
}

std::byte* ShmRing::slot(std::uint64_t index) const noexcept {
  auto* base = reinterpret_cast<std::byte*>(h_) + (sizeof(Header) + kCacheLine - 1) / kCacheLine * kCacheLine;
  return base + (index & (h_->slots - 1)) * h_->slot_stride;
}

// Waits until the ring is non-empty (consumer) or non-full (producer).
Status ShmRing::wait_for(bool consumer) noexcept {
  auto ready = [&] {
    const std::uint64_t head = h_->head.load(std::memory_order_acquire);
    const std::uint64_t tail = h_->tail.load(std::memory_order_acquire);
    return consumer ? tail != head : tail - head < h_->slots;
  };
  // (A producer re-checks "not full" after announcing its sleep; the consumer wakes it at half.)
  for (std::uint64_t spins = 0;; ++spins) {
    if (ready()) return {};
    if (h_->wait == RingWait::spin || spins < kSpinsBeforeSleep) {
      if (h_->wait == RingWait::spin) cpu_relax();
      if ((spins & 1023) == 1023) {
        if (take_interrupt()) return sys_fail(EINTR, "ring wait interrupted (peer gone)");
        ::sched_yield();
      }
      continue;
    }
    auto& sleeping = consumer ? h_->consumer_sleeping : h_->producer_sleeping;
    sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ready()) {
      sleeping.store(0, std::memory_order_relaxed);
      return {};
    }
    std::uint64_t count;
    if (::read((consumer ? data_ready_ : space_ready_).get(), &count, sizeof count) < 0)
      return sys_fail(errno, "ring eventfd read");
    spins = 0;
  }
}

Status ShmRing::push(std::span<const std::byte> msg) noexcept {
  if (msg.size() + 8 > h_->slot_stride) return fail(errc::payload_too_large, "message larger than a ring slot");
  const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
  if (tail - h_->head.load(std::memory_order_acquire) >= h_->slots) {
    if (auto st = wait_for(false); !st) return st;
  }
  std::byte* s = slot(tail);
  const std::uint64_t len = msg.size();
  std::memcpy(s, &len, sizeof len);
  std::memcpy(s + 8, msg.data(), msg.size());
  h_->tail.store(tail + 1, std::memory_order_release);
  if (h_->wait == RingWait::sleep) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (h_->consumer_sleeping.load(std::memory_order_relaxed) != 0 &&
        h_->consumer_sleeping.exchange(0, std::memory_order_relaxed) != 0) {
      const std::uint64_t one = 1;
      if (::write(data_ready_.get(), &one, sizeof one) < 0) return sys_fail(errno, "ring eventfd write");
    }
  }
  return {};
}

Result<std::size_t> ShmRing::pop(std::span<std::byte> into) noexcept {
  const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
  if (h_->tail.load(std::memory_order_acquire) == head) {
    if (auto st = wait_for(true); !st) return forward_error(std::move(st).error());
  }
  const std::byte* s = slot(head);
  std::uint64_t len;
  std::memcpy(&len, s, sizeof len);
  const std::size_t n = len < into.size() ? static_cast<std::size_t>(len) : into.size();
  std::memcpy(into.data(), s + 8, n);
  h_->head.store(head + 1, std::memory_order_release);
  if (h_->wait == RingWait::sleep) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Hysteresis: a producer that found the ring full is woken once half of it has drained,
    // not after every slot (which would cost one wake-up per message when the consumer is
    // the slower side). No wake-up is lost: a producer sleeps only after seeing the ring full
    // (after its flag store and fence), so every later pop sees the flag, and the consumer
    // passes the half mark on its way to empty.
    const std::uint64_t left = h_->tail.load(std::memory_order_relaxed) - (head + 1);
    if (left <= h_->slots / 2 && h_->producer_sleeping.load(std::memory_order_relaxed) != 0 &&
        h_->producer_sleeping.exchange(0, std::memory_order_relaxed) != 0) {
      const std::uint64_t one = 1;
      if (::write(space_ready_.get(), &one, sizeof one) < 0) return sys_fail(errno, "ring eventfd write");
    }
  }
  return static_cast<std::size_t>(len);
}

}  // namespace procspec::bench

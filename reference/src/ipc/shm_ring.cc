#include "ipc/shm_ring.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "base/fork_safe_lock.h"

namespace procspec::detail {
namespace {

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// Endpoints alive in this process, by their RingShared::refs counter. A forked child holds every
// endpoint its parent held, so fork() adds one reference to each — before the child exists
// (pthread_atfork's prepare), or the parent could drop an endpoint it handed to the child and
// count it gone first. The lock is held across fork() so no endpoint appears half-registered.
ForkSafeSpinLock g_lock;
std::vector<std::atomic<std::uint32_t>*>* g_endpoints = nullptr;  // never freed: children use it

void count_endpoints_before_fork() noexcept {
  g_lock.lock();
  for (auto* refs : *g_endpoints) refs->fetch_add(1, std::memory_order_seq_cst);
}
void unlock_after_fork() noexcept { g_lock.unlock(); }

}  // namespace

void register_ring_endpoint(std::atomic<std::uint32_t>* refs) {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  if (!g_endpoints) {
    g_endpoints = new std::vector<std::atomic<std::uint32_t>*>();
    ::pthread_atfork(&count_endpoints_before_fork, &unlock_after_fork, &unlock_after_fork);
  }
  g_endpoints->push_back(refs);
}

void unregister_ring_endpoint(std::atomic<std::uint32_t>* refs) noexcept {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  if (!g_endpoints) return;
  auto it = std::find(g_endpoints->begin(), g_endpoints->end(), refs);
  if (it != g_endpoints->end()) g_endpoints->erase(it);
}

Result<std::shared_ptr<RingMapping>> RingMapping::create(std::size_t ring_size) {
  std::shared_ptr<RingMapping> m(new RingMapping());
  const std::size_t control = round_up(sizeof(RingShared), 4096);
  const std::size_t size = control + 2 * ring_size;
  UniqueFd mem(::memfd_create("procspec-shm-ring", MFD_CLOEXEC));
  if (!mem) return sys_fail(errno, "shm_ring: memfd_create");
  if (::ftruncate(mem.get(), static_cast<off_t>(size)) != 0) {
    return sys_fail(errno, "shm_ring: ftruncate to " + std::to_string(size) + " bytes");
  }
  // MAP_SHARED: a forked worker writes the very pages the reactor reads. The memfd itself can
  // go now; the mapping keeps the memory.
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, mem.get(), 0);
  if (p == MAP_FAILED) return sys_fail(errno, "shm_ring: mmap of " + std::to_string(size) + " bytes");
  m->map_size_ = size;
  m->shared_ = new (p) RingShared;
  m->shared_->size = ring_size;
  for (int d = 0; d < 2; ++d) {
    m->shared_->gone[d].store(0);
    m->shared_->refs[d].store(1);
    m->data_[d] = static_cast<char*>(p) + control + static_cast<std::size_t>(d) * ring_size;
    m->data_ready_[d].reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    m->space_ready_[d].reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!m->data_ready_[d] || !m->space_ready_[d]) return sys_fail(errno, "shm_ring: eventfd");
  }
  return m;
}

RingMapping::~RingMapping() {
  if (shared_) ::munmap(shared_, map_size_);
}

void wake_if_waiting(std::atomic<std::uint32_t>& waiting, int eventfd) noexcept {
  // The load filters the common case (nobody sleeps) without a locked instruction; the exchange
  // makes exactly one publisher write for one armed sleep.
  if (waiting.load(std::memory_order_seq_cst) == 0) return;
  if (waiting.exchange(0, std::memory_order_seq_cst) == 0) return;
  const std::uint64_t one = 1;
  // An eventfd write of 8 bytes cannot be short; it fails only on counter overflow.
  while (::write(eventfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Sleeper::collect() noexcept {
  if (armed_ && waiting_->load(std::memory_order_seq_cst) == 0) {
    armed_ = false;
    ++owed_;
  }
}

void Sleeper::arm() noexcept {
  collect();
  if (armed_) return;
  waiting_->store(1, std::memory_order_seq_cst);
  armed_ = true;
}

void Sleeper::drain() noexcept {
  collect();
  if (owed_ == 0) return;
  std::uint64_t v = 0;
  ssize_t r;
  while ((r = ::read(fd_, &v, sizeof v)) < 0 && errno == EINTR) {
  }
  // A committed write that has not landed yet stays owed; the next drain takes it.
  if (r == sizeof v) account_read(v);
}

void Sleeper::account_read(std::uint64_t v) noexcept {
  // The read may have taken a write whose flag-take happened after our last look at the flag
  // (the other side takes the flag before it writes, so a second look now sees that take).
  // Without it the write is read but not counted, we still believe our sleep announced, and
  // the next sleep waits for a write that already came: both sides asleep for good.
  collect();
  owed_ -= std::min<std::uint64_t>(v, owed_);
}

void Sleeper::self_signal() noexcept {
  const std::uint64_t one = 1;
  while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
  ++owed_;
}

Result<bool> Sleeper::sleep(const PeerWatch& peer) noexcept {
  pollfd p[2] = {{fd_, POLLIN, 0}, {peer.fd(), POLLIN, 0}};
  const nfds_t n = peer.fd() >= 0 ? 2 : 1;
  while (::poll(p, n, -1) < 0) {
    if (errno != EINTR) return sys_fail(errno, "shm_ring: poll");
  }
  collect();
  if (p[0].revents != 0) {
    // Read even if nothing is owed: an unaccounted count would make every later poll return at once.
    std::uint64_t v = 0;
    if (::read(fd_, &v, sizeof v) == sizeof v) account_read(v);
  }
  return n == 2 && p[1].revents != 0;
}

void Sleeper::clear() noexcept {
  waiting_->store(0, std::memory_order_seq_cst);
  armed_ = false;
  owed_ = 0;
  std::uint64_t v;
  while (::read(fd_, &v, sizeof v) > 0 || errno == EINTR) {
  }
}

}  // namespace procspec::detail

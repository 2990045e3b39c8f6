#pragma once
// Counters in one MAP_SHARED anonymous mapping made before fork, so a process can read what
// another wrote, even after the writer died (the PROCESS master reads how many messages a dead
// worker had taken from each channel). Plain atomics: lock-free, so valid across processes.
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "procspec/result.h"

namespace procspec::detail {

class SharedCounters {
 public:
  static Result<std::shared_ptr<SharedCounters>> create(std::size_t count) {
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared across processes");
    const std::size_t bytes = (count == 0 ? 1 : count) * sizeof(std::atomic<std::uint64_t>);
    void* page = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return sys_fail(errno, "mmap (shared counters)");
    auto* first = static_cast<std::atomic<std::uint64_t>*>(page);
    for (std::size_t i = 0; i < count; ++i) new (first + i) std::atomic<std::uint64_t>(0);
    return std::shared_ptr<SharedCounters>(new SharedCounters(first, count, bytes));
  }
  ~SharedCounters() { ::munmap(first_, bytes_); }
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;

  void add(std::size_t i) noexcept { first_[i].fetch_add(1, std::memory_order_release); }
  std::uint64_t get(std::size_t i) const noexcept { return first_[i].load(std::memory_order_acquire); }
  std::size_t size() const noexcept { return count_; }

 private:
  SharedCounters(std::atomic<std::uint64_t>* first, std::size_t count, std::size_t bytes)
      : first_(first), count_(count), bytes_(bytes) {}
  std::atomic<std::uint64_t>* first_;
  std::size_t count_;
  std::size_t bytes_;
};

}  // namespace procspec::detail

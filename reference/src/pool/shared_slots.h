#pragma once
// SharedSlots: the part of the worker table other processes may read. It lives in an anonymous
// MAP_SHARED mapping made before the manager forks anything, so the pool's owner, the manager
// and every worker see the same pids and counters (getProcess after a restart — POOL-12 — and
// the crash counter of POOL-10). Only the manager writes; readers use atomics, no locks (a lock
// held by a killed process would never be released).
#include <sys/types.h>

#include <atomic>
#include <cstddef>

#include "procspec/result.h"

namespace procspec::detail {

struct SlotStatus {
  std::atomic<pid_t> pid{0};          // 0 while not running
  std::atomic<int> crash_count{0};    // quick deaths in a row (POOL-10); 0 after healthy uptime
  std::atomic<int> restarts{0};       // spawns after the first
  std::atomic<int> last_exit_code{0};
  std::atomic<int> last_signal{0};
};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "slot status is shared between processes: its atomics must not hide a lock");

class SharedSlots {
 public:
  static Result<SharedSlots> create(std::size_t count);
  SharedSlots() = default;
  SharedSlots(SharedSlots&& other) noexcept;
  SharedSlots& operator=(SharedSlots&& other) noexcept;
  SharedSlots(const SharedSlots&) = delete;
  SharedSlots& operator=(const SharedSlots&) = delete;
  ~SharedSlots();

  std::size_t size() const noexcept { return count_; }
  SlotStatus& operator[](std::size_t i) noexcept;
  const SlotStatus& operator[](std::size_t i) const noexcept;

 private:
  SlotStatus* slots_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace procspec::detail

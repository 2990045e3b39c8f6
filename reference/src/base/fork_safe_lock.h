#pragma once
// A spinlock for process-wide registries that forked children keep using. Unlike a mutex it can
// be reset by an after-fork hook: the parent thread that held it at fork() does not exist in the
// child. Only for critical sections of a few loads and stores.
#include <atomic>

namespace procspec::detail {

class ForkSafeSpinLock {
 public:
  void lock() noexcept {
    while (flag_.test_and_set(std::memory_order_acquire)) {
    }
  }
  void unlock() noexcept { flag_.clear(std::memory_order_release); }
  // From an after-fork child hook only.
  void reset_after_fork() noexcept { flag_.clear(); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

}  // namespace procspec::detail

#include "base/after_fork.h"

#include <array>
#include <atomic>
#include <cstddef>

#include "procspec/check.h"

namespace procspec::detail {
namespace {
constexpr std::size_t kMaxAfterForkHooks = 16;
// A fixed array, not a vector: hooks run in a freshly forked child where allocating is unsafe.
std::array<std::atomic<AfterForkHook>, kMaxAfterForkHooks> g_hooks{};
}  // namespace

void add_after_fork_child_hook(AfterForkHook hook) noexcept {
  for (auto& slot : g_hooks) {
    AfterForkHook current = slot.load();
    if (current == hook) return;
    if (current == nullptr) {
      AfterForkHook expected = nullptr;
      if (slot.compare_exchange_strong(expected, hook) || expected == hook) return;
    }
  }
  PROCSPEC_CHECK(false, "too many after-fork hooks");
}

void run_after_fork_child_hooks() noexcept {
  for (auto& slot : g_hooks) {
    if (AfterForkHook hook = slot.load()) hook();
  }
}

}  // namespace procspec::detail

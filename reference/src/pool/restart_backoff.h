#pragma once
// POOL-10: how long the manager waits before restarting a child that died. A child that lived
// at least `healthy_uptime` is restarted at once and its crash counter resets; one that died
// sooner counts as a crash and waits base * 2^(crashes-1), capped at `max`. This is what keeps
// a worker that fails in its start-up code from turning the manager into a fork loop (Swoole's
// answer is a fixed sleep(1) inside fork retries; nginx's is a throttle on respawns).
#include <algorithm>
#include <chrono>

namespace procspec::detail {

struct RestartBackoff {
  std::chrono::milliseconds healthy_uptime{1000};  // 0 disables back-off entirely
  std::chrono::milliseconds base{50};
  std::chrono::milliseconds max{5000};

  bool is_crash(std::chrono::milliseconds uptime) const noexcept {
    return healthy_uptime.count() > 0 && uptime < healthy_uptime;
  }

  // Delay before the next start of a child whose crash counter is `crashes` (already counting
  // the death being handled).
  std::chrono::milliseconds delay(int crashes) const noexcept {
    if (crashes <= 0 || healthy_uptime.count() == 0) return std::chrono::milliseconds(0);
    std::chrono::milliseconds d = base;
    for (int i = 1; i < crashes && d < max; ++i) d *= 2;
    return std::min(d, max);
  }
};

}  // namespace procspec::detail

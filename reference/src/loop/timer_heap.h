#pragma once
// TimerHeap: the min-heap behind Timer (TMR-1), ordered by (deadline, id). Time is passed in, so
// the loop fires with the monotonic clock and the benchmark with a virtual one. Cleared timers
// are deleted lazily: their heap entries are skipped when they reach the top, and the heap is
// rebuilt when stale entries outnumber live ones.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "procspec/timer.h"

namespace procspec::detail {

using TimerClock = std::chrono::steady_clock;
using TimePoint = TimerClock::time_point;

class TimerHeap {
 public:
  using Callback = std::function<void(TimerId)>;
  // Called with the number of timers that left the heap (fired once, erased or destroyed).
  using RemoveHook = void (*)(std::size_t n) noexcept;

  explicit TimerHeap(RemoveHook on_remove = nullptr) : on_remove_(on_remove) {}
  ~TimerHeap();
  TimerHeap(const TimerHeap&) = delete;
  TimerHeap& operator=(const TimerHeap&) = delete;

  // interval zero: one-shot; otherwise periodic with that period. Ids must be unique.
  void add(TimerId id, TimePoint deadline, std::chrono::nanoseconds interval, Callback cb);
  bool erase(TimerId id);
  bool contains(TimerId id) const { return live_.count(id) != 0; }
  std::size_t size() const noexcept { return live_.size(); }
  std::optional<TimePoint> next_deadline();
  // Fires every timer whose deadline is <= now in (deadline, id) order. A timer added by a
  // callback has a deadline >= its add time + 1 ms > now, so it never fires in the same pass; a
  // periodic timer is re-armed at the first period boundary after now (missed periods skipped).
  std::size_t fire_due(TimePoint now);

 private:
  struct Slot {
    TimePoint deadline;
    std::chrono::nanoseconds interval;
    Callback cb;  // moved out while it runs: it may clear its own timer meanwhile
  };
  struct Entry {
    TimePoint deadline;
    TimerId id;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const noexcept {
      return a.deadline != b.deadline ? a.deadline > b.deadline : a.id > b.id;
    }
  };
  void push(Entry e);
  void pop();
  void drop_stale_top();
  void compact();

  std::vector<Entry> heap_;
  std::unordered_map<TimerId, Slot> live_;
  RemoveHook on_remove_;
};

// The calling thread's timers, used by EventLoop::run.
std::optional<TimePoint> next_timer_deadline();
std::size_t fire_due_timers(TimePoint now);

}  // namespace procspec::detail

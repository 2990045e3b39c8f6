#include "loop/timer_heap.h"

#include <algorithm>

namespace procspec::detail {

TimerHeap::~TimerHeap() {
  if (on_remove_ && !live_.empty()) on_remove_(live_.size());
}

void TimerHeap::push(Entry e) {
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void TimerHeap::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  heap_.pop_back();
}

void TimerHeap::add(TimerId id, TimePoint deadline, std::chrono::nanoseconds interval, Callback cb) {
  live_.emplace(id, Slot{deadline, interval, std::move(cb)});
  push(Entry{deadline, id});
}

bool TimerHeap::erase(TimerId id) {
  if (live_.erase(id) == 0) return false;
  if (on_remove_) on_remove_(1);
  compact();
  return true;
}

void TimerHeap::compact() {
  // Lazy deletion keeps clear() O(1); rebuild once stale entries dominate so memory stays bounded.
  if (heap_.size() <= 64 || heap_.size() <= 2 * live_.size()) return;
  std::erase_if(heap_, [this](const Entry& e) {
    auto it = live_.find(e.id);
    return it == live_.end() || it->second.deadline != e.deadline;
  });
  std::make_heap(heap_.begin(), heap_.end(), Later{});
}

void TimerHeap::drop_stale_top() {
  while (!heap_.empty()) {
    auto it = live_.find(heap_.front().id);
    if (it != live_.end() && it->second.deadline == heap_.front().deadline) return;
    pop();
  }
}

std::optional<TimePoint> TimerHeap::next_deadline() {
  drop_stale_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().deadline;
}

std::size_t TimerHeap::fire_due(TimePoint now) {
  std::size_t fired = 0;
  for (;;) {
    drop_stale_top();
    if (heap_.empty() || heap_.front().deadline > now) break;
    const Entry top = heap_.front();
    pop();
    auto it = live_.find(top.id);
    // The callback runs from a local: it may clear its own timer (destroying the slot) meanwhile.
    Callback cb = std::move(it->second.cb);
    const bool periodic = it->second.interval.count() != 0;
    if (!periodic) {
      live_.erase(it);
      if (on_remove_) on_remove_(1);
    } else {
      // TMR-1: skip missed periods instead of firing a burst to catch up.
      const auto period = it->second.interval;
      const auto missed = (now - top.deadline) / period;
      const TimePoint next = top.deadline + (missed + 1) * period;
      it->second.deadline = next;
      push(Entry{next, top.id});
    }
    cb(top.id);  // may add or clear timers: `it` is not used after this line
    ++fired;
    if (periodic) {
      auto again = live_.find(top.id);
      if (again != live_.end()) again->second.cb = std::move(cb);  // still pending: give it back
    }
  }
  return fired;
}

}  // namespace procspec::detail

#include "pool/worker_table.h"

#include <utility>

namespace procspec::detail {

int WorkerTable::add(SlotKind kind, ChildBody body) {
  WorkerSlot slot;
  slot.id = static_cast<int>(slots_.size());
  slot.kind = kind;
  slot.body = std::move(body);
  slots_.push_back(std::move(slot));
  return slots_.back().id;
}

WorkerSlot* WorkerTable::find_pid(pid_t pid) {
  for (auto& slot : slots_) {
    if (slot.pid == pid) return &slot;
  }
  return nullptr;
}

std::size_t WorkerTable::running_count() const {
  std::size_t n = 0;
  for (const auto& slot : slots_) n += slot.pid != 0 ? 1 : 0;
  return n;
}

SlotStatus* WorkerTable::mirror(const WorkerSlot& slot) {
  if (!mirror_ || static_cast<std::size_t>(slot.id) >= mirror_->size()) return nullptr;
  return &(*mirror_)[static_cast<std::size_t>(slot.id)];
}

void WorkerTable::mark_started(WorkerSlot& slot, pid_t pid) {
  if (slot.started_at != Clock::time_point{}) ++slot.restarts;
  slot.pid = pid;
  slot.started_at = Clock::now();
  slot.respawn_at.reset();
  slot.stop_requested = false;
  if (auto* m = mirror(slot)) {
    m->restarts.store(slot.restarts);
    m->pid.store(pid);
  }
}

void WorkerTable::mark_exited(WorkerSlot& slot, int code, int signal) {
  slot.pid = 0;
  slot.last_exit_code = code;
  slot.last_signal = signal;
  if (auto* m = mirror(slot)) {
    m->last_exit_code.store(code);
    m->last_signal.store(signal);
    m->pid.store(0);
  }
}

void WorkerTable::set_crash_count(WorkerSlot& slot, int crashes) {
  slot.crash_count = crashes;
  if (auto* m = mirror(slot)) m->crash_count.store(crashes);
}

}  // namespace procspec::detail

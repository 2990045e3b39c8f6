#pragma once
// WorkerTable: the manager's private record of its children, one slot per id. Slot ids are
// stable for the life of the manager: a restarted child takes the same slot with a new pid
// (POOL-3). Fields that other processes may read are mirrored into SharedSlots.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "pool/shared_slots.h"

namespace procspec::detail {

// What a slot runs. The Server adds task workers; the pool only workers and user processes.
enum class SlotKind { worker, task_worker, user };

using Clock = std::chrono::steady_clock;

// Runs in the freshly forked child (after-fork hooks already ran, signals reset); the return
// value becomes the exit status. The body sets the child's role itself.
using ChildBody = std::function<int(int id)>;

struct WorkerSlot {
  int id = 0;
  SlotKind kind = SlotKind::worker;
  ChildBody body;
  pid_t pid = 0;                             // 0: not running
  Clock::time_point started_at{};
  std::optional<Clock::time_point> respawn_at;  // set while waiting out a back-off
  bool stop_requested = false;               // the manager asked it to stop (reload/shutdown)
  int crash_count = 0;
  int restarts = 0;
  int last_exit_code = 0;
  int last_signal = 0;
};

class WorkerTable {
 public:
  explicit WorkerTable(SharedSlots* mirror) : mirror_(mirror) {}

  int add(SlotKind kind, ChildBody body);
  std::size_t size() const noexcept { return slots_.size(); }
  WorkerSlot& at(int id) { return slots_.at(static_cast<std::size_t>(id)); }
  WorkerSlot* find_pid(pid_t pid);
  std::vector<WorkerSlot>& slots() noexcept { return slots_; }
  const std::vector<WorkerSlot>& slots() const noexcept { return slots_; }
  std::size_t running_count() const;

  // Keep the shared mirror in step with the private record.
  void mark_started(WorkerSlot& slot, pid_t pid);
  void mark_exited(WorkerSlot& slot, int code, int signal);
  void set_crash_count(WorkerSlot& slot, int crashes);

 private:
  SlotStatus* mirror(const WorkerSlot& slot);
  std::vector<WorkerSlot> slots_;
  SharedSlots* mirror_;
};

}  // namespace procspec::detail

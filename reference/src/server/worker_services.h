#pragma once
// The server's inter-process services: task workers (SRV-8), send_message (SRV-9), user processes
// (SRV-10) and the task results that still reach Finish at shutdown (SRV-11). One component that
// every mode with worker processes attaches with the calls below.
//
// Layout. Ids follow Swoole: workers 0..W-1, task workers W..W+T-1, user processes W+T+i.
//   - Every worker and task worker has an inbox: a uds_dgram channel pair made before fork; any
//     process sends on `reactor`, the owner receives on `worker` (chunked, so a message of any
//     size up to kMaxServiceMessage passes). Finish results and pipe messages travel there, and
//     tasks with task_ipc_mode 1.
//   - task_ipc_mode 2/3: tasks travel over a private SysV queue (sysvmsg channels with
//     queue_capacity 1): pair 1+t is addressed to task worker t (mtype t+2); with mode 3, tasks
//     that fit one queue message go to pair 0 (mtype 1), which every task worker's receiver
//     takes from: the first idle one wins. A larger task in mode 3 is addressed (round robin),
//     because chunks of one message must reach one receiver.
//   - Task ids are a per-process counter from 0 (as Swoole). The task worker always answers a
//     task that expects an answer: with the finish() result, or with an empty "no result"
//     marker when on_task returned without finish(), so the calling worker knows exactly which
//     results are still outstanding (taskwait then fails at once instead of timing out).
//   - Sends never deadlock two processes that send to each other: a send that would block polls
//     the sender's own inbox too and keeps what arrives for later (backlog, run from the loop).
//
// Integration contract (any mode with a manager and worker processes; all before/after fork as
// noted; BASE does exactly this in base_mode.cc / base_worker.cc, PROCESS in process_mode.cc /
// channel_worker.cc):
//   1. Server::start() calls ServerServices::prepare(core) before the mode runs (creates the
//      inboxes and queues, before any fork) and release() after it returned.
//   2. The process that runs the Manager: add the event-worker slots FIRST, then
//      register_service_slots(manager, core, in_child) (task-worker and user-process slots), and
//      build the ManagerOptions with apply_service_manager_options(options) (task workers stop
//      last).
//   3. Each event worker process/thread, once its EventLoop exists:
//        auto svc = WorkerServices::attach(core, worker_id, loop);
//      keep it alive while the loop runs (destroying it detaches); at graceful stop, wait until
//      svc->outstanding_tasks() == 0 (set_on_tasks_done tells when) before closing connections.
//   Server::task/taskwait/finish/send_message use the calling thread's attachment.
// THREAD mode: the inboxes are process channels and the task workers processes, so start()
// refuses task_worker_num > 0 and add_process there (ServerServices::prepare), and its worker
// threads do not attach (send_message there is the mode's own WorkerContext::send_message).
// Making THREAD work would mean: task workers as threads with ChannelType::thread inboxes and a
// per-thread attachment (the current() pointer is already thread_local).
//
// Limits: task_ipc_mode 2/3 use private queues (message_queue_key does not apply to them). A
// task worker that stops (reload, shutdown) runs the tasks it already took in (its backlog and
// what its queue receiver holds, at most two) and leaves the rest queued for its replacement; a
// task the receiver thread pulls out of the kernel queue after that last look is lost with the
// process. Tasks sent from a user process take no result (Swoole's NOREPLY).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "procspec/channel.h"
#include "procspec/event_loop.h"
#include "procspec/result.h"
#include "procspec/user_process.h"

namespace procspec::detail {

class ServerCore;
class Manager;
struct ManagerOptions;

// Largest task, result or pipe message.
inline constexpr std::size_t kMaxServiceMessage = 64 * 1024 * 1024;

// Shared by every process of one server: made before fork, owned by ServerCore::services.
class ServerServices {
 public:
  ServerServices() = default;
  ~ServerServices();
  ServerServices(const ServerServices&) = delete;
  ServerServices& operator=(const ServerServices&) = delete;

  // Before start (Server::add_process).
  std::vector<UserProcessFactory> user_processes;

  // In start(), before the mode runs. Errors: task workers/user processes in THREAD mode, a task
  // worker without on_task, channels or queues that cannot be made.
  Status prepare(ServerCore& core);
  // After the mode returned, in the process that called prepare: closes inboxes, removes queues.
  void release() noexcept;
  // Task workers or user processes need a manager (SRV-BASE-1).
  bool needs_manager() const noexcept { return !user_processes.empty() || task_worker_num > 0; }

  int worker_num = 0;
  int task_worker_num = 0;
  int task_ipc_mode = 1;
  int user_base() const noexcept { return worker_num + task_worker_num; }  // first user process id

  std::vector<ChannelPair> inboxes;      // [id] for id < worker_num + task_worker_num
  std::vector<ChannelPair> task_queues;  // modes 2/3: [0] shared (mode 3), [1 + t] task worker t
  // Shared memory: [0] round-robin cursor, [1 + t] 1 while task worker t runs a task.
  std::atomic<int>* task_state = nullptr;
  std::size_t task_state_bytes = 0;
  std::size_t queue_msgmax = 8192;  // largest SysV message (a mode-3 task above it is addressed)
};

// in_child runs first in every task-worker and user-process child: drop what the mode's
// children must not hold (PROCESS: the reactor<->worker channel ends, so a stream channel still
// sees EOF when its worker dies).
Status register_service_slots(Manager& manager, ServerCore& core, std::function<void()> in_child = {});
void apply_service_manager_options(ManagerOptions& options);

// One process's (or thread's) attachment: its inbox in its loop and the API the Server calls.
class WorkerServices {
 public:
  // loop may be null for a sender-only attachment (no inbox is read; taskwait is refused).
  static Result<std::unique_ptr<WorkerServices>> attach(ServerCore& core, int worker_id, EventLoop* loop);
  ~WorkerServices();
  WorkerServices(const WorkerServices&) = delete;
  WorkerServices& operator=(const WorkerServices&) = delete;

  // The calling thread's attachment, or nullptr.
  static WorkerServices* current() noexcept;

  int worker_id() const noexcept { return id_; }
  bool is_task_worker() const noexcept;
  // Tasks sent with task() whose answer has not arrived (taskwait's are not counted).
  std::size_t outstanding_tasks() const noexcept { return outstanding_.size(); }
  // Called (from the loop) each time outstanding_tasks() drops to 0.
  void set_on_tasks_done(std::function<void()> fn) { on_tasks_done_ = std::move(fn); }
  // Task worker at stop: handle what was already taken in (backlog, the queue receiver's hold).
  void finish_held_work();

  Result<int> task(std::string_view data, int dst_task_worker);
  Result<std::string> taskwait(std::string_view data, double timeout_seconds, int dst_task_worker);
  Status finish(std::string_view result);
  Status send_message(std::string_view message, int dst_worker_id);

 private:
  struct CurrentTask {
    std::uint64_t id;
    int src;
    std::uint8_t flags;
    bool answered = false;
  };

  WorkerServices(ServerCore& core, int worker_id, EventLoop* loop);
  Status hook_into_loop();
  int pick_task_worker(int dst, std::size_t size) const;
  Channel* task_channel(int task_worker, std::size_t size);
  // Sends without blocking the inbox (see the file comment).
  Status send_on(Channel& channel, const MessageHeader& header, std::string_view payload);
  // Receives everything ready on the inbox (and task queues); into_backlog: keep, don't dispatch.
  void pump(bool into_backlog);
  void pump_channel(Channel& channel, bool into_backlog);
  void dispatch(Message message);
  void run_backlog();
  void schedule_backlog();
  void run_task(const Message& message);
  void on_finish_message(const Message& message);
  Status answer(const CurrentTask& task, std::string_view result, bool has_result);
  std::vector<Channel*> receive_channels() const;

  ServerCore& core_;
  ServerServices& services_;
  int id_;
  EventLoop* loop_;
  WorkerServices* previous_ = nullptr;
  std::vector<int> watched_fds_;
  std::uint64_t next_task_id_ = 0;
  std::set<std::uint64_t> outstanding_;
  std::set<std::uint64_t> abandoned_;  // taskwait timed out: drop the late result
  std::optional<std::uint64_t> awaited_;
  std::optional<Message> awaited_result_;
  std::deque<Message> backlog_;
  bool backlog_scheduled_ = false;
  std::optional<CurrentTask> current_task_;
  std::function<void()> on_tasks_done_;
};

}  // namespace procspec::detail

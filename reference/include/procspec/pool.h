#pragma once
// Pool: the counterpart of Swoole\Process\Pool — a manager that keeps worker_num worker
// processes (and optional user processes) running, restarts them when they die, reloads them
// one at a time on SIGUSR1 and stops them all on SIGTERM.
//
// Made by Pool::create (errors: invalid settings, a queue that cannot be created). Register the
// events and call start() in the process that should become the manager: it forks the workers,
// runs until shutdown (SIGTERM, or shutdown() from any callback) and returns after every child
// was reaped. Events (POOL-2), each any callable:
//   WorkerStart(pool, id)  in the worker, required;      WorkerStop(pool, id)  in the worker;
//   Message(pool, data)    in a worker, ipc != none;     Start(pool), Shutdown(pool) in the manager;
//   WorkerError(pool, exit) in the manager, for each abnormal exit (code != 0 or a signal) of a
//   child while the pool runs (POOL-3's report; the slot is restarted right after it returns).
// IPC (POOL-1, POOL-7): msgqueue — any worker takes each message sent to the SysV queue;
// socket — workers accept on the listen() socket, one framed request per connection, the
// write()s of its Message callback form one framed answer; unixsock — a datagram socketpair per
// worker, send_message(data, id) reaches that worker.
// A worker's default SIGTERM behaviour (ipc != none) is to finish its current message, run
// WorkerStop and exit 0; SIGTERM is held while WorkerStart runs. A worker that registers its
// own SIGTERM handler (signals.h) in WorkerStart replaces that default (SIG-5); the handler runs
// between messages and may call stop(). With ipc none SIGTERM keeps its default action, as in
// Swoole. Roles: the caller of start() is `manager` until it returns (SIG-3 applies to Start,
// Shutdown and WorkerError), workers are `pool_worker`, user processes `user`.
// Managers must be started from a single-threaded process (the signal mask is per thread, and
// PR_SET_PDEATHSIG follows the forking thread).
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "procspec/result.h"
#include "procspec/user_process.h"

namespace procspec {

enum class PoolIpc { none = 0, unixsock = 1, msgqueue = 2, socket = 3 };  // Swoole's numbering

struct PoolOptions {
  int worker_num = 1;
  PoolIpc ipc = PoolIpc::none;
  key_t msgqueue_key = 0;  // 0: a private queue, removed with the Pool; else kept (like Swoole)
  std::chrono::milliseconds max_wait_time{3000};
  std::size_t max_package_size = 2 * 1024 * 1024;  // socket requests; unixsock datagrams
  // POOL-10: a child dying sooner than healthy_uptime after its start is restarted after
  // restart_backoff_base * 2^(crashes-1), capped; healthy_uptime 0 restarts at once, always.
  std::chrono::milliseconds healthy_uptime{1000};
  std::chrono::milliseconds restart_backoff_base{50};
  std::chrono::milliseconds restart_backoff_max{5000};
  // Signals that also mean "shut down" (e.g. SIGINT for a program run from a terminal).
  std::vector<int> stop_signals{};
};

// A child's exit as the manager saw it (POOL-3).
struct WorkerExit {
  int worker_id;
  pid_t pid;
  int exit_code;
  int signal;
};

// A snapshot of one slot, readable from the manager, any worker and the process that created
// the Pool (the table is shared memory).
struct WorkerInfo {
  int id;
  pid_t pid;         // 0 while not running (between a death and its restart)
  int crash_count;   // quick deaths in a row (POOL-10)
  int restarts;
  int last_exit_code;
  int last_signal;
};

class Pool {
 public:
  using WorkerFn = std::function<void(Pool&, int worker_id)>;
  using MessageFn = std::function<void(Pool&, std::string_view data)>;
  using PoolFn = std::function<void(Pool&)>;
  using WorkerErrorFn = std::function<void(Pool&, const WorkerExit&)>;

  static Result<std::unique_ptr<Pool>> create(const PoolOptions& options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Before start(); after it they fail with already_started. on_message with ipc none fails.
  Status on_worker_start(WorkerFn fn);
  Status on_worker_stop(WorkerFn fn);
  Status on_message(MessageFn fn);
  Status on_start(PoolFn fn);
  Status on_shutdown(PoolFn fn);
  Status on_worker_error(WorkerErrorFn fn);

  // ipc socket only, once, before start(): binds host (a numeric IPv4/IPv6 address) and port
  // (0: kernel-chosen); returns the bound port.
  Result<std::uint16_t> listen(std::string_view host, std::uint16_t port = 0, int backlog = 512);
  // Before start(): a user process kept alive by the manager; returns its id (worker_num + n).
  Result<int> add_process(UserProcessFactory factory);

  // Becomes the manager; returns after shutdown with every child reaped. Errors: a missing
  // WorkerStart or Message callback, socket ipc without listen(), already running.
  Status start();
  // From any callback: in the manager it stops the pool, in a worker it asks the manager to.
  Status shutdown();
  // In a worker or user process: stop after the current message, as SIGTERM would (the manager
  // starts a fresh one unless the pool is shutting down). Elsewhere: errc::wrong_role.
  Status stop();
  // Sends one message to worker `worker_id` (ipc unixsock) or to a user process. Unknown id →
  // errc::unknown_worker; not started → errc::not_started; empty → errc::payload_empty.
  Status send_message(std::string_view data, int worker_id);
  // ipc socket, inside Message: appends to the answer sent when the callback returns.
  Status write(std::string_view data);

  // Current pid of worker (or user process) `id`: after a restart, the new pid (POOL-12).
  Result<pid_t> get_process(int id) const;
  Result<WorkerInfo> worker_info(int id) const;
  // The worker id in a worker or user process, -1 elsewhere.
  int worker_id() const noexcept;
  pid_t master_pid() const noexcept;
  // In a worker: false once SIGTERM asked it to stop. In the manager: whether it is running.
  bool running() const noexcept;
  // The SysV queue id with ipc msgqueue (for senders in other processes), else -1.
  int msgqueue_id() const noexcept;
  int worker_num() const noexcept;

  struct Impl;

 private:
  explicit Pool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace procspec

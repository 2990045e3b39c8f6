#pragma once
// Server: the counterpart of Swoole\Server in its three modes (SPEC SRV).
//   BASE     workers accept and own their connections; the starting process becomes the manager
//            (or, with one worker and nothing to manage, is the only process: SRV-BASE-1).
//   PROCESS  the master's reactor threads own every connection, frame the stream and forward
//            packets to worker processes over a channel (ipc setting); a worker crash loses no
//            connection (SRV-PROC-*).
//   THREAD   one process: reactor and worker threads, an in-process channel (SRV-THREAD-*).
//
// The "fd" the callbacks see is a session id: unique for the server's lifetime, so a late answer
// can never reach a new client that reused a socket number.
//
// Threads/processes: configure (set, on_*) before start(), from one thread. send/close/
// send_message/task are called from worker callbacks (any worker process or thread); shutdown
// and reload from any callback or from a signal. start() blocks until the server has stopped.
// Errors: settings errors name the key (errc::invalid_setting); a port in use fails start()
// naming the address; send to a closed session is errc::peer_closed; beyond the output buffer
// is errc::output_buffer_full.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "procspec/result.h"
#include "procspec/settings.h"
#include "procspec/user_process.h"

namespace procspec {

enum class SockType { tcp, tcp6 };

struct WorkerError {
  int worker_id;
  pid_t pid;
  int exit_code;
  int signal;
};

class Server;

struct ServerEvents {
  std::function<void(Server&)> on_start;                   // master (PROCESS/THREAD) or the first worker (BASE)
  std::function<void(Server&)> on_shutdown;
  std::function<void(Server&)> on_manager_start;
  std::function<void(Server&)> on_manager_stop;
  std::function<void(Server&, int worker_id)> on_worker_start;
  std::function<void(Server&, int worker_id)> on_worker_stop;
  std::function<void(Server&, const WorkerError&)> on_worker_error;  // any abnormal exit (SRV-3)
  std::function<void(Server&, std::uint64_t fd, int reactor_id)> on_connect;
  std::function<void(Server&, std::uint64_t fd, int reactor_id, std::string_view data)> on_receive;
  std::function<void(Server&, std::uint64_t fd, int reactor_id)> on_close;
  std::function<void(Server&, int src_worker_id, std::string_view message)> on_pipe_message;
  // SRV-8. In a task worker: one task (data as sent, binary-safe). Answer with Server::finish();
  // returning without finish() answers "no result" (Finish does not run; taskwait fails).
  std::function<void(Server&, int task_id, int src_worker_id, std::string_view data)> on_task;
  // In the worker that called task(): the task's finish() result.
  std::function<void(Server&, int task_id, std::string_view result)> on_finish;
};

namespace detail {
class ServerCore;
}

class Server {
 public:
  // host: an IPv4/IPv6 literal; port 0 lets the kernel choose (reported by port() once bound).
  static Result<std::unique_ptr<Server>> create(std::string host, int port, ServerMode mode,
                                                SockType sock_type = SockType::tcp);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status set(std::string_view key, const SettingValue& value);
  Status set(std::initializer_list<std::pair<std::string_view, SettingValue>> values);
  const ServerSettings& settings() const noexcept;
  ServerEvents& events() noexcept;

  // Binds, starts the processes/threads of the mode and serves until shutdown. Returns when
  // every worker has been stopped and reaped.
  Status start();

  // From a worker's callback.
  Status send(std::uint64_t fd, std::string_view data);
  Status close(std::uint64_t fd);
  // SRV-9: runs PipeMessage(src_worker_id, message) in worker dst_worker_id (workers
  // 0..worker_num-1, task workers worker_num..worker_num+task_worker_num-1), from any worker,
  // task worker or user process. Errors: unknown id (errc::unknown_worker, naming it), the
  // caller's own id (errc::invalid_argument), no on_pipe_message (errc::invalid_setting).
  Status send_message(std::string_view message, int dst_worker_id);

  // SRV-8 task workers (task_worker_num > 0, on_task set). From a worker (or a user process, whose
  // tasks take no result): sends data to task worker dst (-1: an idle one; task_ipc_mode 3
  // ignores dst) and returns the task id (a per-process counter from 0, as Swoole's). The result
  // arrives as on_finish(task_id, result) in this worker, from its event loop. Errors: no task
  // workers (invalid_setting), called in a task worker (wrong_role), dst out of range (unknown_worker).
  Result<int> task(std::string_view data, int dst_task_worker = -1);
  // Blocks this worker until the result arrives or timeout_seconds pass: std::errc::timed_out,
  // and the late result is dropped (never delivered to a later taskwait or to on_finish). A task
  // that returns without finish() fails with errc::payload_empty. Other inbox traffic (pipe
  // messages, other results) is kept and delivered after the call returns.
  Result<std::string> taskwait(std::string_view data, double timeout_seconds = 0.5, int dst_task_worker = -1);
  // In on_task: the task's result (once per task). Elsewhere: errc::wrong_role.
  Status finish(std::string_view result);

  // SRV-10, before start(): a user process started with the server (role `user`, its id is
  // worker_num + task_worker_num + index), restarted by the manager whenever it exits, stopped
  // with SIGTERM at shutdown; it may call send_message and task. Returns the index (0, 1, ...).
  Result<int> add_process(UserProcessFactory factory);
  // The same for a plain callable: fn runs as the process's run(); once it returns the process
  // serves its event loop (timers it set) until SIGTERM.
  Result<int> add_process(std::function<void(Server&)> fn);

  // Graceful stop (SRV-11): stop accepting, answer what is in flight, stop workers, exit start().
  Status shutdown();
  // Replace the workers one by one (SRV-11 SIGUSR1, SRV-14).
  Status reload();

  int port() const noexcept;       // the bound port (after start() bound it)
  ServerMode mode() const noexcept;
  // Workers 0..worker_num-1, task workers and user processes after them; -1 elsewhere.
  int worker_id() const noexcept;
  pid_t master_pid() const noexcept;
  pid_t manager_pid() const noexcept;

 private:
  explicit Server(std::unique_ptr<detail::ServerCore> core);
  std::unique_ptr<detail::ServerCore> core_;
};

}  // namespace procspec

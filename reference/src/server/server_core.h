#pragma once
// What every mode shares: the configuration, the listening socket, the connection count, and the
// per-thread "worker context" through which Server::send/close reach the client from whichever
// worker (process or thread) calls them.
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include "procspec/framing.h"
#include "procspec/server.h"
#include "procspec/unique_fd.h"
#include "server/reactor.h"
#include "server/shared_counters.h"

namespace procspec::detail {

// The calling worker's way to its clients: its own reactor in BASE mode, its channels to the
// reactor threads in PROCESS and THREAD modes.
class WorkerContext {
 public:
  virtual ~WorkerContext() = default;
  virtual int worker_id() const = 0;
  virtual Status send(std::uint64_t session, std::string_view data) = 0;
  virtual Status close(std::uint64_t session) = 0;
  virtual Status send_message(std::string_view message, int dst_worker_id) = 0;
};

// Thread-local: THREAD mode runs several workers in one process.
WorkerContext* current_worker_context() noexcept;
void set_current_worker_context(WorkerContext* context) noexcept;

class ServerCore;

// A mode is a choice of parts (Swoole's Factory): how processes/threads are laid out and how a
// packet travels from the reactor to a worker and back.
class ModeRunner {
 public:
  virtual ~ModeRunner() = default;
  // Blocks until the server stopped.
  virtual Status run(ServerCore& core) = 0;
  virtual Status shutdown() = 0;
  virtual Status reload() = 0;
};

std::unique_ptr<ModeRunner> make_base_mode();
std::unique_ptr<ModeRunner> make_process_mode();
std::unique_ptr<ModeRunner> make_thread_mode();

class ServerCore {
 public:
  Server* facade = nullptr;
  std::string host;
  int requested_port = 0;
  ServerMode mode = ServerMode::base;
  SockType sock_type = SockType::tcp;
  ServerSettings settings;
  ServerEvents events;

  // Set by start() before the mode runs.
  FramingSettings framing = FramingSettings::none();
  UniqueFd listen_fd;
  int port = 0;
  std::shared_ptr<ConnectionCount> conn_count;
  // PROCESS/THREAD: counted messages each worker took from each reactor's channel, indexed like
  // the channels (reactor_group.h channel_index); the master reads a dead worker's.
  std::shared_ptr<SharedCounters> taken;
  pid_t master_pid = 0;
  pid_t manager_pid = 0;
  std::unique_ptr<ModeRunner> runner;
  std::atomic<bool> started{false};

  ReactorOptions reactor_options(int reactor_id) const;
};

// Binds and listens (SRV-1); the error names the address. Returns the socket and its port.
Result<std::pair<UniqueFd, int>> open_listener(const std::string& host, int port, SockType type);

}  // namespace procspec::detail

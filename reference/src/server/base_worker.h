#pragma once
// A worker that accepts on the shared listening socket and owns the connections it accepts, so
// a packet goes from its reactor straight to onReceive and send() writes to the socket with no
// hop in between. A BASE worker is a process of its own: a crash closes only its connections
// (SRV-BASE-2). A THREAD worker is a thread of the master (SRV-THREAD-1): the main thread keeps
// the signals and posts stops to the worker's inbox, and pipe messages go inbox to inbox.
#include <memory>
#include <optional>
#include <span>

#include "procspec/event_loop.h"
#include "server/mailbox.h"
#include "server/reactor.h"
#include "server/server_core.h"
#include "server/worker_services.h"

namespace procspec::detail {

class BaseWorker final : public ConnectionEvents, public WorkerContext {
 public:
  // `thread_inboxes`: empty for a worker process; in THREAD mode every worker thread's inbox,
  // indexed by worker id (this worker's own is thread_inboxes[worker_id]).
  BaseWorker(ServerCore& core, int worker_id, std::span<const std::unique_ptr<Mailbox>> thread_inboxes = {});
  ~BaseWorker() override;

  // For a task posted to a worker thread's inbox: begin_stop() of the worker running it.
  static void stop_current();

  // Serves until stopped (SIGTERM, max_request, shutdown()); runs WorkerStart/WorkerStop.
  Status run();
  // Graceful stop (SRV-11): stop accepting, answer what was already received, close every
  // connection once its answers are out; after max_wait_time the rest are cut.
  void begin_stop();

  // ConnectionEvents
  void on_connect(Connection& conn) override;
  void on_packet(Connection& conn, std::string_view packet) override;
  void on_close(Connection& conn) override;

  // WorkerContext
  int worker_id() const override { return id_; }
  Status send(std::uint64_t session, std::string_view data) override;
  Status close(std::uint64_t session) override;
  Status send_message(std::string_view message, int dst_worker_id) override;

 private:
  void stop_when_idle();
  void close_connections();
  bool is_thread() const noexcept { return !thread_inboxes_.empty(); }
  Status post_pipe_message(std::string_view message, int dst_worker_id);

  ServerCore& core_;
  int id_;
  std::span<const std::unique_ptr<Mailbox>> thread_inboxes_;
  std::unique_ptr<EventLoop> loop_;
  std::optional<Reactor> reactor_;
  std::unique_ptr<WorkerServices> services_;  // inbox: task results, pipe messages (SRV-8, SRV-9)
  long long requests_ = 0;
  bool stopping_ = false;
};

}  // namespace procspec::detail

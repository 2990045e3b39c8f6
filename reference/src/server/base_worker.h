#pragma once
// A BASE-mode worker: it accepts on the shared listening socket and owns the connections it
// accepts, so a packet goes from its reactor straight to onReceive and send() writes to the
// socket with no hop in between. A crash closes only this worker's connections (SRV-BASE-2).
#include <memory>
#include <optional>

#include "procspec/event_loop.h"
#include "server/reactor.h"
#include "server/server_core.h"
#include "server/worker_services.h"

namespace procspec::detail {

class BaseWorker final : public ConnectionEvents, public WorkerContext {
 public:
  BaseWorker(ServerCore& core, int worker_id);
  ~BaseWorker() override;

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

  ServerCore& core_;
  int id_;
  std::unique_ptr<EventLoop> loop_;
  std::optional<Reactor> reactor_;
  std::unique_ptr<WorkerServices> services_;  // inbox: task results, pipe messages (SRV-8, SRV-9)
  long long requests_ = 0;
  bool stopping_ = false;
};

}  // namespace procspec::detail

#pragma once
// A PROCESS-mode worker process or a THREAD-mode worker thread: its connections live in the
// reactors, so packets arrive over one channel per reactor and every send/close goes back over
// the channel of the reactor that owns the session (forwarding.h has the conversation).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "procspec/channel.h"
#include "procspec/event_loop.h"
#include "server/server_core.h"

namespace procspec::detail {

class ChannelWorker final : public WorkerContext {
 public:
  // links[r]: this worker's end of the channel to reactor r. `own_process`: a PROCESS worker
  // (SIGTERM stops it) rather than a THREAD worker (a `shutdown` message stops it).
  ChannelWorker(ServerCore& core, int worker_id, std::vector<Channel*> links, bool own_process);
  ~ChannelWorker() override;
  ChannelWorker(const ChannelWorker&) = delete;
  ChannelWorker& operator=(const ChannelWorker&) = delete;

  // Serves until stopped; runs WorkerStart/WorkerStop.
  Status run();

  // WorkerContext
  int worker_id() const override { return id_; }
  Status send(std::uint64_t session, std::string_view data) override;
  Status close(std::uint64_t session) override;
  Status send_message(std::string_view message, int dst_worker_id) override;

 private:
  void on_readable(int reactor);
  void handle(int reactor, Message& message);
  template <class F>
  void handle_counted(const MessageHeader& header, F&& callback);
  void begin_stop();
  Status send_to(int reactor, const MessageHeader& header, std::string_view payload);
  Status flush_held(std::uint8_t flags);
  void lost_master(const std::string& why);

  ServerCore& core_;
  int id_;
  std::vector<Channel*> links_;
  bool own_process_;
  std::unique_ptr<EventLoop> loop_;

  // The response being held back until the packet's callback returns, so it can carry kDone.
  std::uint64_t current_session_ = 0;
  int current_reactor_ = 0;
  bool in_callback_ = false;
  bool holding_ = false;
  MessageHeader held_header_{};
  std::string held_;

  long long requests_ = 0;
  bool stopping_ = false;
  int acks_pending_ = 0;
};

}  // namespace procspec::detail

#pragma once
// A PROCESS-mode worker process: its connections live in the master's reactor threads, so packets arrive over one channel per reactor and every send/close goes back over
// the channel of the reactor that owns the session (forwarding.h has the conversation).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "procspec/channel.h"
#include "procspec/event_loop.h"
#include "server/server_core.h"
#include "server/worker_services.h"

namespace procspec::detail {

// A test seam for the one window tests cannot hit from outside: a PROCESS worker that dies
// after the kernel handed it a message and before it counted it (SRV-PROC-5). The hook runs in
// the worker right after each successful receive, before the count; conformance tests install
// one that kills the process on a marked packet. Null (the default) costs one branch.
using ReceivedHook = void (*)(const Message& message);
void set_worker_received_hook(ReceivedHook hook) noexcept;

class ChannelWorker final : public WorkerContext {
 public:
  // links[r]: this worker's end of the channel to reactor r. SIGTERM or a `shutdown` message
  // from a reactor stops it.
  ChannelWorker(ServerCore& core, int worker_id, std::vector<Channel*> links);
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
  Status wait_for_room(Channel& channel);
  void flush_at_end_of_turn();
  void lost_master(const std::string& why);

  ServerCore& core_;
  int id_;
  std::vector<Channel*> links_;
  std::unique_ptr<EventLoop> loop_;
  // Worker processes only: task results and pipe messages (worker_services.h).
  std::unique_ptr<WorkerServices> services_;
  bool tasks_awaited_ = false;  // begin_stop waited for outstanding task results (SRV-11)

  // The response being held back until the packet's callback returns, so it can carry kDone.
  std::uint64_t current_session_ = 0;
  int current_reactor_ = 0;
  bool in_callback_ = false;
  bool holding_ = false;
  MessageHeader held_header_{};
  std::string held_;

  bool flush_scheduled_ = false;
  long long requests_ = 0;
  bool stopping_ = false;
  int acks_pending_ = 0;
};

}  // namespace procspec::detail

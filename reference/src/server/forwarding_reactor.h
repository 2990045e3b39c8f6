#pragma once
// A reactor thread of PROCESS mode: it owns its share of the connections (Reactor),
// frames their streams and forwards each packet to a worker over that worker's channel, chosen
// by the Dispatcher (SRV-PROC-1, SRV-PROC-3); answers come back over the same channels and are
// written to the clients. It never blocks on a worker: what a channel cannot take now waits in a
// per-worker queue, as does everything for a worker that is starting or stopping
// (forwarding.h describes the conversation).
//
// Threads: constructed on the master's main thread, run() on its own thread; everything else
// runs on that thread — other threads reach it through mailbox().
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "procspec/channel.h"
#include "procspec/event_loop.h"
#include "procspec/timer.h"
#include "server/dispatcher.h"
#include "server/mailbox.h"
#include "server/reactor.h"
#include "server/server_core.h"

namespace procspec::detail {

class ForwardingReactor final : public ConnectionEvents {
 public:
  // workers[w]: this reactor's end of the channel to worker w.
  static Result<std::unique_ptr<ForwardingReactor>> create(ServerCore& core, int reactor_id,
                                                           std::vector<Channel*> workers,
                                                           std::shared_ptr<WorkerLoad> load);
  ~ForwardingReactor() override;
  ForwardingReactor(const ForwardingReactor&) = delete;
  ForwardingReactor& operator=(const ForwardingReactor&) = delete;

  Status run();
  Mailbox& mailbox() { return *mailbox_; }
  int id() const noexcept { return id_; }

  // On the reactor's thread (post them through mailbox()).
  // Worker w died: deliver the answers it had sent, close the connections it leaves
  // unanswered (SRV-PROC-5), reset the channel for its replacement.
  void worker_exited(int worker);
  // Graceful stop (SRV-11): no new connections or requests, answer what is in flight, close
  // every connection; `drained` runs once none is left (at the latest after max_wait_time).
  void begin_shutdown(std::function<void()> drained);
  void stop();

  // ConnectionEvents
  void on_connect(Connection& conn) override;
  void on_packet(Connection& conn, std::string_view packet) override;
  void on_close(Connection& conn) override;

 private:
  struct Queued {
    MessageHeader header;
    std::string payload;
  };
  // A counted message handed to a channel and not yet reported done, in channel order.
  struct Outstanding {
    std::uint64_t session;
    std::size_t size;
  };
  struct WorkerLink {
    Channel* channel = nullptr;
    std::size_t taken_index = 0;  // in core.taken
    std::deque<Outstanding> outstanding;
    // Sequence bookkeeping against the worker's `taken` counter: messages retired (done, or
    // lost with a dead worker) and messages retired that no worker ever took.
    std::uint64_t retired = 0;
    std::uint64_t never_taken = 0;
    bool up = false;  // said `ready` and not `stopping`
    bool stop_ack_due = false;
    bool stopped_cleanly = false;  // stop_ack sent: it finishes everything before exiting
    bool end_seen = false;         // sysvmsg: the end marker of the watched worker was read
    bool broken = false;  // the channel failed for good; stop watching it
    std::deque<Queued> queue;
    std::size_t queued_bytes = 0;
    std::vector<std::uint64_t> paused;  // connections not read while the queue is over its limit
    bool watching_writes = false;
    TimerId retry_timer = 0;  // channels without a writable fd (sysvmsg) retry on a timer
  };

  ForwardingReactor(ServerCore& core, int reactor_id, std::vector<Channel*> workers, std::shared_ptr<WorkerLoad> load,
                    std::unique_ptr<Mailbox> mailbox);
  void forward(int worker, const MessageHeader& header, std::string_view payload);
  void flush_queue(int worker);
  void flush_at_end_of_turn();
  std::size_t queue_limit() const;
  void watch_writes(int worker, bool on);
  void on_channel_readable(int worker);
  void handle(int worker, Message& message);
  void finished_one(std::uint64_t session, int worker);
  void drain_dead(int worker);
  Status rearm_after_reset(WorkerLink& link);
  void retire_done(int worker, std::uint64_t session);
  void settle_skipped(int worker, std::uint64_t session);
  void sent_counted(WorkerLink& link, const MessageHeader& header, std::size_t size);
  void lose(int worker, std::uint64_t session);
  void check_drained();
  MessageHeader header_for(MessageKind kind, int worker, std::uint64_t session) const;

  ServerCore& core_;
  int id_;
  std::vector<WorkerLink> links_;
  Dispatcher dispatcher_;
  std::unique_ptr<Mailbox> mailbox_;
  std::unique_ptr<EventLoop> loop_;
  std::optional<Reactor> reactor_;
  bool forward_connect_ = false;
  bool forward_close_ = false;
  bool shutting_down_ = false;
  bool flush_scheduled_ = false;
  std::function<void()> drained_;
  TimerId shutdown_timer_ = 0;
};

}  // namespace procspec::detail

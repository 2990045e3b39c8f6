#include "server/forwarding_reactor.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

#include "procspec/log.h"
#include "server/forwarding.h"
#include "server/reactor_group.h"

namespace procspec::detail {
namespace {

constexpr int kMessagesPerWakeup = 64;
constexpr std::int64_t kSysvRetryMs = 1;

}  // namespace

Result<std::unique_ptr<ForwardingReactor>> ForwardingReactor::create(ServerCore& core, int reactor_id,
                                                                     std::vector<Channel*> workers,
                                                                     std::shared_ptr<WorkerLoad> load) {
  auto mailbox = Mailbox::create();
  if (!mailbox) return forward_error(std::move(mailbox).error());
  return std::unique_ptr<ForwardingReactor>(
      new ForwardingReactor(core, reactor_id, std::move(workers), std::move(load), std::move(*mailbox)));
}

ForwardingReactor::ForwardingReactor(ServerCore& core, int reactor_id, std::vector<Channel*> workers,
                                     std::shared_ptr<WorkerLoad> load, std::unique_ptr<Mailbox> mailbox)
    : core_(core),
      id_(reactor_id),
      links_(workers.size()),
      dispatcher_(static_cast<DispatchMode>(core.settings.dispatch_mode), std::move(load)),
      mailbox_(std::move(mailbox)),
      forward_connect_(static_cast<bool>(core.events.on_connect)),
      forward_close_(static_cast<bool>(core.events.on_close)) {
  for (std::size_t w = 0; w < workers.size(); ++w) {
    links_[w].channel = workers[w];
    links_[w].taken_index = channel_index(static_cast<int>(w), reactor_id, core.settings.reactor_num);
  }
}

ForwardingReactor::~ForwardingReactor() = default;

Status ForwardingReactor::run() {
  auto loop = EventLoop::create();
  if (!loop) return forward_error(std::move(loop).error());
  loop_ = std::move(*loop);
  if (auto st = mailbox_->attach(*loop_); !st) return st;
  std::vector<int> watched;
  for (std::size_t w = 0; w < links_.size(); ++w) {
    Channel& channel = *links_[w].channel;
    channel.set_nonblocking(true);
    const int fd = channel.readable_target().fd;
    const int worker = static_cast<int>(w);
    if (auto st = loop_->add(fd, [this, worker] { on_channel_readable(worker); }); !st) return st;
    watched.push_back(fd);
  }
  reactor_.emplace(*loop_, core_.reactor_options(id_), *this, core_.conn_count);
  Status st = reactor_->listen_on(core_.listen_fd.get());
  if (st) st = loop_->run();
  if (shutdown_timer_ != 0) (void)Timer::clear(shutdown_timer_);
  for (auto& link : links_) {
    if (link.retry_timer != 0) (void)Timer::clear(link.retry_timer);
  }
  reactor_.reset();
  for (std::size_t w = 0; w < links_.size(); ++w) {
    watch_writes(static_cast<int>(w), false);
    (void)loop_->remove(watched[w]);
  }
  mailbox_->detach();
  loop_.reset();
  return st;
}

MessageHeader ForwardingReactor::header_for(MessageKind kind, int worker, std::uint64_t session) const {
  MessageHeader h;
  h.kind = kind;
  h.reactor_id = static_cast<std::uint16_t>(id_);
  h.worker_id = static_cast<std::uint16_t>(worker);
  h.session_id = session;
  return h;
}

void ForwardingReactor::on_connect(Connection& conn) {
  if (!forward_connect_) return;
  const int w = dispatcher_.dispatch(conn.routing, conn.fd.get(), conn.peer_hash);
  forward(w, header_for(MessageKind::connect, w, conn.session_id), {});
}

void ForwardingReactor::on_packet(Connection& conn, std::string_view packet) {
  const int w = dispatcher_.dispatch(conn.routing, conn.fd.get(), conn.peer_hash);
  forward(w, header_for(MessageKind::data, w, conn.session_id), packet);
}

void ForwardingReactor::on_close(Connection& conn) {
  if (forward_close_) {
    const int w = dispatcher_.route(conn.routing, conn.fd.get(), conn.peer_hash);
    forward(w, header_for(MessageKind::close, w, conn.session_id), {});
  }
  // Answers still on their way are for nobody now; the worker's load must not keep them.
  if (conn.routing.in_flight > 0) (void)dispatcher_.lost(conn.routing, conn.routing.worker);
  if (shutting_down_) loop_->defer([this] { check_drained(); });
}

void ForwardingReactor::sent_counted(WorkerLink& link, const MessageHeader& header, std::size_t size) {
  if (is_counted(header)) {
    link.outstanding.push_back(Outstanding{header.session_id, size});
  }
}

void ForwardingReactor::forward(int worker, const MessageHeader& header, std::string_view payload) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  if (link.up && link.queue.empty()) {
    auto st = link.channel->send(header, payload);
    if (st) {
      sent_counted(link, header, payload.size());
      if (link.channel->has_pending()) flush_at_end_of_turn();
      return;
    }
    if (!would_block(st.error())) {
      // The worker is going away; its replacement gets the message (a death notice follows).
      log_debug("reactor " + std::to_string(id_) + ": worker " + std::to_string(worker) + ": " + st.error().message);
    }
  }
  link.queued_bytes += payload.size();
  link.queue.push_back(Queued{header, std::string(payload)});
  if (link.up) watch_writes(worker, true);
  // SRV-12 towards the workers: a stalled worker must not make the master buffer without bound.
  // Past the limit the connection that sent this is not read until the queue drains (TCP
  // back-pressure then reaches the client); nothing already read is dropped.
  if (link.queued_bytes > queue_limit() && header.kind == MessageKind::data) {
    reactor_->pause_reading(header.session_id);
    link.paused.push_back(header.session_id);
  }
}

std::size_t ForwardingReactor::queue_limit() const {
  return std::max<std::size_t>(1 << 20, static_cast<std::size_t>(core_.settings.output_buffer_size));
}

void ForwardingReactor::flush_queue(int worker) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  Channel& channel = *link.channel;
  auto blocked = [&](const Status& st) {
    if (st) return false;
    if (!would_block(st.error())) {
      log_debug("reactor " + std::to_string(id_) + ": worker " + std::to_string(worker) + ": " + st.error().message);
      watch_writes(worker, false);  // a dying worker: the death notice resets the channel
    } else {
      watch_writes(worker, true);
    }
    return true;
  };
  if (channel.has_pending() && blocked(channel.flush())) return;
  if (link.stop_ack_due) {
    if (blocked(channel.send(command_header(Command::stop_ack, id_, worker), {}))) return;
    link.stop_ack_due = false;
    link.stopped_cleanly = true;
  }
  while (link.up && !link.queue.empty()) {
    Queued& q = link.queue.front();
    const bool counted = q.header.kind == MessageKind::data || q.header.kind == MessageKind::connect;
    Connection* conn = counted ? reactor_->find(q.header.session_id) : nullptr;
    if (!counted || conn) {  // a packet of a connection that is gone is for nobody
      if (blocked(channel.send(q.header, q.payload))) return;
      sent_counted(link, q.header, q.payload.size());
    }
    link.queued_bytes -= q.payload.size();
    link.queue.pop_front();
  }
  if (!link.paused.empty() && link.queued_bytes <= queue_limit() / 2 && !shutting_down_) {
    for (auto session : link.paused) reactor_->resume_reading(session);
    link.paused.clear();
  }
  if (channel.has_pending()) {
    flush_at_end_of_turn();
  } else {
    watch_writes(worker, false);
  }
}

void ForwardingReactor::flush_at_end_of_turn() {
  // Deferred work runs after this turn's events and before the loop waits again: whatever a
  // batching channel collected during the turn leaves in one write.
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  loop_->defer([this] {
    flush_scheduled_ = false;
    for (std::size_t w = 0; w < links_.size(); ++w) {
      if (links_[w].channel->has_pending()) flush_queue(static_cast<int>(w));
    }
  });
}

void ForwardingReactor::watch_writes(int worker, bool on) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  if (!loop_ || link.watching_writes == on) return;
  Channel& channel = *link.channel;
  const int rfd = channel.readable_target().fd;
  const int wfd = channel.writable_target().fd;
  auto on_read = [this, worker] { on_channel_readable(worker); };
  auto on_write = [this, worker] { flush_queue(worker); };
  if (wfd < 0) {
    // sysvmsg: msgsnd has no readiness to wait for.
    if (on) {
      auto id = Timer::after(kSysvRetryMs, [this, worker] {
        links_[static_cast<std::size_t>(worker)].retry_timer = 0;
        links_[static_cast<std::size_t>(worker)].watching_writes = false;
        flush_queue(worker);
      });
      if (id) link.retry_timer = *id;
    } else if (link.retry_timer != 0) {
      (void)Timer::clear(link.retry_timer);
      link.retry_timer = 0;
    }
  } else if (wfd == rfd) {
    if (link.broken) return;
    (void)loop_->modify(rfd, on_read, on ? EventLoop::Callback(on_write) : EventLoop::Callback());
  } else if (on) {
    (void)loop_->add(wfd, {}, on_write);
  } else {
    (void)loop_->remove(wfd);
  }
  link.watching_writes = on;
}

void ForwardingReactor::on_channel_readable(int worker) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  for (int i = 0; i < kMessagesPerWakeup && !link.broken; ++i) {
    auto message = link.channel->receive();
    if (!message && link.channel->type() == ChannelType::sysvmsg && message.error().code == errc::peer_closed) {
      // The watched worker died and all it sent is in; the master's notice follows. The
      // channel itself is fine: clear the watch so the replacement's messages flow.
      link.end_seen = true;
      (void)rearm_after_reset(link);
      continue;
    }
    if (!message) {
      if (would_block(message.error())) return;
      // The worker side is gone for good (no manager holds it any more): stop listening, or a
      // level-triggered EOF would spin the loop.
      // At shutdown the manager and workers leave first: an EOF then is the expected end.
      const std::string what = "reactor " + std::to_string(id_) + ": channel to worker " + std::to_string(worker) +
                               ": " + message.error().message;
      if (shutting_down_) log_debug(what);
      else log_error(what);
      link.broken = true;
      watch_writes(worker, false);
      (void)loop_->remove(link.channel->readable_target().fd);
      return;
    }
    handle(worker, *message);
  }
  // A byte-stream channel may hold whole messages in its own buffer with nothing left in the
  // socket, so epoll would not wake us for them: come back next turn instead of waiting.
  if (!link.broken) loop_->defer([this, worker] { on_channel_readable(worker); });
}

void ForwardingReactor::handle(int worker, Message& message) {
  const MessageHeader& h = message.header;
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  switch (h.kind) {
    case MessageKind::data: {
      if (!reactor_->find(h.session_id)) return;  // closed meanwhile: the answer is for nobody
      auto st = reactor_->send(h.session_id, message.payload);
      if (!st && st.error().code == errc::output_buffer_full) {
        // The worker cannot hear "too much" (it sent asynchronously). A stream with a hole in it
        // would be worse than a closed one, so the connection ends here.
        log_warn("reactor " + std::to_string(id_) + ": session " + std::to_string(h.session_id) + ": " +
                 st.error().message + "; closing the connection");
        reactor_->abort(h.session_id);
      }
      if (h.flags & kDoneFlag) retire_done(worker, h.session_id);
      return;
    }
    case MessageKind::close:
      (void)reactor_->close(h.session_id);
      return;
    case MessageKind::command:
      switch (static_cast<Command>(h.flags)) {
        case Command::done:
          retire_done(worker, h.session_id);
          return;
        case Command::ready: {
          link.up = true;
          // A queue never reports that its reader died: watching the pid makes the receiver
          // put an end marker behind the worker's last message, so a death can be drained whole.
          const auto pid = static_cast<pid_t>(h.session_id);
          if (link.channel->type() == ChannelType::sysvmsg && pid > 0 && pid != ::getpid()) {
            if (auto st = link.channel->watch_peer(pid); !st) log_warn("reactor " + std::to_string(id_) + ": " + st.error().message);
          }
          flush_queue(worker);
          return;
        }
        case Command::stopping:
          link.up = false;
          link.stop_ack_due = true;
          flush_queue(worker);
          return;
        default:
          break;
      }
      break;
    default:
      break;
  }
  log_warn("reactor " + std::to_string(id_) + ": unexpected message kind " + std::to_string(static_cast<int>(h.kind)) +
           " from worker " + std::to_string(worker));
}

void ForwardingReactor::finished_one(std::uint64_t session, int worker) {
  Connection* conn = reactor_->find(session);
  if (!conn || conn->routing.worker != worker) return;  // closed, or already declared lost
  dispatcher_.done(conn->routing);
  if ((shutting_down_ || conn->close_when_answered) && conn->routing.in_flight == 0) {
    (void)reactor_->close(session);
    check_drained();
  }
}

void ForwardingReactor::retire_done(int worker, std::uint64_t session) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  settle_skipped(worker, session);
  if (!link.outstanding.empty()) {
    if (link.outstanding.front().session != session) {
      log_warn("reactor " + std::to_string(id_) + ": worker " + std::to_string(worker) + " finished session " +
               std::to_string(session) + " out of order (expected " +
               std::to_string(link.outstanding.front().session) + ")");
    }
    link.outstanding.pop_front();
    ++link.retired;
  }
  finished_one(session, worker);
}

// A worker finishes a channel's counted messages in the order they were sent, so a "done" for
// a later one means the ones before it will never be finished. That happens when a worker is
// killed inside its receive call after the kernel handed it a datagram but before it counted
// it: worker_exited() then believed the message was still in the channel for the replacement.
// Those requests died with the worker; their connections are closed (SRV-PROC-5), never left
// waiting. Only the first match counts: a connection's pipelined packets share a session.
void ForwardingReactor::settle_skipped(int worker, std::uint64_t session) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  if (link.outstanding.empty() || link.outstanding.front().session == session) return;
  std::size_t at = 1;
  while (at < link.outstanding.size() && link.outstanding[at].session != session) ++at;
  if (at == link.outstanding.size()) return;  // not ours to judge: retire_done warns
  std::vector<std::uint64_t> skipped;
  for (std::size_t i = 0; i < at; ++i) {
    skipped.push_back(link.outstanding.front().session);
    link.outstanding.pop_front();
    ++link.retired;
  }
  // They left the channel without being counted: keep "taken + never_taken == retired" true.
  link.never_taken += at;
  for (auto s : skipped) lose(worker, s);
  log_warn("reactor " + std::to_string(id_) + ": worker " + std::to_string(worker) + " never finished " +
           std::to_string(at) + " request(s) its dead predecessor had taken; their connections were closed");
}

void ForwardingReactor::lose(int worker, std::uint64_t session) {
  Connection* conn = reactor_->find(session);
  if (!conn) return;
  (void)dispatcher_.lost(conn->routing, worker);
  reactor_->abort(session);
}

Status ForwardingReactor::rearm_after_reset(WorkerLink& link) {
  auto st = link.channel->reset();
  // A reset may forget the wake-up state behind the readable fd (shm_ring): asking for the
  // target again arms it, or the replacement's first message would never wake this loop.
  (void)link.channel->readable_target();
  return st;
}

void ForwardingReactor::drain_dead(int worker) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  // sysvmsg hands messages over from a receiver thread, so "nothing yet" is not "nothing more":
  // wait (bounded) for the end marker that watch_peer put behind the dead worker's last message.
  const bool wait_for_marker = link.channel->type() == ChannelType::sysvmsg;
  int idle_polls = 0;
  for (int i = 0; i < 100000 && !link.broken; ++i) {
    auto message = link.channel->receive();
    if (message) {
      handle(worker, *message);
      continue;
    }
    if (wait_for_marker && message.error().code == errc::peer_closed) {
      link.end_seen = true;
      return;
    }
    if (!wait_for_marker || link.end_seen || !would_block(message.error()) || ++idle_polls > 50) return;
    pollfd p{link.channel->readable_target().fd, POLLIN, 0};
    (void)::poll(&p, 1, 10);
  }
}

void ForwardingReactor::worker_exited(int worker) {
  WorkerLink& link = links_[static_cast<std::size_t>(worker)];
  link.stop_ack_due = false;
  if (std::exchange(link.stopped_cleanly, false)) {
    // It finished everything sent before stop_ack and the channel is whole: deliver its last
    // answers and go on (on sysvmsg this also consumes the end marker of its watch).
    drain_dead(worker);
    if (std::exchange(link.end_seen, false)) (void)rearm_after_reset(link);
    return;
  }
  // Answers the worker wrote before it died are in the channel: deliver them first, so a
  // request that was answered is not also cut off.
  drain_dead(worker);
  // Which outstanding messages died with the worker: the ones it took (its shared counter says
  // how many) and did not finish. The rest are still in the channel and the replacement takes
  // them — except on a byte stream, which the replacement must discard (a torn frame cannot be
  // resynchronised), and except a message it may have been half-way through reading (chunked)
  // or that we were half-way through writing.
  const bool byte_stream = link.channel->type() == ChannelType::uds_stream || link.channel->type() == ChannelType::uds_batch;
  const std::uint64_t took = core_.taken->get(link.taken_index) + link.never_taken;
  std::size_t lost = took > link.retired ? static_cast<std::size_t>(took - link.retired) : 0;
  lost = std::min(lost, link.outstanding.size());
  std::size_t untaken_lost = 0;
  if (byte_stream) {
    untaken_lost = link.outstanding.size() - lost;
  } else if (lost < link.outstanding.size() && link.outstanding[lost].size + kWireHeaderBytes > kSmallestDatagram) {
    untaken_lost = 1;
  }
  std::vector<std::uint64_t> closed;
  for (std::size_t i = 0; i < lost + untaken_lost; ++i) {
    closed.push_back(link.outstanding.front().session);
    link.outstanding.pop_front();
    ++link.retired;
  }
  link.never_taken += untaken_lost;
  if (link.channel->has_pending() && !link.outstanding.empty()) {
    // Its tail is dropped by reset() below.
    closed.push_back(link.outstanding.back().session);
    link.outstanding.pop_back();
  }
  for (auto session : closed) lose(worker, session);
  if (!closed.empty()) {
    log_warn("reactor " + std::to_string(id_) + ": worker " + std::to_string(worker) + " died with " +
             std::to_string(closed.size()) + " request(s) in flight; their connections were closed");
  }
  link.end_seen = false;
  if (auto st = rearm_after_reset(link); !st) {
    log_error("reactor " + std::to_string(id_) + ": cannot reset the channel to worker " + std::to_string(worker) +
              ": " + st.error().message);
  }
  // A byte stream waits for the replacement's `ready` (it discards what is waiting first);
  // a message channel keeps what is queued for the replacement, so sending may go on.
  if (byte_stream) link.up = false;
  watch_writes(worker, false);
  if (link.up) flush_queue(worker);
  // What the dead worker may have taken without counting it (forwarding.h): the probe's `done`
  // settles it once the replacement is through the messages in front of it.
  if (!byte_stream && !link.outstanding.empty()) {
    forward(worker, command_header(Command::probe, id_, worker, kProbeSession), {});
  }
  if (shutting_down_) check_drained();
}

void ForwardingReactor::begin_shutdown(std::function<void()> drained) {
  if (shutting_down_) return;
  shutting_down_ = true;
  drained_ = std::move(drained);
  reactor_->stop_accepting();
  // What clients already sent is forwarded and answered; nothing newer is read.
  reactor_->drain_reads();
  reactor_->for_each_session([this](std::uint64_t session) {
    Connection* conn = reactor_->find(session);
    if (!conn) return;
    reactor_->pause_reading(session);
    if (conn->routing.in_flight == 0) (void)reactor_->close(session);
  });
  const auto grace = std::max<std::int64_t>(1, static_cast<std::int64_t>(core_.settings.max_wait_time * 1000));
  auto id = Timer::after(grace, [this] {
    shutdown_timer_ = 0;
    if (reactor_->size() > 0) {
      log_warn("reactor " + std::to_string(id_) + ": max_wait_time passed with " + std::to_string(reactor_->size()) +
               " connection(s) still waiting for answers; closing them");
    }
    reactor_->for_each_session([this](std::uint64_t s) { reactor_->abort(s); });
    check_drained();
  });
  if (id) shutdown_timer_ = *id;
  check_drained();
}

void ForwardingReactor::check_drained() {
  if (!shutting_down_ || !drained_ || reactor_->size() > 0) return;
  if (shutdown_timer_ != 0) {
    (void)Timer::clear(shutdown_timer_);
    shutdown_timer_ = 0;
  }
  auto done = std::move(drained_);
  drained_ = nullptr;
  done();
}

void ForwardingReactor::stop() {
  if (loop_) loop_->stop();
}

}  // namespace procspec::detail

#include "server/channel_worker.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "procspec/log.h"
#include "procspec/timer.h"
#include "server/connection.h"
#include "server/forwarding.h"
#include "server/reactor_group.h"
#include "server/server_threads.h"

namespace procspec::detail {
namespace {

// Messages handled per readiness event of one channel before the others get a turn.
constexpr int kMessagesPerWakeup = 64;

}  // namespace

ChannelWorker::ChannelWorker(ServerCore& core, int worker_id, std::vector<Channel*> links)
    : core_(core), id_(worker_id), links_(std::move(links)) {}

ChannelWorker::~ChannelWorker() {
  if (current_worker_context() == this) set_current_worker_context(nullptr);
}

Status ChannelWorker::run() {
  auto loop = EventLoop::create();
  if (!loop) return forward_error(std::move(loop).error());
  loop_ = std::move(*loop);
  std::vector<int> watched;
  for (std::size_t r = 0; r < links_.size(); ++r) {
    Channel& channel = *links_[r];
    channel.set_nonblocking(true);
    // A replacement worker may find what was sent to its dead predecessor (or half of it, on a
    // byte stream): those sessions were closed by the reactor, so it is thrown away unread.
    if (auto st = channel.reset(); !st) log_debug("worker " + std::to_string(id_) + ": reset: " + st.error().message);
    const PollTarget target = channel.readable_target();
    const int reactor = static_cast<int>(r);
    if (auto st = loop_->add(target.fd, [this, reactor] { on_readable(reactor); }); !st) return st;
    watched.push_back(target.fd);
  }
  if (core_.services) {
    auto services = WorkerServices::attach(core_, id_, loop_.get());
    if (!services) return forward_error(std::move(services).error());
    services_ = std::move(*services);
  }
  if (auto st = take_sigterm_as_stop([this] { begin_stop(); }); !st) return st;
  set_current_worker_context(this);
  if (core_.events.on_worker_start) core_.events.on_worker_start(*core_.facade, id_);
  for (std::size_t r = 0; r < links_.size() && !stopping_; ++r) {
    // The pid lets a reactor watch a channel that cannot see its peer die (sysvmsg).
    const auto pid = static_cast<std::uint64_t>(::getpid());
    if (auto st = send_to(static_cast<int>(r), command_header(Command::ready, static_cast<int>(r), id_, pid), {}); !st) {
      lost_master("cannot reach reactor " + std::to_string(r) + ": " + st.error().message);
    }
  }
  auto st = loop_->run();
  // Answers a batching channel still holds were accepted: they leave before the worker does.
  for (std::size_t r = 0; r < links_.size(); ++r) {
    Channel& channel = *links_[r];
    for (int i = 0; i < 10000 && channel.has_pending(); ++i) {
      auto flushed = channel.flush();
      if (!flushed && !would_block(flushed.error())) break;
      if (!flushed) (void)wait_for_room(channel);
    }
  }
  if (core_.events.on_worker_stop) core_.events.on_worker_stop(*core_.facade, id_);
  set_current_worker_context(nullptr);
  release_sigterm_stop();
  for (int fd : watched) (void)loop_->remove(fd);
  services_.reset();
  loop_.reset();
  return st;
}

namespace {
ReceivedHook g_received_hook = nullptr;
}  // namespace

void set_worker_received_hook(ReceivedHook hook) noexcept { g_received_hook = hook; }

void ChannelWorker::on_readable(int reactor) {
  Channel& channel = *links_[static_cast<std::size_t>(reactor)];
  for (int i = 0; i < kMessagesPerWakeup; ++i) {
    auto message = channel.receive();
    if (!message) {
      if (would_block(message.error())) return;
      lost_master("channel to reactor " + std::to_string(reactor) + ": " + message.error().message);
      return;
    }
    if (g_received_hook) g_received_hook(*message);
    if (is_counted(message->header)) {
      // Published before handling: if this process dies now, the master knows this message
      // reached it (and is lost with it) while the ones after it are still in the channel.
      core_.taken->add(channel_index(id_, reactor, static_cast<int>(links_.size())));
    }
    handle(reactor, *message);
    if (stopping_ && acks_pending_ <= 0) return;
  }
  // A byte-stream channel may hold whole messages in its own buffer with nothing left in the
  // socket, so epoll would not wake us for them: come back next turn instead of waiting.
  loop_->defer([this, reactor] { on_readable(reactor); });
}

void ChannelWorker::handle(int reactor, Message& message) {
  const MessageHeader& h = message.header;
  auto& ev = core_.events;
  switch (h.kind) {
    case MessageKind::data:
      handle_counted(h, [&] { ev.on_receive(*core_.facade, h.session_id, h.reactor_id, message.payload); });
      ++requests_;
      if (core_.settings.max_request > 0 && requests_ >= core_.settings.max_request && !stopping_) {
        // SRV-6: the manager starts a replacement; the stop handshake loses nothing.
        log_info("worker " + std::to_string(id_) + " reached max_request " + std::to_string(core_.settings.max_request));
        loop_->defer([this] { begin_stop(); });
      }
      return;
    case MessageKind::connect:
      handle_counted(h, [&] {
        if (ev.on_connect) ev.on_connect(*core_.facade, h.session_id, h.reactor_id);
      });
      return;
    case MessageKind::close:
      if (ev.on_close) ev.on_close(*core_.facade, h.session_id, h.reactor_id);
      return;
    case MessageKind::command:
      if (static_cast<Command>(h.flags) == Command::probe) {
        handle_counted(h, [] {});  // nothing to run: its `done` is the answer
      } else if (static_cast<Command>(h.flags) == Command::stop_ack && stopping_ && --acks_pending_ <= 0) {
        loop_->stop();
      }
      return;
    case MessageKind::pipe_message:
      if (ev.on_pipe_message) ev.on_pipe_message(*core_.facade, h.worker_id, message.payload);
      return;
    default:
      log_warn("worker " + std::to_string(id_) + ": unexpected message kind " +
               std::to_string(static_cast<int>(h.kind)) + " from reactor " + std::to_string(reactor));
  }
}

template <class F>
void ChannelWorker::handle_counted(const MessageHeader& header, F&& callback) {
  current_session_ = header.session_id;
  current_reactor_ = header.reactor_id;
  in_callback_ = true;
  callback();
  in_callback_ = false;
  Status st = holding_ ? flush_held(kDoneFlag)
                       : send_to(current_reactor_, command_header(Command::done, current_reactor_, id_, current_session_), {});
  if (!st) lost_master("cannot report to reactor " + std::to_string(current_reactor_) + ": " + st.error().message);
}

Status ChannelWorker::send(std::uint64_t session, std::string_view data) {
  if (data.empty()) return fail(errc::payload_empty, "send: empty data");
  const auto limit = static_cast<std::size_t>(core_.settings.output_buffer_size);
  if (data.size() > limit) {
    return fail(errc::output_buffer_full, "send: " + std::to_string(data.size()) +
                                              " bytes exceed the output buffer limit (output_buffer_size " +
                                              std::to_string(limit) + ")");
  }
  const int reactor = reactor_of(session);
  if (static_cast<std::size_t>(reactor) >= links_.size()) {
    return fail(errc::peer_closed, "send: session " + std::to_string(session) + " is not a connection of this server");
  }
  MessageHeader h;
  h.kind = MessageKind::data;
  h.reactor_id = static_cast<std::uint16_t>(reactor);
  h.worker_id = static_cast<std::uint16_t>(id_);
  h.session_id = session;
  if (in_callback_ && session == current_session_) {
    // Hold the newest answer of the packet being handled so the last one can carry kDone.
    if (auto st = flush_held(0); !st) return st;
    held_header_ = h;
    held_.assign(data);
    holding_ = true;
    return {};
  }
  return send_to(reactor, h, data);
}

Status ChannelWorker::close(std::uint64_t session) {
  const int reactor = reactor_of(session);
  if (static_cast<std::size_t>(reactor) >= links_.size()) {
    return fail(errc::peer_closed, "close: session " + std::to_string(session) + " is not a connection of this server");
  }
  if (in_callback_ && session == current_session_) {
    if (auto st = flush_held(0); !st) return st;
  }
  MessageHeader h;
  h.kind = MessageKind::close;
  h.reactor_id = static_cast<std::uint16_t>(reactor);
  h.worker_id = static_cast<std::uint16_t>(id_);
  h.session_id = session;
  return send_to(reactor, h, {});
}

Status ChannelWorker::send_message(std::string_view message, int dst_worker_id) {
  if (services_) return services_->send_message(message, dst_worker_id);
  return fail(errc::not_started, "send_message to worker " + std::to_string(dst_worker_id) +
                                     ": the worker's inbox is not attached");
}

Status ChannelWorker::flush_held(std::uint8_t flags) {
  if (!holding_) return {};
  holding_ = false;
  held_header_.flags = flags;
  return send_to(held_header_.reactor_id, held_header_, held_);
}

Status ChannelWorker::send_to(int reactor, const MessageHeader& header, std::string_view payload) {
  Channel& channel = *links_[static_cast<std::size_t>(reactor)];
  for (;;) {
    auto st = channel.send(header, payload);
    if (st) {
      if (channel.has_pending()) flush_at_end_of_turn();
      return st;
    }
    if (!would_block(st.error())) return st;
    if (auto waited = wait_for_room(channel); !waited) return waited;
  }
}

Status ChannelWorker::wait_for_room(Channel& channel) {
  // The reactor never blocks on its workers, so a worker may wait for room: this keeps a worker
  // that answers faster than a reactor forwards from queueing without bound.
  // Waits either way: a send refused with nothing held (a full datagram queue) needs the room too.
  auto st = channel.flush();
  if (!st && !would_block(st.error())) return st;
  const PollTarget target = channel.writable_target();
  if (target.fd < 0) {
    ::usleep(1000);  // sysvmsg: msgsnd has no readiness to wait for
    return {};
  }
  pollfd p{target.fd, static_cast<short>(target.events), 0};
  (void)::poll(&p, 1, 100);
  return {};
}

void ChannelWorker::flush_at_end_of_turn() {
  // After this turn's messages were handled and before the loop waits: a batching channel
  // writes all the turn's answers at once.
  if (flush_scheduled_ || !loop_) return;
  flush_scheduled_ = true;
  loop_->defer([this] {
    flush_scheduled_ = false;
    for (std::size_t r = 0; r < links_.size(); ++r) {
      Channel& channel = *links_[r];
      while (channel.has_pending()) {
        auto st = channel.flush();
        if (st) continue;
        if (!would_block(st.error())) {
          lost_master("channel to reactor " + std::to_string(r) + ": " + st.error().message);
          return;
        }
        (void)wait_for_room(channel);
      }
    }
  });
}

void ChannelWorker::begin_stop() {
  if (stopping_ || !loop_) return;
  const auto grace = std::max<std::int64_t>(1, static_cast<std::int64_t>(core_.settings.max_wait_time * 1000));
  if (services_ && services_->outstanding_tasks() > 0 && !tasks_awaited_) {
    // SRV-11: results of tasks this worker sent still reach Finish (which may answer a client)
    // before the stop handshake; max_wait_time bounds the wait.
    tasks_awaited_ = true;
    services_->set_on_tasks_done([this] { loop_->defer([this] { begin_stop(); }); });
    (void)Timer::after(grace, [this] {
      if (!stopping_) log_warn("worker " + std::to_string(id_) + ": task results still outstanding after max_wait_time");
      begin_stop();
    });
    return;
  }
  stopping_ = true;
  acks_pending_ = 0;
  for (std::size_t r = 0; r < links_.size(); ++r) {
    const int reactor = static_cast<int>(r);
    if (send_to(reactor, command_header(Command::stopping, reactor, id_), {})) ++acks_pending_;
  }
  if (acks_pending_ == 0) {
    loop_->stop();
    return;
  }
  // A master that never answers (it is itself going down) must not keep the worker alive.
  (void)Timer::after(grace, [this] {
    log_warn("worker " + std::to_string(id_) + ": no stop_ack from the reactors within max_wait_time; stopping");
    loop_->stop();
  });
}

void ChannelWorker::lost_master(const std::string& why) {
  if (!stopping_) log_error("worker " + std::to_string(id_) + ": " + why + "; stopping");
  stopping_ = true;
  if (loop_) loop_->stop();
}

}  // namespace procspec::detail

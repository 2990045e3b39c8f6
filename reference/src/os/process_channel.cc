// Process pipes built on procspec::Channel (issue #9): uds_batch and shm_ring. The rules a user
// sees (batching, end-of-file, what is refused) are in process.h next to PipeType; this file maps
// Process's blocking / non-blocking / timeout modes onto a Channel, which itself only blocks
// forever or returns EAGAIN: a timed call runs the channel non-blocking and waits in poll().
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "os/pipe_registry.h"
#include "procspec/event_loop.h"
#include "procspec/log.h"
#include "procspec/process.h"

namespace procspec {
namespace {

// As for Process's socketpairs (process.cc): the kernel doubles and caps it.
constexpr int kSocketBuffer = 2 << 20;

using Clock = std::chrono::steady_clock;

// uds_batch's socket (for shutdown and the registry that keeps siblings from holding it).
// shm_ring has no socket: its targets are eventfds that only mean something to the channel.
int socket_of(PipeType type, Channel* c) {
  return type == PipeType::uds_batch && c ? c->readable_target().fd : -1;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, left));
}

// The channel's "the other side is gone" is a pipe's EPIPE to a writer.
Unexpected<Error> as_pipe_error(Error e, const char* what) {
  if (e.code == make_error_code(errc::peer_closed)) {
    return sys_fail(EPIPE, std::string(what) + ": the other side of the pipe is gone (" + e.message + ")");
  }
  return forward_error(std::move(e));
}

}  // namespace

Result<PipeType> parse_pipe_type(std::string_view name) {
  if (name == "0" || name == "none") return PipeType::none;
  if (name == "1" || name == "uds_stream" || name == "uds-stream") return PipeType::uds_stream;
  if (name == "2" || name == "uds_dgram" || name == "uds-dgram") return PipeType::uds_dgram;
  if (name == "3" || name == "uds_batch" || name == "uds-batch") return PipeType::uds_batch;
  if (name == "4" || name == "shm_ring" || name == "shm-ring") return PipeType::shm_ring;
  return fail(errc::invalid_argument, "pipe_type '" + std::string(name) +
                                          "' is not one of none, uds_stream, uds_dgram, uds_batch, shm_ring (0..4)");
}

std::string_view pipe_type_name(PipeType type) noexcept {
  switch (type) {
    case PipeType::none: return "none";
    case PipeType::uds_stream: return "uds_stream";
    case PipeType::uds_dgram: return "uds_dgram";
    case PipeType::uds_batch: return "uds_batch";
    case PipeType::shm_ring: return "shm_ring";
  }
  return "unknown";
}

Status Process::make_channel_pipe() {
  ChannelOptions co;
  co.max_length = kMaxMessage;
  co.ring_size = options_.ring_size;
  co.socket_buffer_size = kSocketBuffer;
  const ChannelType type =
      options_.pipe_type == PipeType::uds_batch ? ChannelType::uds_batch : ChannelType::shm_ring;
  auto pair = make_channel(type, co);
  if (!pair) return forward_error(std::move(pair).error());
  drop_channels();
  master_chan_ = std::shared_ptr<Channel>(std::move(pair->reactor));
  worker_chan_ = std::shared_ptr<Channel>(std::move(pair->worker));
  for (Channel* c : {master_chan_.get(), worker_chan_.get()}) {
    if (int fd = socket_of(options_.pipe_type, c); fd >= 0) detail::pending_pipe_add(fd);
  }
  max_message_ = kMaxMessage;
  read_shut_ = write_shut_ = false;
  return {};
}

// Right after fork, on each side: the end we keep watches the other process (the ring cannot see
// a process die; uds_batch sees EOF by itself and ignores the watch), and a timed wait polls the
// same pidfd. The child's end is fresh: it starts blocking, without a timeout.
Status Process::start_channel_pipe(pid_t peer) noexcept {
  Channel* c = current_channel();
  if (!c) return {};
  flush_deferred_.reset();
  if (in_child_) {
    blocking_ = true;
    timeout_ms_ = 0;
  }
  read_shut_ = write_shut_ = false;
  peer_pidfd_.reset();
  if (options_.pipe_type != PipeType::shm_ring) return {};
  if (Status s = c->watch_peer(peer); !s) return s;
  const long fd = ::syscall(SYS_pidfd_open, peer, 0);
  if (fd >= 0) {
    peer_pidfd_.reset(static_cast<int>(fd));
  } else if (errno == ESRCH) {
    peer_pidfd_.reset(::eventfd(1, EFD_CLOEXEC));  // already gone and reaped: always "exited"
  }
  return {};
}

void Process::drop_channels() noexcept {
  if (!in_child_) {
    for (Channel* c : {master_chan_.get(), worker_chan_.get()}) {
      if (int fd = socket_of(options_.pipe_type, c); fd >= 0) detail::pending_pipe_remove(fd);
    }
  }
  master_chan_.reset();
  worker_chan_.reset();
  peer_pidfd_.reset();
}

// Waits (at most timeout_ms, -1: forever) until the channel can make progress in one direction.
// ETIMEDOUT when nothing happened; EPIPE for a writer whose peer process exited (a ring never
// frees room for a dead reader). A reader whose peer exited just retries: receive() drains what
// the peer wrote, then reports the end.
Status Process::channel_wait(bool readable, int timeout_ms) {
  Channel& c = *current_channel();
  const PollTarget t = readable ? c.readable_target() : c.writable_target();
  pollfd p[2] = {{t.fd, static_cast<short>(t.events), 0}, {peer_pidfd_.get(), POLLIN, 0}};
  const nfds_t n = peer_pidfd_.valid() ? 2 : 1;
  for (;;) {
    const int r = ::poll(p, n, timeout_ms);
    if (r == 0) {
      return sys_fail(ETIMEDOUT, std::string(readable ? "read" : "write") + ": nothing within " +
                                     std::to_string(timeout_ms) + " ms");
    }
    if (r > 0) break;
    if (errno != EINTR) return sys_fail(errno, "poll");
  }
  if (!readable && n == 2 && p[1].revents != 0 && p[0].revents == 0) {
    return sys_fail(EPIPE, "write: the process on the other side of the " +
                               std::string(pipe_type_name(options_.pipe_type)) + " pipe exited");
  }
  return {};
}

Result<std::size_t> Process::channel_write(std::string_view data) {
  if (write_shut_) return sys_fail(EPIPE, "write: the pipe was closed for writing (close)");
  if (data.size() > max_message_) {
    return fail(errc::payload_too_large, "write: message of " + std::to_string(data.size()) +
                                             " bytes exceeds the " + std::string(pipe_type_name(options_.pipe_type)) +
                                             " pipe's limit of " + std::to_string(max_message_) + " bytes");
  }
  Channel& c = *current_channel();
  const MessageHeader header;
  if (blocking_ && timeout_ms_ == 0) {
    c.set_nonblocking(false);
    if (Status s = c.send(header, data); !s) return as_pipe_error(std::move(s).error(), "write");
    return data.size();
  }
  c.set_nonblocking(true);
  if (!blocking_) {
    if (Status s = c.send(header, data); !s) return as_pipe_error(std::move(s).error(), "write");
    if (c.has_pending()) schedule_flush();
    return data.size();
  }
  // Blocking with a timeout: accepted within the timeout, then written at once (no batching).
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  for (;;) {
    Status s = c.send(header, data);
    if (s) break;
    if (!would_block(s.error())) return as_pipe_error(std::move(s).error(), "write");
    if (Status w = channel_wait(false, remaining_ms(deadline)); !w) {
      if (w.error().code == std::errc::timed_out) return sys_fail(ETIMEDOUT, "write: no room within " + std::to_string(timeout_ms_) + " ms");
      return forward_error(std::move(w).error());
    }
  }
  // The message is accepted; what the socket or ring does not take within the timeout stays
  // buffered and goes out with the next call (flush, write, read, close or destruction).
  while (c.has_pending()) {
    Status s = c.flush();
    if (s) break;
    if (!would_block(s.error())) return as_pipe_error(std::move(s).error(), "write");
    if (Status w = channel_wait(false, remaining_ms(deadline)); !w) break;
  }
  return data.size();
}

Result<std::size_t> Process::channel_read(std::string& out) {
  out.clear();
  if (read_shut_) return std::size_t{0};
  Channel& c = *current_channel();
  if (c.has_pending()) {  // a reader may be waiting for the answer to what we buffered
    c.set_nonblocking(true);
    (void)c.flush();
  }
  const bool timed = blocking_ && timeout_ms_ > 0;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  c.set_nonblocking(!blocking_ || timed);
  for (;;) {
    Result<Message> m = c.receive();
    if (m) {
      if (m->header.kind == MessageKind::close) {  // the peer's close(write): end-of-file
        read_shut_ = true;
        return std::size_t{0};
      }
      out.swap(m->payload);
      return out.size();
    }
    if (m.error().code == make_error_code(errc::peer_closed)) {
      read_shut_ = true;
      return std::size_t{0};
    }
    if (!timed || !would_block(m.error())) return forward_error(std::move(m).error());
    if (Status w = channel_wait(true, remaining_ms(deadline)); !w) return forward_error(std::move(w).error());
  }
}

Status Process::flush() {
  if (!channel_pipe()) return has_pipe() ? Status{} : fail(errc::no_pipe, "flush: no pipe");
  Channel* c = current_channel();
  if (!c) return fail(errc::no_pipe, "flush: no pipe (closed)");
  if (!c->has_pending()) return {};
  if (!blocking_ || timeout_ms_ == 0) {
    c->set_nonblocking(!blocking_);
    Status s = c->flush();
    if (!s) return as_pipe_error(std::move(s).error(), "flush");
    return {};
  }
  c->set_nonblocking(true);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  for (;;) {
    Status s = c->flush();
    if (s) return {};
    if (!would_block(s.error())) return as_pipe_error(std::move(s).error(), "flush");
    if (Status w = channel_wait(false, remaining_ms(deadline)); !w) return w;
  }
}

bool Process::has_pending() const {
  Channel* c = channel_pipe() ? current_channel() : nullptr;
  return c && c->has_pending();
}

// Before a live pipe goes away (destruction, close, the child's exit or exec): what is buffered
// is written, waiting at most kDestroyGrace for room; a dead peer ends the wait at once.
void Process::flush_bounded() noexcept {
  Channel* c = channel_pipe() ? current_channel() : nullptr;
  if (!c || !c->has_pending()) return;
  c->set_nonblocking(true);
  const auto deadline = Clock::now() + kDestroyGrace;
  std::string why;
  while (c->has_pending()) {
    Status s = c->flush();
    if (s) break;
    if (!would_block(s.error())) {
      why = s.error().message;
      break;
    }
    if (Status w = channel_wait(false, remaining_ms(deadline)); !w) {
      why = w.error().message;
      break;
    }
  }
  if (!why.empty()) {  // a failed flush drops what it could not write (or keeps it, unreachable)
    log_warn("Process " + std::to_string(id_) + ": buffered messages could not be written before the " +
             std::string(pipe_type_name(options_.pipe_type)) + " pipe closed: " + why);
  }
}

// End of the EventLoop turn (process.h): the loop runs deferred callbacks before it waits again.
// The callback holds the channel weakly (the Process may be gone by then) and clears the
// "queued" flag whether it runs or is dropped with its loop.
void Process::schedule_flush() {
  if (flush_deferred_ && *flush_deferred_) return;
  EventLoop* loop = EventLoop::current();
  if (!loop) return;
  if (!flush_deferred_) flush_deferred_ = std::make_shared<bool>(false);
  *flush_deferred_ = true;
  struct Unqueue {
    std::shared_ptr<bool> flag;
    ~Unqueue() { *flag = false; }
  };
  auto unqueue = std::make_shared<Unqueue>(Unqueue{flush_deferred_});
  std::weak_ptr<Channel> weak = in_child_ ? worker_chan_ : master_chan_;
  loop->defer([weak, unqueue] {
    *unqueue->flag = false;
    if (auto c = weak.lock(); c && c->has_pending()) {
      c->set_nonblocking(true);
      (void)c->flush();  // a full socket keeps the rest: see process.h
    }
  });
}

Status Process::channel_close(PipeSide which) {
  Channel* c = current_channel();
  const int sock = socket_of(options_.pipe_type, c);
  if (which == PipeSide::read) {
    read_shut_ = true;
    if (sock >= 0 && ::shutdown(sock, SHUT_RD) == -1 && errno != ENOTCONN) return sys_fail(errno, "shutdown");
    return {};
  }
  flush_bounded();
  if (!write_shut_) {
    write_shut_ = true;
    if (sock >= 0) {
      if (::shutdown(sock, which == PipeSide::both ? SHUT_RDWR : SHUT_WR) == -1 && errno != ENOTCONN) {
        return sys_fail(errno, "shutdown");
      }
    } else {
      // The ring has no shutdown: an empty `close` message is the end-of-file mark (write()
      // never sends an empty message). Best effort without waiting: if the ring is full, the
      // reader still sees the end when this process exits or drops its last endpoint.
      MessageHeader eof;
      eof.kind = MessageKind::close;
      c->set_nonblocking(true);
      (void)c->send(eof, {});
    }
  }
  if (which == PipeSide::both) {
    if (in_child_) {
      worker_chan_.reset();
    } else {
      if (sock >= 0) detail::pending_pipe_remove(sock);
      master_chan_.reset();
    }
    peer_pidfd_.reset();
  }
  return {};
}

}  // namespace procspec

// Process pipe I/O (write, read, blocking, timeouts, close) and the thin queue delegation.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "procspec/process.h"

namespace procspec {
namespace {

// Where read() receives before copying out exactly what came, and where read_into() lets the
// tail of a dgram longer than the caller's string land: one per thread, sized for the largest
// message the pipe can carry (PRC-7: a message is read whole, never cut). Allocated
// uninitialised, so pages beyond the bytes the kernel writes are never touched, and nothing is
// zero-filled per call.
struct Scratch {
  std::unique_ptr<char[]> data;
  std::size_t capacity = 0;
  char* get(std::size_t n) {
    if (capacity < n) {
      data.reset(new char[n]);
      capacity = n;
    }
    return data.get();
  }
};
thread_local Scratch t_scratch;

Unexpected<Error> timed_out(const char* what, int ms) {
  return sys_fail(ETIMEDOUT, std::string(what) + ": nothing within " + std::to_string(ms) + " ms");
}

}  // namespace

int Process::pipe_fd() const {
  if (!channel_pipe()) return current_fd();
  Channel* c = current_channel();
  return c ? c->readable_target().fd : -1;
}

PollTarget Process::writable_target() const {
  if (!channel_pipe()) return {current_fd(), current_fd() >= 0 ? static_cast<std::uint32_t>(POLLOUT) : 0u};
  Channel* c = current_channel();
  return c ? c->writable_target() : PollTarget{};
}

Status Process::set_blocking(bool blocking) {
  if (channel_pipe()) {
    if (!current_channel()) return fail(errc::no_pipe, "set_blocking: no pipe");
    blocking_ = blocking;
    return blocking ? flush() : Status{};  // process.h: leaving non-blocking mode writes the batch
  }
  const int fd = current_fd();
  if (fd < 0) return fail(errc::no_pipe, "set_blocking: no pipe");
  int flags = ::fcntl(fd, F_GETFL);
  if (flags == -1) return sys_fail(errno, "fcntl(F_GETFL)");
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) == -1) return sys_fail(errno, "fcntl(F_SETFL)");
  blocking_ = blocking;
  return {};
}

Status Process::set_timeout(std::chrono::milliseconds timeout) {
  if (!has_pipe()) return fail(errc::no_pipe, "set_timeout: no pipe");
  if (timeout.count() < 0 || timeout.count() > 0x7fffffff) {
    return fail(errc::invalid_argument, "set_timeout: " + std::to_string(timeout.count()) + " ms is out of range");
  }
  timeout_ms_ = static_cast<int>(timeout.count());
  return {};
}

// With a timeout the fd is used non-blockingly and poll() supplies the wait; without one a
// blocking fd waits inside the syscall itself, which is what the raw loop does (no extra call).
Status Process::wait_readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  for (;;) {
    int r = ::poll(&pfd, 1, timeout_ms_);
    if (r > 0) return {};
    if (r == 0) return timed_out("read", timeout_ms_);
    if (errno != EINTR) return sys_fail(errno, "poll");
  }
}

Result<std::size_t> Process::write(std::string_view data) {
  if (data.empty()) return fail(errc::payload_empty, "write: the data to send is empty");
  if (!has_pipe()) return fail(errc::no_pipe, "write: no pipe (pipe_type none or closed)");
  if (channel_pipe()) return channel_write(data);
  const int fd = current_fd();
  if (options_.pipe_type == PipeType::uds_stream) return write_stream(fd, data);
  // PRC-7: one message must fit the socket; say so with the limit instead of a bare EMSGSIZE.
  auto too_large = [&] {
    return fail(errc::payload_too_large, "write: message of " + std::to_string(data.size()) +
                                             " bytes exceeds the pipe's limit of " + std::to_string(max_message_) +
                                             " bytes (SO_SNDBUF - 32)");
  };
  if (data.size() > max_message_) return too_large();
  const int flags = MSG_NOSIGNAL | (timeout_ms_ > 0 ? MSG_DONTWAIT : 0);
  for (;;) {
    ssize_t n = ::send(fd, data.data(), data.size(), flags);
    if (n >= 0) return static_cast<std::size_t>(n);
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EMSGSIZE || err == ENOBUFS) return too_large();
    if (err == EAGAIN && timeout_ms_ > 0 && blocking_) {
      pollfd pfd{fd, POLLOUT, 0};
      int r = ::poll(&pfd, 1, timeout_ms_);
      if (r == 0) return timed_out("write", timeout_ms_);
      continue;
    }
    return sys_fail(err, "write to the process pipe");
  }
}

Result<std::size_t> Process::write_stream(int fd, std::string_view data) {
  const int flags = MSG_NOSIGNAL | (timeout_ms_ > 0 ? MSG_DONTWAIT : 0);
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, flags);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && timeout_ms_ > 0 && blocking_) {
      pollfd pfd{fd, POLLOUT, 0};
      int r = ::poll(&pfd, 1, timeout_ms_);
      if (r == 0) return timed_out("write", timeout_ms_);
      continue;
    }
    // Non-blocking: report what went out; nothing at all is the EAGAIN itself.
    if (err == EAGAIN && done > 0) return done;
    return sys_fail(err, "write to the process pipe");
  }
  return done;
}

Status Process::check_read(std::ptrdiff_t size, const char* what) const {
  if (size <= 0) {
    return fail(errc::invalid_argument, std::string(what) + ": size " + std::to_string(size) + " must be greater than 0");
  }
  if (!has_pipe()) return fail(errc::no_pipe, std::string(what) + ": no pipe (pipe_type none or closed)");
  return {};
}

// End-of-file in the parent: if the child died because exec failed, that is the answer (PRC-8).
Status Process::after_read(std::size_t n) {
  if (n == 0 && !in_child_) return exec_report();
  return {};
}

Result<std::string> Process::read(std::ptrdiff_t size) {
  if (Status s = check_read(size, "read"); !s) return forward_error(std::move(s).error());
  if (channel_pipe()) {
    std::string out;
    auto n = channel_read(out);
    if (!n) return forward_error(std::move(n).error());
    if (Status s = after_read(*n); !s) return forward_error(std::move(s).error());
    return out;
  }
  const auto want = static_cast<std::size_t>(size);
  // A dgram read offers room for the largest possible message whatever `size` says, so one
  // plain recv always takes a message whole.
  const std::size_t cap = options_.pipe_type == PipeType::uds_dgram ? std::max(want, max_message_) : want;
  char* buf = t_scratch.get(cap);
  auto n = receive(current_fd(), buf, cap);
  if (!n) return forward_error(std::move(n).error());
  if (Status s = after_read(*n); !s) return forward_error(std::move(s).error());
  return std::string(buf, *n);
}

Result<std::size_t> Process::read_into(std::string& out, std::ptrdiff_t size) {
  auto failed = [&out](Error e) {
    out.clear();
    return forward_error(std::move(e));
  };
  if (Status s = check_read(size, "read_into"); !s) return failed(std::move(s).error());
  if (channel_pipe()) {  // one whole message, whatever `size` says (PRC-7)
    auto n = channel_read(out);
    if (!n) return failed(std::move(n).error());
    if (Status s = after_read(*n); !s) return failed(std::move(s).error());
    return *n;
  }
  const auto len = static_cast<std::size_t>(size);
  out.resize(len);  // keeps the capacity; zero-fills only what the previous read left unused
  auto n = receive(current_fd(), out.data(), len);
  if (!n) return failed(std::move(n).error());
  if (*n > len) {
    out.append(t_scratch.data.get(), *n - len);  // the dgram's tail, received by the same call
  } else {
    out.resize(*n);
  }
  if (Status s = after_read(*n); !s) return failed(std::move(s).error());
  return *n;
}

// One recv into [head, head + len). A dgram must be taken whole (PRC-7), so when `len` is less
// than the largest message the pipe carries, a second iovec offers the rest from t_scratch (the
// same single syscall); MSG_TRUNC makes the kernel return the true length, so a message longer
// than both is still reported, never silently cut.
Result<std::size_t> Process::receive(int fd, char* head, std::size_t len) {
  const bool dgram = options_.pipe_type == PipeType::uds_dgram;
  const std::size_t tail_len = dgram && len < max_message_ ? max_message_ - len : 0;
  iovec iov[2] = {{head, len}, {tail_len > 0 ? t_scratch.get(tail_len) : nullptr, tail_len}};
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  const std::size_t cap = len + tail_len;
  const int flags = (timeout_ms_ > 0 ? MSG_DONTWAIT : 0) | (dgram ? MSG_TRUNC : 0);
  for (;;) {
    ssize_t n = tail_len > 0 ? ::recvmsg(fd, &mh, flags) : ::recv(fd, head, len, flags);
    if (n >= 0) {
      const auto got = static_cast<std::size_t>(n);
      if (got > cap) {
        return fail(errc::message_truncated, "read: message of " + std::to_string(got) +
                                                 " bytes is longer than the pipe's limit " + std::to_string(cap) +
                                                 "; the rest was lost");
      }
      return got;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && timeout_ms_ > 0 && blocking_) {
      if (Status s = wait_readable(fd); !s) return forward_error(std::move(s).error());
      continue;
    }
    return sys_fail(err, "read from the process pipe");
  }
}

Status Process::close(PipeSide which) {
  if (channel_pipe()) {
    if (!current_channel()) return fail(errc::no_pipe, "close: no pipe");
    return channel_close(which);
  }
  const int fd = current_fd();
  if (fd < 0) return fail(errc::no_pipe, "close: no pipe");
  const int how = which == PipeSide::read ? SHUT_RD : which == PipeSide::write ? SHUT_WR : SHUT_RDWR;
  if (::shutdown(fd, how) == -1 && errno != ENOTCONN) return sys_fail(errno, "shutdown");
  if (which == PipeSide::both) {
    if (in_child_) {
      worker_end_.reset();
    } else {
      forget_pipe_ends();
      master_end_.reset();
    }
  }
  return {};
}

Status Process::use_queue(key_t key, int mode, std::size_t capacity) {
  QueueOptions o;
  o.key = key;
  o.mode = mode;
  o.capacity = capacity;
  o.tag = static_cast<long>(id_) + 1;  // Swoole's message type: the sender's id + 1
  o.persist = true;
  auto q = MsgQueue::open(o);
  if (!q) return forward_error(std::move(q).error());
  queue_.emplace(std::move(q).value());
  return {};
}

Result<std::size_t> Process::push(std::string_view data) {
  if (!queue_) return fail(errc::not_started, "push: no queue (call use_queue first)");
  return queue_->push(data);
}

Result<std::string> Process::pop(std::ptrdiff_t maxsize) {
  if (!queue_) return fail(errc::not_started, "pop: no queue (call use_queue first)");
  return queue_->pop(maxsize);
}

Result<std::size_t> Process::pop_into(std::string& out, std::ptrdiff_t maxsize) {
  if (!queue_) {
    out.clear();
    return fail(errc::not_started, "pop_into: no queue (call use_queue first)");
  }
  return queue_->pop_into(out, maxsize);
}

Result<QueueStat> Process::stat_queue() const {
  if (!queue_) return fail(errc::not_started, "stat_queue: no queue (call use_queue first)");
  return queue_->stat();
}

Status Process::free_queue() {
  if (!queue_) return fail(errc::not_started, "free_queue: no queue (call use_queue first)");
  Status s = queue_->free();
  if (s) queue_.reset();
  return s;
}

}  // namespace procspec

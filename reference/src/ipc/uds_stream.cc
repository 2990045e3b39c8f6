// UDS SOCK_STREAM channel (IPC-1): StreamChannel, one sendmsg per message.
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ipc/channels.h"
#include "ipc/stream_channel.h"

namespace procspec::detail {

StreamChannel::StreamChannel(ChannelType type, UniqueFd fd, const ChannelOptions& options, std::size_t read_size)
    : Channel(type, options.max_length), fd_(std::move(fd)), read_size_(read_size) {}

Result<std::size_t> StreamChannel::write_frame(const WireHeader& wire, std::string_view payload, bool wait) {
  const std::size_t total = sizeof wire + payload.size();
  std::size_t written = 0;
  while (written < total) {
    iovec iov[2];
    int n = 0;
    if (written < sizeof wire) {
      iov[n++] = {const_cast<char*>(reinterpret_cast<const char*>(&wire)) + written, sizeof wire - written};
      if (!payload.empty()) iov[n++] = {const_cast<char*>(payload.data()), payload.size()};
    } else {
      const std::size_t off = written - sizeof wire;
      iov[n++] = {const_cast<char*>(payload.data()) + off, payload.size() - off};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(n);
    const ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
    if (w >= 0) {
      written += static_cast<std::size_t>(w);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return written;
    return forward_error(map_write_error(errno).error());
  }
  return written;
}

Status StreamChannel::send(const MessageHeader& header, std::string_view payload) {
  if (auto ok = check_length(name(), payload.size(), max_length()); !ok) return ok;
  if (has_pending()) {
    return sys_fail(EAGAIN, std::string(name()) + ": the previous message is still being written; flush() first");
  }
  const WireHeader wire = make_wire_header(header, payload.size(), 0);
  auto written = write_frame(wire, payload, !nonblocking_);
  if (!written) return forward_error(std::move(written).error());
  const std::size_t total = sizeof wire + payload.size();
  if (*written == total) return {};
  if (*written == 0) return sys_fail(EAGAIN, std::string(name()) + ": socket buffer full");
  // Part of the frame is in the socket: the rest must follow before any other message.
  pending_.assign(reinterpret_cast<const char*>(&wire), sizeof wire);
  pending_.append(payload);
  pending_off_ = *written;
  return {};
}

Status StreamChannel::flush() {
  while (has_pending()) {
    const ssize_t w = ::send(fd_.get(), pending_.data() + pending_off_, pending_.size() - pending_off_,
                             MSG_NOSIGNAL | (nonblocking_ ? MSG_DONTWAIT : 0));
    if (w >= 0) {
      pending_off_ += static_cast<std::size_t>(w);
      continue;
    }
    if (errno == EINTR) continue;
    const int err = errno;
    if (err == EAGAIN) return sys_fail(EAGAIN, std::string(name()) + ": socket buffer full");
    pending_.clear();
    pending_off_ = 0;
    return map_write_error(err);
  }
  pending_.clear();
  pending_off_ = 0;
  return {};
}

Result<Message> StreamChannel::receive() {
  for (;;) {
    const std::size_t available = end_ - begin_;
    std::size_t need = sizeof(WireHeader);
    if (available >= sizeof(WireHeader)) {
      const WireHeader wire = read_wire_header(buf_.data() + begin_);
      if (wire.chunk != 0) return fail(errc::frame_invalid, std::string(name()) + ": malformed frame header");
      if (auto ok = check_length(name(), wire.length, max_length()); !ok) {
        return forward_error(std::move(ok).error());
      }
      need += wire.length;
      if (available >= need) {
        Message m{to_message_header(wire), std::string(buf_.data() + begin_ + sizeof wire, wire.length)};
        begin_ += need;
        if (begin_ == end_) begin_ = end_ = 0;
        return m;
      }
    }
    make_room(need);
    const ssize_t n = ::recv(fd_.get(), buf_.data() + end_, buf_.size() - end_, nonblocking_ ? MSG_DONTWAIT : 0);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      if (end_ > begin_) {
        return fail(errc::peer_closed, std::string(name()) + ": the peer closed in the middle of a message (" +
                                           std::to_string(end_ - begin_) + " bytes of it received)");
      }
      return fail(errc::peer_closed, std::string(name()) + ": the peer closed the channel");
    }
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return fail(errc::peer_closed, std::string(name()) + ": connection reset by the peer");
    return sys_fail(errno, std::string(name()) + ": recv");
  }
}

PollTarget StreamChannel::readable_target() { return {fd_.get(), POLLIN}; }
PollTarget StreamChannel::writable_target() { return {fd_.get(), POLLOUT}; }

// After the peer died mid-frame the stream cannot be resynchronised: drop what is buffered on
// both sides and every byte already waiting in the socket. Only valid while the other side
// writes nothing (the server guarantees it: a replacement worker resets before it says
// `ready`, and the reactor sends nothing to a worker that is not ready).
Status StreamChannel::reset() {
  pending_.clear();
  pending_off_ = 0;
  begin_ = end_ = 0;
  char sink[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), sink, sizeof sink, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return {};
  }
}

Status StreamChannel::map_write_error(int err) const {
  if (err == EPIPE || err == ECONNRESET) {
    return fail(errc::peer_closed, std::string(name()) + ": the peer closed the channel");
  }
  return sys_fail(err, std::string(name()) + ": send");
}

// Ensures room to hold `need` bytes from begin_, plus a normal read's worth.
void StreamChannel::make_room(std::size_t need) {
  if (begin_ > 0 && buf_.size() - begin_ < need + read_size_) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const std::size_t want = begin_ + (need > read_size_ ? need : read_size_);
  if (buf_.size() < want) buf_.resize(want);
}

Result<ChannelPair> make_uds_stream_pair(const ChannelOptions& options) {
  constexpr std::size_t kReadSize = 64 * 1024;
  auto fds = make_unix_socketpair(SOCK_STREAM, options.socket_buffer_size);
  if (!fds) return forward_error(std::move(fds).error());
  ChannelPair pair;
  pair.reactor = std::make_unique<StreamChannel>(ChannelType::uds_stream, std::move(fds->first), options, kReadSize);
  pair.worker = std::make_unique<StreamChannel>(ChannelType::uds_stream, std::move(fds->second), options, kReadSize);
  return pair;
}

}  // namespace procspec::detail

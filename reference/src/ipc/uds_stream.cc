// UDS SOCK_STREAM channel with length framing (IPC-1): every message is the 24-byte WireHeader
// (chunk = 0, length = payload bytes) followed by the payload. Robust to partial writes (the
// unwritten tail is held for flush()) and partial reads (bytes accumulate until a whole frame
// is there). The peer's death is a plain EOF.
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ipc/channels.h"
#include "ipc/chunking.h"

namespace procspec::detail {
namespace {

constexpr std::size_t kReadSize = 64 * 1024;

class UdsStreamChannel final : public Channel {
 public:
  UdsStreamChannel(UniqueFd fd, const ChannelOptions& options)
      : Channel(ChannelType::uds_stream, options.max_length), fd_(std::move(fd)) {}

  Status send(const MessageHeader& header, std::string_view payload) override {
    if (auto ok = check_length("uds_stream", payload.size(), max_length()); !ok) return ok;
    if (!pending_.empty()) {
      return sys_fail(EAGAIN, "uds_stream: the previous message is still being written; flush() first");
    }
    const WireHeader wire = make_wire_header(header, payload.size(), 0);
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
      const ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | (nonblocking_ ? MSG_DONTWAIT : 0));
      if (w >= 0) {
        written += static_cast<std::size_t>(w);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN && written > 0) {
        // Part of the frame is in the socket: the rest must follow before any other message.
        pending_.assign(reinterpret_cast<const char*>(&wire), sizeof wire);
        pending_.append(payload);
        pending_.erase(0, written);
        return {};
      }
      return map_error(errno);
    }
    return {};
  }

  Status flush() override {
    while (!pending_.empty()) {
      const ssize_t w = ::send(fd_.get(), pending_.data(), pending_.size(),
                               MSG_NOSIGNAL | (nonblocking_ ? MSG_DONTWAIT : 0));
      if (w >= 0) {
        pending_.erase(0, static_cast<std::size_t>(w));
        continue;
      }
      if (errno == EINTR) continue;
      Status st = map_error(errno);
      if (errno != EAGAIN) pending_.clear();
      return st;
    }
    return {};
  }

  bool has_pending() const noexcept override { return !pending_.empty(); }

  Result<Message> receive() override {
    for (;;) {
      const std::size_t available = end_ - begin_;
      std::size_t need = sizeof(WireHeader);
      if (available >= sizeof(WireHeader)) {
        const WireHeader wire = read_wire_header(buf_.data() + begin_);
        if (wire.chunk != 0) return fail(errc::frame_invalid, "uds_stream: malformed frame header");
        if (auto ok = check_length("uds_stream", wire.length, max_length()); !ok) {
          return forward_error(std::move(ok).error());
        }
        need += wire.length;
        if (available >= need) {
          Message m{to_message_header(wire),
                    std::string(buf_.data() + begin_ + sizeof wire, wire.length)};
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
          return fail(errc::peer_closed, "uds_stream: the peer closed in the middle of a message (" +
                                             std::to_string(end_ - begin_) + " bytes of it received)");
        }
        return fail(errc::peer_closed, "uds_stream: the peer closed the channel");
      }
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return fail(errc::peer_closed, "uds_stream: connection reset by the peer");
      return sys_fail(errno, "uds_stream: recv");
    }
  }

  PollTarget readable_target() override { return {fd_.get(), POLLIN}; }
  PollTarget writable_target() override { return {fd_.get(), POLLOUT}; }
  Status watch_peer(pid_t) override { return {}; }  // EOF tells us
  // After the peer died mid-frame the stream cannot be resynchronised: drop what is buffered on
  // both sides and every byte already waiting in the socket. Only valid while the other side
  // writes nothing (the server guarantees it: a replacement worker resets before it says
  // `ready`, and the reactor sends nothing to a worker that is not ready).
  Status reset() override {
    pending_.clear();
    begin_ = end_ = 0;
    char sink[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), sink, sizeof sink, MSG_DONTWAIT);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      return {};
    }
  }

 private:
  static Status map_error(int err) {
    if (err == EPIPE || err == ECONNRESET) return fail(errc::peer_closed, "uds_stream: the peer closed the channel");
    return sys_fail(err, "uds_stream: send");
  }

  // Ensures room to hold `need` bytes from begin_, plus a normal read's worth.
  void make_room(std::size_t need) {
    if (begin_ > 0 && buf_.size() - begin_ < need + kReadSize) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    const std::size_t want = begin_ + (need > kReadSize ? need : kReadSize);
    if (buf_.size() < want) buf_.resize(want);
  }

  UniqueFd fd_;
  std::string pending_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace

Result<ChannelPair> make_uds_stream_pair(const ChannelOptions& options) {
  auto fds = make_unix_socketpair(SOCK_STREAM, options.socket_buffer_size);
  if (!fds) return forward_error(std::move(fds).error());
  ChannelPair pair;
  pair.reactor = std::make_unique<UdsStreamChannel>(std::move(fds->first), options);
  pair.worker = std::make_unique<UdsStreamChannel>(std::move(fds->second), options);
  return pair;
}

}  // namespace procspec::detail

// UDS SOCK_DGRAM channel (IPC-1, Swoole's default): one datagram per chunk, MSG_DONTWAIT for
// non-blocking calls so the flag never leaks to another holder of the socket.
// IPC-2: a Unix datagram socket never drops; a full receiver blocks the sender or gives EAGAIN.
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <memory>
#include <string>

#include "ipc/channels.h"
#include "ipc/datagram_channel.h"

namespace procspec::detail {
namespace {

class UdsDgramChannel final : public DatagramChannel {
 public:
  UdsDgramChannel(UniqueFd fd, const ChannelOptions& options)
      : DatagramChannel(ChannelType::uds_dgram, options, "uds_dgram", options.chunk_size),
        fd_(std::move(fd)),
        buffer_(options.chunk_size > kFallbackChunkSize ? options.chunk_size : kFallbackChunkSize, '\0') {}

  PollTarget readable_target() override { return {fd_.get(), POLLIN}; }
  PollTarget writable_target() override { return {fd_.get(), POLLOUT}; }

 private:

  int write_datagram(const WireHeader& header, std::string_view slice, bool wait) override {
    iovec iov[2] = {{const_cast<WireHeader*>(&header), sizeof header},
                    {const_cast<char*>(slice.data()), slice.size()}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = slice.empty() ? 1 : 2;
    const int flags = MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT);
    for (;;) {
      if (::sendmsg(fd_.get(), &msg, flags) >= 0) return 0;
      if (errno != EINTR) return errno;
    }
  }

  Result<std::string_view> read_datagram(bool wait) override {
    const int flags = MSG_TRUNC | (wait ? 0 : MSG_DONTWAIT);
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buffer_.data(), buffer_.size(), flags);
      if (n >= 0) {
        const auto size = static_cast<std::size_t>(n);
        if (size > buffer_.size()) {
          return fail(errc::frame_invalid, name() + ": datagram of " + std::to_string(size) +
                                               " bytes exceeds chunk_size " + std::to_string(buffer_.size()));
        }
        return std::string_view(buffer_.data(), size);
      }
      if (errno != EINTR) return sys_fail(errno, name() + ": recv");
    }
  }

  bool drained_after_peer_exit() override { return true; }

  UniqueFd fd_;
  std::string buffer_;
};

}  // namespace

Result<ChannelPair> make_uds_dgram_pair(const ChannelOptions& options) {
  auto fds = make_unix_socketpair(SOCK_DGRAM, options.socket_buffer_size);
  if (!fds) return forward_error(std::move(fds).error());
  ChannelPair pair;
  pair.reactor = std::make_unique<UdsDgramChannel>(std::move(fds->first), options);
  pair.worker = std::make_unique<UdsDgramChannel>(std::move(fds->second), options);
  return pair;
}

}  // namespace procspec::detail

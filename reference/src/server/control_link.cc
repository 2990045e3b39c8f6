#include "server/control_link.h"

#include <sys/socket.h>

#include <cerrno>

namespace procspec::detail {

Result<std::pair<UniqueFd, UniqueFd>> make_control_link() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    return sys_fail(errno, "socketpair (master-manager control link)");
  }
  return std::make_pair(UniqueFd(sv[0]), UniqueFd(sv[1]));
}

Status send_control(int fd, const ControlMessage& message) {
  for (;;) {
    // A handful of 20-byte messages never fill the socket; a full one means the peer is stuck.
    if (::send(fd, &message, sizeof message, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof message)) return {};
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET) return fail(errc::peer_closed, "control link: the other side is gone");
    return sys_fail(errno, "control link: send");
  }
}

Result<std::optional<ControlMessage>> receive_control(int fd) {
  for (;;) {
    ControlMessage message{};
    const ssize_t n = ::recv(fd, &message, sizeof message, 0);
    if (n == static_cast<ssize_t>(sizeof message)) return std::optional<ControlMessage>(message);
    if (n == 0) return fail(errc::peer_closed, "control link: the other side is gone");
    if (n > 0) return fail(errc::frame_invalid, "control link: a message of " + std::to_string(n) + " bytes");
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return std::optional<ControlMessage>();
    if (errno == ECONNRESET) return fail(errc::peer_closed, "control link: the other side is gone");
    return sys_fail(errno, "control link: recv");
  }
}

}  // namespace procspec::detail

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "server/server_core.h"

namespace procspec::detail {

Result<std::pair<UniqueFd, int>> open_listener(const std::string& host, int port, SockType type) {
  const bool v6 = type == SockType::tcp6;
  const std::string where = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (port < 0 || port > 65535) return fail(errc::invalid_argument, "port " + std::to_string(port) + " is outside 0..65535");
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1)
      return fail(errc::invalid_argument, "host '" + host + "' is not an IPv6 address");
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1)
      return fail(errc::invalid_argument, "host '" + host + "' is not an IPv4 address");
    len = sizeof(sockaddr_in);
  }
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sys_fail(errno, "socket for " + where);
  int one = 1;
  // SO_REUSEADDR only skips TIME_WAIT leftovers; a live listener on the port still fails bind.
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return sys_fail(errno, "bind " + where);
  if (::listen(fd.get(), 1024) != 0) return sys_fail(errno, "listen " + where);
  socklen_t got = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &got);
  int bound = v6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port) : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return std::pair<UniqueFd, int>(std::move(fd), bound);
}

}  // namespace procspec::detail

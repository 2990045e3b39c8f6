// The pool's IPC resources: the SysV queue (msgqueue), the listen socket (socket) and the
// per-child datagram socketpairs (unixsock workers and user processes).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "pool/pool_impl.h"

namespace procspec::detail {

Status open_msgqueue(Pool::Impl& impl) {
  const key_t key = impl.options.msgqueue_key == 0 ? IPC_PRIVATE : impl.options.msgqueue_key;
  // MQ-6: 0600, not Swoole's 0666.
  const int id = ::msgget(key, IPC_CREAT | 0600);
  if (id < 0) return sys_fail(errno, "msgget(key " + std::to_string(impl.options.msgqueue_key) + ")");
  impl.msqid = id;
  impl.owns_queue = key == IPC_PRIVATE;  // a keyed queue and its messages outlive the pool
  impl.creator_pid = ::getpid();
  return {};
}

void close_msgqueue(Pool::Impl& impl) noexcept {
  if (impl.msqid >= 0 && impl.owns_queue && impl.creator_pid == ::getpid()) ::msgctl(impl.msqid, IPC_RMID, nullptr);
  impl.msqid = -1;
}

Result<std::uint16_t> listen_tcp(Pool::Impl& impl, std::string_view host, std::uint16_t port, int backlog) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  const std::string h(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return fail(errc::invalid_argument, "listen: host '" + h + "' is not a numeric IPv4 or IPv6 address");
  }
  // Non-blocking: every worker waits in ppoll and races for accept; the losers get EAGAIN
  // instead of sleeping in accept() where SIGTERM could not reach them cleanly.
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return sys_fail(errno, "socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const std::string where = h + ":" + std::to_string(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return sys_fail(errno, "bind(" + where + ")");
  if (::listen(fd.get(), backlog) != 0) return sys_fail(errno, "listen(" + where + ")");
  socklen_t got = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &got) != 0) return sys_fail(errno, "getsockname");
  const std::uint16_t bound = ntohs(addr.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  impl.listen_fd = std::move(fd);
  return bound;
}

Status open_pipes(Pool::Impl& impl) {
  const int total = impl.options.worker_num + impl.user_count();
  impl.pipes.clear();
  impl.pipes.resize(static_cast<std::size_t>(total));
  for (int id = 0; id < total; ++id) {
    const bool is_worker = id < impl.options.worker_num;
    if (is_worker && impl.options.ipc != PoolIpc::unixsock) continue;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
      impl.pipes.clear();
      return sys_fail(errno, "socketpair(pool pipe #" + std::to_string(id) + ")");
    }
    impl.pipes[static_cast<std::size_t>(id)] = {UniqueFd(sv[0]), UniqueFd(sv[1])};
  }
  return {};
}

void keep_child_pipe_ends(Pool::Impl& impl, int id) noexcept {
  for (std::size_t i = 0; i < impl.pipes.size(); ++i) {
    if (static_cast<int>(i) == id) continue;
    impl.pipes[i].second.reset();  // another child's receiving end
  }
}

}  // namespace procspec::detail

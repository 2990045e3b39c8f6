// The child side of a pool worker: WorkerStart, then the receive loop of its IPC type, then
// WorkerStop. Returns the exit status; the manager's child wrapper calls _exit with it.
#include <arpa/inet.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "pool/pool_impl.h"
#include "pool/worker_stop.h"
#include "procspec/log.h"
#include "procspec/role.h"
#include "procspec/signals.h"

namespace procspec::detail {
namespace {

std::size_t read_msgmax() {
  std::ifstream in("/proc/sys/kernel/msgmax");
  std::size_t v = 0;
  if (in >> v && v > 0) return v;
  return 65536;
}

void msgqueue_loop(Pool& pool, Pool::Impl& impl) {
  // A buffer of msgmax bytes holds any message the kernel lets a sender queue.
  const std::size_t cap = read_msgmax();
  const std::size_t words = (sizeof(long) + cap) / sizeof(long) + 1;
  std::unique_ptr<long[]> buf(new long[words]);
  char* text = reinterpret_cast<char*>(buf.get() + 1);
  // SIGTERM stays unblocked here (see worker_stop.h): the handler only sets the flag and
  // SA_RESTART resumes the restartable calls a Message callback makes.
  unblock_stop_signal();
  Signals::dispatch();  // a SIGTERM held since fork reaches a worker's own handler now
  while (!stop_requested()) {
    ssize_t n = ::msgrcv(impl.msqid, buf.get(), cap, 0, 0);
    const int err = errno;
    if (n < 0) {
      if (err == EINTR) Signals::dispatch();  // a worker's own handlers (SIG-5)
      if (stop_requested() || err == EINTR) continue;
      if (err == E2BIG) {
        // msgmax was raised after we read it: drop the one oversized message, keep going (MQ-7).
        if (::msgrcv(impl.msqid, buf.get(), cap, 0, MSG_NOERROR | IPC_NOWAIT) >= 0)
          log_error("pool worker: dropped a message larger than " + std::to_string(cap) + " bytes (msgmax)");
        continue;
      }
      log_error(std::string("pool worker: msgrcv: ") + std::strerror(err) + "; worker stops");
      return;
    }
    impl.on_message(pool, std::string_view(text, static_cast<std::size_t>(n)));
  }
}

// Reads exactly n bytes unless the peer closes, an error occurs or a stop is requested.
bool read_full(int fd, char* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    if (!wait_readable_or_stop(fd)) return false;
    ssize_t r = ::recv(fd, out + got, n - got, MSG_DONTWAIT);
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// POOL-7: one request per connection — a 4-byte big-endian length, that many bytes; the
// write()s of Message form one length-prefixed answer; then the connection closes.
void serve_connection(Pool& pool, Pool::Impl& impl, int fd) {
  unsigned char header[4];
  if (!read_full(fd, reinterpret_cast<char*>(header), sizeof header)) return;
  const std::uint32_t len = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                            (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  if (len == 0 || len > impl.options.max_package_size) {
    log_warn("pool worker: closing a connection announcing " + std::to_string(len) +
             " bytes (allowed 1.." + std::to_string(impl.options.max_package_size) + ")");
    return;
  }
  std::string body(len, '\0');
  if (!read_full(fd, body.data(), len)) return;
  std::string answer;
  impl.response = &answer;
  impl.on_message(pool, body);
  impl.response = nullptr;
  if (answer.empty()) return;
  const std::uint32_t n = htonl(static_cast<std::uint32_t>(answer.size()));
  answer.insert(0, reinterpret_cast<const char*>(&n), sizeof n);
  send_all(fd, answer.data(), answer.size());
}

void socket_loop(Pool& pool, Pool::Impl& impl) {
  const int lfd = impl.listen_fd.get();
  while (wait_readable_or_stop(lfd)) {
    UniqueFd conn(::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;  // another worker took it (EAGAIN), or the client already left
    serve_connection(pool, impl, conn.get());
  }
}

void unixsock_loop(Pool& pool, Pool::Impl& impl, int id) {
  const int fd = impl.pipes[static_cast<std::size_t>(id)].second.get();
  std::string buf(impl.options.max_package_size, '\0');
  while (wait_readable_or_stop(fd)) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) continue;  // EAGAIN/EINTR
    if (static_cast<std::size_t>(n) > buf.size()) {
      log_error("pool worker: dropped a " + std::to_string(n) + "-byte message above max_package_size " +
                std::to_string(buf.size()));
      continue;
    }
    impl.on_message(pool, std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
}

}  // namespace

int run_pool_worker(Pool& pool, Pool::Impl& impl, int id) {
  set_current_role(Role::pool_worker);
  impl.worker_id = id;
  keep_child_pipe_ends(impl, id);
  // With a receive loop the worker stops between messages (default SIGTERM behaviour); a
  // SIGTERM handler the worker registers through signals.h in WorkerStart replaces that (SIG-5)
  // and runs between messages; it may call Pool::stop(). Without
  // one (ipc none) WorkerStart is the whole worker and SIGTERM keeps its default action, as in
  // Swoole; such a worker may install its own handler.
  const bool has_loop = impl.options.ipc != PoolIpc::none;
  if (has_loop) {
    install_stop_handler();  // SIGTERM stays blocked: it is taken only between messages
  } else {
    unblock_stop_signal();
  }
  impl.on_worker_start(pool, id);
  if (has_loop) {
    switch (impl.options.ipc) {
      case PoolIpc::msgqueue: msgqueue_loop(pool, impl); break;
      case PoolIpc::socket: socket_loop(pool, impl); break;
      case PoolIpc::unixsock: unixsock_loop(pool, impl, id); break;
      case PoolIpc::none: break;
    }
  }
  if (impl.on_worker_stop) impl.on_worker_stop(pool, id);
  return 0;
}

}  // namespace procspec::detail

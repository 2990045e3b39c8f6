#include "server/reactor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "procspec/log.h"

namespace procspec::detail {
namespace {

using Clock = std::chrono::steady_clock;

// Reads per readiness event before yielding to other connections (fairness under load).
constexpr int kReadsPerWakeup = 8;
constexpr std::size_t kReadBufferSize = 64 * 1024;
// SRV-15: how long the listening socket is left alone when a client cannot even be refused.
constexpr std::int64_t kAcceptRetryMs = 50;

void describe_peer(int fd, Connection& conn) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    conn.peer = std::string(text) + ":" + std::to_string(ntohs(a->sin_port));
    conn.peer_hash = ntohl(a->sin_addr.s_addr);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    conn.peer = "[" + std::string(text) + "]:" + std::to_string(ntohs(a->sin6_port));
    std::uint32_t h = 2166136261u;  // FNV-1a over the 16 address bytes
    for (unsigned char b : a->sin6_addr.s6_addr) h = (h ^ b) * 16777619u;
    conn.peer_hash = h;
  }
}

}  // namespace

Result<std::shared_ptr<ConnectionCount>> ConnectionCount::create_shared() {
  void* page = ::mmap(nullptr, sizeof(std::atomic<long long>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return sys_fail(errno, "mmap (connection counter)");
  static_assert(std::atomic<long long>::is_always_lock_free, "the counter is shared across processes");
  auto* counter = new (page) std::atomic<long long>(0);
  std::shared_ptr<ConnectionCount> count(new ConnectionCount(counter));
  count->mapping_ = std::shared_ptr<void>(page, [](void* p) { ::munmap(p, sizeof(std::atomic<long long>)); });
  return count;
}

bool ConnectionCount::try_acquire(long long limit) noexcept {
  if (counter_->fetch_add(1, std::memory_order_relaxed) >= limit) {
    counter_->fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ConnectionCount::release() noexcept { counter_->fetch_sub(1, std::memory_order_relaxed); }
long long ConnectionCount::value() const noexcept { return counter_->load(std::memory_order_relaxed); }

Reactor::Reactor(EventLoop& loop, ReactorOptions options, ConnectionEvents& events, std::shared_ptr<ConnectionCount> count)
    : loop_(loop), options_(std::move(options)), events_(events), count_(std::move(count)) {
  PROCSPEC_CHECK(options_.reactor_id >= 0 && options_.reactor_id < kMaxReactors, "reactor id out of range");
  PROCSPEC_CHECK(count_ != nullptr, "reactor needs the server's connection count");
}

Reactor::~Reactor() {
  stop_accepting();
  if (heartbeat_timer_ != 0) (void)Timer::clear(heartbeat_timer_);
  if (accept_retry_timer_ != 0) (void)Timer::clear(accept_retry_timer_);
  for (auto& [id, conn] : conns_) {
    (void)loop_.remove(conn->fd.get());
    count_->release();
  }
}

Status Reactor::reserve_spare_fd() {
  spare_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!spare_fd_) return sys_fail(errno, "open /dev/null (spare fd for EMFILE)");
  return {};
}

Status Reactor::listen_on(int listen_fd) {
  if (auto st = reserve_spare_fd(); !st) return st;
  if (auto st = loop_.add(listen_fd, [this] { on_accept(); }); !st) return st;
  listen_fd_ = listen_fd;
  if (options_.heartbeat_idle.count() > 0 && heartbeat_timer_ == 0) {
    auto every = std::max<std::int64_t>(1, options_.heartbeat_interval.count());
    auto id = Timer::tick(every, [this](TimerId) { heartbeat_check(); });
    if (!id) return forward_error(std::move(id).error());
    heartbeat_timer_ = *id;
  }
  return {};
}

void Reactor::stop_accepting() {
  if (listen_fd_ < 0) return;
  (void)loop_.remove(listen_fd_);
  listen_fd_ = -1;
}

void Reactor::on_accept() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // SRV-15 (muduo's trick): a level-triggered listen fd with a client we cannot take would
        // spin the loop. Give up the spare fd, take the client, close it so it hears "no" at once,
        // and keep serving the connections we have; accepting resumes as fds free up.
        const int accept_errno = errno;
        const bool had_spare = static_cast<bool>(spare_fd_);
        spare_fd_.reset();
        int refused = had_spare ? ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC) : -1;
        if (refused >= 0) ::close(refused);
        (void)reserve_spare_fd();
        if (refused >= 0) {
          log_warn("accept: out of file descriptors (" + std::string(accept_errno == ENFILE ? "ENFILE" : "EMFILE") +
                   "): a new connection was refused; existing connections are still served");
          continue;
        }
        // accept4 says EMFILE even with nobody waiting, so an empty queue (EAGAIN) ends the round.
        // Without a spare (another thread took the fd) the waiting client cannot be refused:
        // stop watching the listening socket for a moment rather than spin on it.
        if (!had_spare) pause_accepting();
        return;
      }
      if (errno != EAGAIN) log_warn("accept: " + std::string(std::strerror(errno)));
      return;
    }
    UniqueFd socket(fd);
    if (!count_->try_acquire(options_.max_conn)) {
      log_warn("max_conn " + std::to_string(options_.max_conn) + " reached: a new connection was closed");
      continue;  // SRV-5: accepted and closed at once; existing connections are unaffected
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::uint64_t session = (next_seq_++ << kReactorIdBits) | static_cast<std::uint64_t>(options_.reactor_id);
    auto owned = std::make_unique<Connection>(session, std::move(socket), options_.reactor_id, options_.framing,
                                              options_.output_buffer_size);
    Connection& conn = *owned;
    describe_peer(fd, conn);
    conn.last_recv = Clock::now();
    if (auto st = loop_.add(fd, [this, session] { if (auto* c = find(session)) on_readable(*c); }); !st) {
      log_warn("accept: cannot watch the new connection: " + st.error().message);
      count_->release();
      continue;
    }
    conns_.emplace(session, std::move(owned));
    conn.in_read = true;  // a close() from onConnect runs after it returns
    events_.on_connect(conn);
    conn.in_read = false;
    if (conn.close_requested && conn.out.empty()) destroy(conn);
  }
}

void Reactor::pause_accepting() {
  if (listen_fd_ < 0 || accept_retry_timer_ != 0) return;
  (void)loop_.remove(listen_fd_);
  auto id = Timer::after(kAcceptRetryMs, [this] {
    accept_retry_timer_ = 0;
    if (listen_fd_ >= 0) (void)loop_.add(listen_fd_, [this] { on_accept(); });
  });
  if (id) accept_retry_timer_ = *id;
  else (void)loop_.add(listen_fd_, [this] { on_accept(); });
}

void Reactor::on_readable(Connection& conn) {
  thread_local std::vector<char> buffer(kReadBufferSize);
  const std::uint64_t session = conn.session_id;
  conn.in_read = true;
  bool gone = false;
  for (int i = 0; i < kReadsPerWakeup && !conn.close_requested && !conn.reading_paused; ++i) {
    ssize_t n = ::recv(conn.fd.get(), buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      gone = true;  // peer closed or reset: nothing more can be delivered or written
      break;
    }
    conn.last_recv = Clock::now();
    auto st = conn.decoder.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), [&](std::string_view packet) {
      if (!conn.close_requested) events_.on_packet(conn, packet);
    });
    if (!st) {
      // FRM-4/FRM-8: the decoder logged the reason naming the length. Packets before the bad
      // frame that a worker still holds are answered first.
      if (conn.routing.in_flight > 0) {
        conn.close_when_answered = true;
        conn.reading_paused = true;
      } else {
        gone = true;
      }
      break;
    }
    if (static_cast<std::size_t>(n) < buffer.size()) break;
  }
  conn.in_read = false;
  if (!find(session)) return;
  if (gone || (conn.close_requested && conn.out.empty())) {
    destroy(conn);
    return;
  }
  update_interest(conn);
}

void Reactor::flush(Connection& conn) {
  while (!conn.out.empty()) {
    iovec iov[64];
    int n = conn.out.gather(iov, 64);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(n);
    ssize_t w = ::sendmsg(conn.fd.get(), &msg, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    if (w < 0) {
      // The client is gone; what it did not read cannot be delivered to anyone.
      conn.close_requested = true;
      conn.out.consume(conn.out.size());
      break;
    }
    conn.out.consume(static_cast<std::size_t>(w));
  }
}

void Reactor::on_writable(Connection& conn) {
  flush(conn);
  if (conn.close_requested && conn.out.empty() && !conn.in_read) {
    destroy(conn);
    return;
  }
  update_interest(conn);
}

void Reactor::update_interest(Connection& conn) {
  const bool want_writes = !conn.out.empty();
  const bool want_reads = !conn.close_requested && !conn.reading_paused;
  // With nothing to write, a closing connection still listens for the peer's hang-up.
  const bool read_callback = want_reads || !want_writes;
  if (conn.reading_paused && !conn.close_requested && !want_writes) {
    // Level-triggered input nobody reads would wake the loop forever: leave epoll until there
    // is something to write.
    if (conn.watched) (void)loop_.remove(conn.fd.get());
    conn.watched = false;
    conn.watching_writes = false;
    return;
  }
  // Compared with both directions: a connection paused while it had answers to write is
  // watched for writes only, and resuming it must put reads back (once a slow reader's answers
  // were pending, its requests were never read again).
  if (conn.watched && want_writes == conn.watching_writes && read_callback == conn.watching_reads) return;
  const std::uint64_t session = conn.session_id;
  EventLoop::Callback on_read, on_write;
  if (read_callback) on_read = [this, session] { if (auto* c = find(session)) on_readable(*c); };
  if (want_writes) on_write = [this, session] { if (auto* c = find(session)) on_writable(*c); };
  const int fd = conn.fd.get();
  if (conn.watched ? loop_.modify(fd, std::move(on_read), std::move(on_write))
                   : loop_.add(fd, std::move(on_read), std::move(on_write))) {
    conn.watched = true;
    conn.watching_reads = read_callback;
    conn.watching_writes = want_writes;
  }
}

void Reactor::resume_reading(std::uint64_t session) {
  Connection* conn = find(session);
  if (!conn || !conn->reading_paused || conn->close_requested || conn->close_when_answered) return;
  conn->reading_paused = false;
  if (!conn->in_read) update_interest(*conn);
}

void Reactor::pause_reading(std::uint64_t session) {
  Connection* conn = find(session);
  if (!conn || conn->reading_paused) return;
  conn->reading_paused = true;
  if (!conn->in_read) update_interest(*conn);
}

Status Reactor::send(std::uint64_t session, std::string_view data) {
  Connection* conn = find(session);
  if (!conn || conn->close_requested) {
    return fail(errc::peer_closed, "send: session " + std::to_string(session) + " is closed");
  }
  if (data.empty()) return fail(errc::payload_empty, "send: empty data");
  if (auto st = conn->out.append(data); !st) return st;  // SRV-12: refused whole, nothing sent
  flush(*conn);
  if (conn->close_requested && conn->out.empty() && !conn->in_read) {
    destroy(*conn);
    return fail(errc::peer_closed, "send: session " + std::to_string(session) + " was closed by the peer");
  }
  update_interest(*conn);
  return {};
}

Status Reactor::close(std::uint64_t session) {
  Connection* conn = find(session);
  if (!conn || conn->close_requested) return fail(errc::peer_closed, "close: session " + std::to_string(session) + " is closed");
  conn->close_requested = true;
  if (conn->in_read) return {};  // on_readable finishes the job
  if (conn->out.empty()) destroy(*conn);
  else update_interest(*conn);
  return {};
}

void Reactor::abort(std::uint64_t session) {
  Connection* conn = find(session);
  if (!conn) return;
  conn->out.consume(conn->out.size());
  conn->close_requested = true;
  if (!conn->in_read) destroy(*conn);
}

void Reactor::close_all() {
  stop_accepting();
  for_each_session([this](std::uint64_t id) { (void)close(id); });
}

void Reactor::drain_reads() {
  for_each_session([this](std::uint64_t id) {
    if (auto* c = find(id)) on_readable(*c);
  });
}

Connection* Reactor::find(std::uint64_t session) {
  auto it = conns_.find(session);
  return it == conns_.end() ? nullptr : it->second.get();
}

void Reactor::destroy(Connection& conn) {
  const std::uint64_t session = conn.session_id;
  if (conn.watched) (void)loop_.remove(conn.fd.get());
  events_.on_close(conn);
  count_->release();
  conns_.erase(session);  // closes the socket
}

void Reactor::heartbeat_check() {
  // SRV-13: idle means no byte received for heartbeat_idle; checked every interval, so a
  // connection is closed within [idle, idle + interval] and never while it keeps sending.
  const auto now = Clock::now();
  std::vector<std::uint64_t> idle;
  for (auto& [id, conn] : conns_) {
    if (now - conn->last_recv >= options_.heartbeat_idle) idle.push_back(id);
  }
  for (auto id : idle) {
    log_info("heartbeat: session " + std::to_string(id) + " idle for " +
             std::to_string(options_.heartbeat_idle.count()) + " ms, closed");
    abort(id);
  }
}

}  // namespace procspec::detail

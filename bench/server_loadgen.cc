// Closed-loop load generator for any implementation's `driver echo-server` (SPEC IUT), on
// 127.0.0.1 only. N connections each keep `pipeline` framed requests in flight; every response
// is checked byte for byte against its request (an echo that drops or reorders bytes must not
// look fast). Prints one JSON object: req/s, latency percentiles and the server tree's CPU time
// per request, which is the fair figure on 2 vCPUs where this client itself needs about a CPU.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "support/proc_cpu.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int conns = 50;
  std::size_t size = 1024;
  int pipeline = 1;
  double duration_s = 5;
  double warmup_s = 0.5;
  long long max_requests = 0;  // 0 = bound by duration only
  std::string framing = "length";  // length (4-byte big-endian 'N', body_offset 4) | eof | none
  int server_pid = 0;
  // error: a connection the server closes while requests are outstanding counts as an error
  // (benchmarks). count: a close between responses (none half-received) is counted in
  // server_closes/unanswered instead, and the connection ends; reconnect: the same, and a new
  // connection carries on. A close mid-response is always an error. For the server suites:
  // BASE workers close their own connections when they stop (SRV-6, SRV-14), every mode at
  // shutdown (SRV-11).
  enum class OnClose { error, count, reconnect } on_close = OnClose::error;
};

struct Connection {
  int fd = -1;
  std::uint64_t next_seq = 0;
  std::deque<Clock::time_point> sent_at;  // one per request in flight
  std::string expected;                   // bytes of the requests in flight, in order
  std::string out;                        // not yet written
  std::size_t received_in_current = 0;
  bool dead = false;
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "server_loadgen: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// Deterministic request bytes: the sequence number is stamped into the body so a response
// belonging to another request cannot match. Letters only, so the EOF "\r\n" never occurs.
std::string make_request(const Options& o, int conn_id, std::uint64_t seq) {
  std::string r(o.size, 'a');
  std::size_t body_start = 0;
  if (o.framing == "length") {
    auto body = static_cast<std::uint32_t>(o.size - 4);
    std::uint32_t be = htonl(body);
    std::memcpy(r.data(), &be, 4);
    body_start = 4;
  }
  std::size_t body_end = o.framing == "eof" ? o.size - 2 : o.size;
  std::uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(conn_id);
  for (std::size_t i = body_start; i < body_end; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r[i] = static_cast<char>('a' + static_cast<int>(x % 26));
  }
  if (o.framing == "eof") {
    r[o.size - 2] = '\r';
    r[o.size - 1] = '\n';
  }
  return r;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--host") o.host = v;
    else if (k == "--port") o.port = std::atoi(v);
    else if (k == "--conns") o.conns = std::atoi(v);
    else if (k == "--size") o.size = static_cast<std::size_t>(std::atoll(v));
    else if (k == "--pipeline") o.pipeline = std::atoi(v);
    else if (k == "--duration") o.duration_s = std::atof(v);
    else if (k == "--warmup") o.warmup_s = std::atof(v);
    else if (k == "--requests") o.max_requests = std::atoll(v);
    else if (k == "--framing") o.framing = v;
    else if (k == "--server-pid") o.server_pid = std::atoi(v);
    else if (k == "--on-close" && std::string(v) == "error") o.on_close = Options::OnClose::error;
    else if (k == "--on-close" && std::string(v) == "count") o.on_close = Options::OnClose::count;
    else if (k == "--on-close" && std::string(v) == "reconnect") o.on_close = Options::OnClose::reconnect;
    else return false;
  }
  if (argc % 2 == 0) return false;
  std::size_t min_size = o.framing == "length" ? 12 : 10;
  return o.port > 0 && o.conns > 0 && o.pipeline > 0 && o.size >= min_size &&
         (o.framing == "length" || o.framing == "eof" || o.framing == "none") &&
         (o.host == "127.0.0.1" || o.host == "::1");
}

// -1 with errno set when the connection is refused.
int try_connect(const Options& o) {
  int family = o.host == "::1" ? AF_INET6 : AF_INET;
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(o.port));
    ::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<std::uint16_t>(o.port));
    ::inet_pton(AF_INET6, o.host.c_str(), &a.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

int connect_one(const Options& o) {
  int fd = try_connect(o);
  if (fd < 0) die("connect");
  return fd;
}

double percentile_us(std::vector<std::int64_t>& ns, double p) {
  if (ns.empty()) return 0;
  auto k = static_cast<std::size_t>(p * static_cast<double>(ns.size() - 1));
  std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
  return static_cast<double>(ns[k]) / 1000.0;
}

double process_cpu_s() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: server_loadgen --port P [--host 127.0.0.1|::1] [--conns 50] [--size 1024]\n"
                 "       [--pipeline 1] [--duration 5] [--warmup 0.5] [--requests N]\n"
                 "       [--framing length|eof|none] [--server-pid PID]\n       [--on-close error|count|reconnect]\n");
    return 2;
  }
  std::vector<Connection> conns(static_cast<std::size_t>(o.conns));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (std::size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connect_one(o);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = i;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl");
  }

  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_s));
  const auto stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  bool measuring = o.warmup_s <= 0;
  procspec::bench::TreeCpu server_cpu_before{};
  double client_cpu_before = 0;
  auto begin_measuring = [&] {
    measuring = true;
    server_cpu_before = procspec::bench::tree_cpu(o.server_pid);
    client_cpu_before = process_cpu_s();
  };
  if (measuring) begin_measuring();
  auto measured_start = Clock::now();

  std::vector<std::int64_t> latencies_ns;
  latencies_ns.reserve(1 << 20);
  long long completed = 0, errors = 0, alive = o.conns, server_closes = 0, unanswered = 0;
  bool sending = true;

  auto fill = [&](std::size_t id) {
    Connection& c = conns[id];
    while (sending && static_cast<int>(c.sent_at.size()) < o.pipeline) {
      std::string r = make_request(o, static_cast<int>(id), c.next_seq++);
      c.expected += r;
      c.out += r;
      c.sent_at.push_back(Clock::now());
    }
  };
  auto kill_conn = [&](std::size_t id, bool is_error) {
    Connection& c = conns[id];
    if (c.dead) return;
    c.dead = true;
    if (is_error) ++errors;
    ::close(c.fd);
    --alive;
  };
  // The server closed the connection. Between responses (unless --on-close error) the requests
  // in flight go unanswered, which a client can only retry; half a response is always an error.
  auto peer_closed = [&](std::size_t id) {
    Connection& c = conns[id];
    ++server_closes;
    bool between_responses = c.received_in_current == 0;
    if (o.on_close == Options::OnClose::error || !between_responses) {
      kill_conn(id, !c.sent_at.empty() || sending);
      return;
    }
    unanswered += static_cast<long long>(c.sent_at.size());
    ::close(c.fd);
    c.fd = -1;
    c.sent_at.clear();
    c.expected.clear();
    c.out.clear();
    if (!sending || o.on_close == Options::OnClose::count) {
      c.dead = true;
      --alive;
      return;
    }
    c.fd = try_connect(o);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = id;
    if (c.fd < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      std::fprintf(stderr, "server_loadgen: connection %zu: reconnect: %s\n", id, std::strerror(errno));
      c.dead = true;
      ++errors;
      --alive;
      if (c.fd >= 0) ::close(c.fd);
      return;
    }
    fill(id);  // written when the new socket reports EPOLLOUT
  };
  auto flush = [&](std::size_t id) {
    Connection& c = conns[id];
    while (!c.out.empty()) {
      ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) { c.out.erase(0, static_cast<std::size_t>(n)); continue; }
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0 && errno == EINTR) continue;
      if (o.on_close != Options::OnClose::error && (errno == EPIPE || errno == ECONNRESET)) peer_closed(id);
      else kill_conn(id, true);
      return;
    }
  };
  for (std::size_t i = 0; i < conns.size(); ++i) { fill(i); flush(i); }

  std::vector<epoll_event> events(256);
  char buf[65536];
  while (alive > 0) {
    auto now = Clock::now();
    if (!measuring && now >= measure_from) {
      begin_measuring();
      measured_start = now;
    }
    if (sending && measuring && (now >= stop_at || (o.max_requests > 0 && completed >= o.max_requests))) sending = false;
    if (!sending) {
      bool idle = true;
      for (const auto& c : conns) if (!c.dead && !c.sent_at.empty()) idle = false;
      if (idle || now >= stop_at + std::chrono::seconds(5)) break;  // drain, bounded
    }
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < n; ++e) {
      auto id = static_cast<std::size_t>(events[static_cast<std::size_t>(e)].data.u64);
      Connection& c = conns[id];
      if (c.dead) continue;
      if (events[static_cast<std::size_t>(e)].events & EPOLLOUT) flush(id);
      while (!c.dead) {
        ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) { peer_closed(id); break; }
        auto got = static_cast<std::size_t>(r);
        if (got > c.expected.size() || std::memcmp(buf, c.expected.data(), got) != 0) {
          std::fprintf(stderr, "server_loadgen: connection %zu: response does not match its request\n", id);
          kill_conn(id, true);
          break;
        }
        c.expected.erase(0, got);
        c.received_in_current += got;
        while (c.received_in_current >= o.size && !c.sent_at.empty()) {
          c.received_in_current -= o.size;
          auto t = Clock::now();
          if (measuring && t <= stop_at) {
            latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t - c.sent_at.front()).count());
            ++completed;
          }
          c.sent_at.pop_front();
        }
        fill(id);
        flush(id);
      }
    }
  }
  auto measured_end = std::min(Clock::now(), stop_at);
  procspec::bench::TreeCpu server_cpu_after = procspec::bench::tree_cpu(o.server_pid);
  double client_cpu = process_cpu_s() - client_cpu_before;
  for (std::size_t i = 0; i < conns.size(); ++i) if (!conns[i].dead) ::close(conns[i].fd);
  ::close(ep);

  double secs = std::chrono::duration<double>(measured_end - measured_start).count();
  double server_cpu_s = server_cpu_after.seconds - server_cpu_before.seconds;
  double per_req = completed > 0 ? 1e6 / static_cast<double>(completed) : 0;
  double p50 = percentile_us(latencies_ns, 0.50), p99 = percentile_us(latencies_ns, 0.99),
         p999 = percentile_us(latencies_ns, 0.999), pmax = percentile_us(latencies_ns, 1.0);
  std::printf(
      "{\"conns\":%d,\"size\":%zu,\"pipeline\":%d,\"framing\":\"%s\",\"duration_s\":%.3f,\"requests\":%lld,"
      "\"errors\":%lld,\"server_closes\":%lld,\"unanswered\":%lld,\"req_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
      "\"server_cpu_us_per_req\":%s,\"client_cpu_us_per_req\":%.2f}\n",
      o.conns, o.size, o.pipeline, o.framing.c_str(), secs, completed, errors, server_closes, unanswered,
      secs > 0 ? static_cast<double>(completed) / secs : 0.0, p50, p99, p999, pmax,
      o.server_pid > 0 && server_cpu_after.valid ? std::to_string(server_cpu_s * per_req).c_str() : "null",
      client_cpu * per_req);
  return completed > 0 ? 0 : 1;
}

// A small TCP client for the black-box server suites. It only talks to 127.0.0.1/::1, bounds
// every wait, and prints one JSON object so Bats can check the outcome with jq.
//
//   tcp_client send  --port P [--chunk N] [--gap-ms D] [--timeout-ms T] [--expect-bytes N] HEX...
//       sends the packets (hex) as one stream, cut into N-byte writes D ms apart, then reads until
//       the echo is complete (or N bytes arrived), the peer closes, or T ms pass.
//   tcp_client hold  --port P --conns N [--hold-ms T]
//       opens N connections and reports how many the server closed within T ms.
//   tcp_client idle  --port P [--timeout-ms T] [--ping-ms K --ping HEX]
//       stays connected (optionally sending HEX every K ms and reading its echo) and reports
//       whether and after how long the server closed the connection.
//   tcp_client crowd --port P --ping HEX --conns N [--close C --reopen R] [--timeout-ms T]
//       opens N connections one after another, pinging each before opening the next, so the
//       first ones the server keeps are the first ones opened; re-pings those it kept; then
//       closes C of them and opens R new ones (each retried for up to 3 s) (SRV-5, SRV-15).
//   tcp_client noread --port P --bytes N [--hold-ms T]
//       sends N bytes and never reads; prints how much went out once it is done (or stalled
//       for 1 s), then keeps the connection open for T ms (SRV-12).
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string verb;
  std::map<std::string, std::string> opts;
  std::vector<std::string> rest;
  long num(const std::string& k, long dflt) const {
    auto it = opts.find(k);
    return it == opts.end() ? dflt : std::strtol(it->second.c_str(), nullptr, 10);
  }
};

long ms_since(Clock::time_point t0) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

int connect_to(const std::string& host, long port) {
  bool v6 = host == "::1";
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int rc;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET6, "::1", &a.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool from_hex(const std::string& hex, std::string& out) {
  if (hex.size() % 2) return false;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    char* end = nullptr;
    std::string byte = hex.substr(i, 2);
    long v = std::strtol(byte.c_str(), &end, 16);
    if (*end) return false;
    out += static_cast<char>(v);
  }
  return true;
}

// Reads what is available within `timeout_ms`; returns false when the peer closed (or reset).
bool read_some(int fd, std::string& into, long timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout_ms)) <= 0) return true;
  char buf[65536];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return false;
  into.append(buf, static_cast<std::size_t>(n));
  return true;
}

int cmd_send(const Args& a, const std::string& host, long port) {
  std::string payload;
  for (const auto& h : a.rest)
    if (!from_hex(h, payload)) {
      std::fprintf(stderr, "tcp_client: '%s' is not hex\n", h.c_str());
      return 2;
    }
  auto chunk = static_cast<std::size_t>(a.num("--chunk", 0));
  long gap = a.num("--gap-ms", 0), timeout = a.num("--timeout-ms", 3000);
  auto expect = static_cast<std::size_t>(a.num("--expect-bytes", static_cast<long>(payload.size())));
  int fd = connect_to(host, port);
  if (fd < 0) {
    std::printf("{\"connected\":false}\n");
    return 1;
  }
  std::string got;
  bool open = true;
  std::size_t sent = 0;
  while (sent < payload.size() && open) {
    std::size_t n = chunk ? std::min(chunk, payload.size() - sent) : payload.size() - sent;
    ssize_t w = ::send(fd, payload.data() + sent, n, MSG_NOSIGNAL);
    if (w <= 0) { open = false; break; }
    sent += static_cast<std::size_t>(w);
    if (gap > 0 && sent < payload.size()) {
      open = read_some(fd, got, gap);  // keep draining echoes while pacing, like a real client
    }
  }
  auto t0 = Clock::now();
  while (open && got.size() < expect && ms_since(t0) < timeout) open = read_some(fd, got, 50);
  bool closed = !open;
  if (open && got.size() >= expect) {
    // The echo is complete; give a close that follows it (FRM-4 after a bad header) a moment.
    std::string extra;
    closed = !read_some(fd, extra, 100);
    got += extra;
  }
  ::close(fd);
  std::printf("{\"sent\":%zu,\"received\":%zu,\"echo_ok\":%s,\"closed_by_peer\":%s,\"timed_out\":%s,\"received_hex\":\"",
              sent, got.size(), got == payload ? "true" : "false", closed ? "true" : "false",
              (!closed && got.size() < expect) ? "true" : "false");
  for (char c : got.substr(0, 4096)) std::printf("%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
  std::printf("\"}\n");
  return 0;
}

int cmd_hold(const Args& a, const std::string& host, long port) {
  long conns = a.num("--conns", 10), hold = a.num("--hold-ms", 500);
  std::vector<int> fds;
  long failed = 0;
  for (long i = 0; i < conns; ++i) {
    int fd = connect_to(host, port);
    if (fd < 0) ++failed;
    else fds.push_back(fd);
  }
  std::vector<bool> closed(fds.size(), false);
  auto t0 = Clock::now();
  while (ms_since(t0) < hold) {
    std::vector<pollfd> ps;
    for (std::size_t i = 0; i < fds.size(); ++i) if (!closed[i]) ps.push_back({fds[i], POLLIN, 0});
    if (ps.empty() || ::poll(ps.data(), ps.size(), 20) < 0) break;
    for (const auto& p : ps) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char c;
      if (::recv(p.fd, &c, 1, MSG_DONTWAIT) <= 0)
        for (std::size_t i = 0; i < fds.size(); ++i) if (fds[i] == p.fd) closed[i] = true;
    }
  }
  long n_closed = 0;
  for (bool c : closed) n_closed += c;
  for (int fd : fds) ::close(fd);
  std::printf("{\"opened\":%zu,\"connect_failed\":%ld,\"closed_by_peer\":%ld,\"still_open\":%ld}\n", fds.size(), failed,
              n_closed, static_cast<long>(fds.size()) - n_closed);
  return 0;
}

// One echo round trip: 1 answered, 0 the server closed (or refused), -1 no answer in time.
int ping_once(int fd, const std::string& ping, long timeout_ms) {
  if (::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(ping.size())) return 0;
  std::string got;
  auto t0 = Clock::now();
  while (got.size() < ping.size() && ms_since(t0) < timeout_ms)
    if (!read_some(fd, got, 20)) return 0;
  if (got.size() < ping.size()) return -1;
  return got == ping ? 1 : 0;
}

int cmd_crowd(const Args& a, const std::string& host, long port) {
  long conns = a.num("--conns", 10), n_close = a.num("--close", 0), reopen = a.num("--reopen", 0);
  long timeout = a.num("--timeout-ms", 1000);
  std::string ping;
  if (!a.opts.count("--ping") || !from_hex(a.opts.at("--ping"), ping) || ping.empty()) {
    std::fprintf(stderr, "tcp_client crowd: --ping HEX is required\n");
    return 2;
  }
  std::vector<int> kept;
  long refused = 0, timed_out = 0;
  for (long i = 0; i < conns; ++i) {
    int fd = connect_to(host, port);
    int r = fd < 0 ? 0 : ping_once(fd, ping, timeout);
    if (r == 1) {
      kept.push_back(fd);
      continue;
    }
    (r == 0 ? refused : timed_out) += 1;
    if (fd >= 0) ::close(fd);
  }
  long served_again = 0;
  for (int fd : kept) served_again += ping_once(fd, ping, timeout) == 1;
  long closed = 0;
  while (closed < n_close && closed < static_cast<long>(kept.size())) ::close(kept[static_cast<std::size_t>(closed++)]);
  long reopened = 0, reopen_attempts = 0;
  for (long i = 0; i < reopen; ++i) {
    auto t0 = Clock::now();
    while (ms_since(t0) < 3000) {
      ++reopen_attempts;
      int fd = connect_to(host, port);
      int r = fd < 0 ? 0 : ping_once(fd, ping, timeout);
      if (r == 1) {
        ++reopened;
        kept.push_back(fd);
        break;
      }
      if (fd >= 0) ::close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  for (std::size_t i = static_cast<std::size_t>(closed); i < kept.size(); ++i) ::close(kept[i]);
  std::printf("{\"conns\":%ld,\"served\":%ld,\"refused\":%ld,\"timed_out\":%ld,\"served_again\":%ld,"
              "\"closed\":%ld,\"reopened_served\":%ld,\"reopen_attempts\":%ld}\n",
              conns, static_cast<long>(kept.size()) - reopened, refused, timed_out, served_again, closed, reopened,
              reopen_attempts);
  return 0;
}

int cmd_noread(const Args& a, const std::string& host, long port) {
  long total = a.num("--bytes", 1 << 26), hold = a.num("--hold-ms", 5000);
  int fd = connect_to(host, port);
  if (fd < 0) {
    std::printf("{\"connected\":false}\n");
    return 1;
  }
  std::vector<char> block(65536, 'x');
  long sent = 0;
  bool stalled = false, closed = false;
  while (sent < total) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 1000) <= 0) {
      stalled = true;  // the server stopped reading: back-pressure is a fine answer to SRV-12 too
      break;
    }
    auto n = static_cast<std::size_t>(std::min<long>(total - sent, static_cast<long>(block.size())));
    ssize_t w = ::send(fd, block.data(), n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (w <= 0) {
      closed = true;
      break;
    }
    sent += w;
  }
  std::printf("{\"sent\":%ld,\"stalled\":%s,\"closed_by_peer\":%s}\n", sent, stalled ? "true" : "false",
              closed ? "true" : "false");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(hold));
  ::close(fd);
  return 0;
}

int cmd_idle(const Args& a, const std::string& host, long port) {
  long timeout = a.num("--timeout-ms", 5000), ping_ms = a.num("--ping-ms", 0);
  std::string ping;
  if (a.opts.count("--ping") && !from_hex(a.opts.at("--ping"), ping)) return 2;
  int fd = connect_to(host, port);
  if (fd < 0) {
    std::printf("{\"connected\":false}\n");
    return 1;
  }
  auto t0 = Clock::now();
  auto last_ping = t0;
  long pings = 0;
  bool open = true;
  std::string sink;
  while (open && ms_since(t0) < timeout) {
    if (ping_ms > 0 && !ping.empty() &&
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_ping).count() >= ping_ms) {
      if (::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL) <= 0) { open = false; break; }
      last_ping = Clock::now();
      ++pings;
    }
    open = read_some(fd, sink, 20);
  }
  long after = ms_since(t0);
  ::close(fd);
  std::printf("{\"closed_by_peer\":%s,\"after_ms\":%ld,\"pings\":%ld}\n", open ? "false" : "true", after, pings);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: tcp_client send|hold|idle|crowd|noread --port P [--host 127.0.0.1|::1] ...\n");
    return 2;
  }
  a.verb = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0 && i + 1 < argc) a.opts[s] = argv[++i];
    else a.rest.push_back(s);
  }
  std::string host = a.opts.count("--host") ? a.opts["--host"] : "127.0.0.1";
  long port = a.num("--port", 0);
  if (port <= 0 || (host != "127.0.0.1" && host != "::1")) {
    std::fprintf(stderr, "tcp_client: --port is required and --host must be 127.0.0.1 or ::1\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  if (a.verb == "send") return cmd_send(a, host, port);
  if (a.verb == "hold") return cmd_hold(a, host, port);
  if (a.verb == "idle") return cmd_idle(a, host, port);
  if (a.verb == "crowd") return cmd_crowd(a, host, port);
  if (a.verb == "noread") return cmd_noread(a, host, port);
  std::fprintf(stderr, "tcp_client: unknown verb '%s'\n", a.verb.c_str());
  return 2;
}

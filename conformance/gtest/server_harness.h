#pragma once
// Runs a procspec::Server in a forked child (line framing, 127.0.0.1 port 0) and talks to it
// over real TCP: the black-box half of the server suites. Every wait is bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "base/after_fork.h"
#include "procspec/server.h"
#include "procspec/unique_fd.h"
#include "support/child.h"

namespace procspec::test {

// A client of a line-framed server: call() sends one line and reads one line back.
class LineClient {
 public:
  static Result<LineClient> connect(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys_fail(errno, "socket");
    LineClient c{UniqueFd(fd)};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return sys_fail(errno, "connect");
    return c;
  }

  Status send_line(const std::string& line) {
    std::string out = line + "\n";
    std::size_t off = 0;
    while (off < out.size()) {
      const ssize_t n = ::send(fd_.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n < 0) return sys_fail(errno, "send");
      off += static_cast<std::size_t>(n);
    }
    return {};
  }

  // The next line (without "\n"); errc::peer_closed at EOF, timed_out past the deadline.
  Result<std::string> read_line(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return fail(std::make_error_code(std::errc::timed_out), "read_line: no line in time");
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char tmp[65536];
      const ssize_t n = ::recv(fd_.get(), tmp, sizeof tmp, 0);
      if (n == 0) return fail(errc::peer_closed, "read_line: EOF");
      if (n < 0) return sys_fail(errno, "recv");
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

  Result<std::string> call(const std::string& line) {
    if (auto st = send_line(line); !st) return forward_error(std::move(st).error());
    return read_line();
  }

 private:
  explicit LineClient(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
  std::string buf_;
};

// A server in a child process; configure() sets events and settings.
class ServerChild {
 public:
  ~ServerChild() {
    if (pid_ > 0) (void)stop();
  }

  Status start(const std::function<void(Server&)>& configure, ServerMode mode = ServerMode::base) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_fail(errno, "pipe2");
    UniqueFd rd(p[0]), wr(p[1]);
    auto pid = spawn_child([&]() -> int {
      detail::run_after_fork_child_hooks();
      rd.reset();
      auto server = Server::create("127.0.0.1", 0, mode);
      if (!server) return 10;
      Server& s = **server;
      if (!s.set({{"open_eof_split", true}, {"package_eof", std::string("\n")}})) return 11;
      configure(s);
      auto user_start = s.events().on_start;
      const int port_fd = wr.get();
      s.events().on_start = [user_start, port_fd](Server& srv) {
        const int port = srv.port();
        (void)!::write(port_fd, &port, sizeof port);
        if (user_start) user_start(srv);
      };
      auto st = s.start();
      if (!st) std::fprintf(stderr, "server start: %s\n", st.error().message.c_str());
      return st ? 0 : 1;
    });
    if (!pid) return forward_error(std::move(pid).error());
    pid_ = *pid;
    wr.reset();
    auto got = read_with_deadline(rd.get(), sizeof(int), std::chrono::seconds(10));
    if (!got) return forward_error(std::move(got).error());
    if (got->size() != sizeof(int)) return fail(errc::not_started, "server child ended before it listened");
    std::memcpy(&port_, got->data(), sizeof port_);
    return {};
  }

  int port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }

  // SIGTERM (graceful shutdown) and the child's exit status.
  Result<ExitStatus> stop() {
    if (pid_ <= 0) return fail(errc::not_started, "no server child");
    ::kill(pid_, SIGTERM);
    auto st = wait_child(pid_, std::chrono::seconds(20));
    pid_ = -1;
    return st;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace procspec::test

// The floor for server benchmarks (issue 7): the least work a TCP echo can do — one process,
// one thread, one epoll loop, echo each read back as it came. BASE mode's CPU per request is
// compared against this. Speaks the IUT echo-server's start-up contract: prints
// "listening PORT" and exits 0 on SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

namespace {
[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}
}  // namespace

int main() {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (::listen(lfd, 1024) != 0) die("listen");
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.fd = sfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  std::printf("listening %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  // Bytes a slow client has not taken yet; echo must not drop them.
  std::unordered_map<int, std::string> pending;
  epoll_event events[256];
  char buf[65536];
  for (;;) {
    int n = ::epoll_wait(ep, events, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == sfd) {
        for (auto& [cfd, out] : pending) ::close(cfd);
        return 0;
      }
      if (fd == lfd) {
        for (;;) {
          int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          pending[c];
        }
        continue;
      }
      std::string& out = pending[fd];
      bool closed = false;
      if (events[i].events & EPOLLIN) {
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r > 0) out.append(buf, static_cast<std::size_t>(r));
        else if (r == 0 || errno != EAGAIN) closed = true;
      }
      while (!closed && !out.empty()) {
        ssize_t w = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (w > 0) out.erase(0, static_cast<std::size_t>(w));
        else if (errno == EAGAIN) break;
        else closed = true;
      }
      if (closed) {
        ::close(fd);
        pending.erase(fd);
        continue;
      }
      epoll_event mod{};
      mod.events = EPOLLIN | (out.empty() ? 0u : static_cast<unsigned>(EPOLLOUT));
      mod.data.fd = fd;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &mod);
    }
  }
}

#include "support/million.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>


namespace procspec::bench {

void MillionVerdict::add(std::span<const std::byte> got) noexcept {
  if (first_bad_ == ~std::uint64_t{0} && checker_.check(got, next_) != PayloadVerdict::ok) first_bad_ = next_;
  ++next_;
}

std::string MillionVerdict::verdict() const {
  return first_bad_ == ~std::uint64_t{0} ? std::string("ok") : mismatch_message(first_bad_);
}

Result<double> million_raw_socketpair(int type, std::size_t size, int socket_buffer) {
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) return sys_fail(errno, "socketpair");
  if (socket_buffer > 0) {
    for (int fd : sv) {
      (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &socket_buffer, sizeof socket_buffer);
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &socket_buffer, sizeof socket_buffer);
    }
  }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == -1) return sys_fail(errno, "fork");
  if (pid == 0) {
    ::close(sv[0]);
    MillionVerdict v(size);
    std::string buf(size + 1, '\0');  // one spare byte: a longer datagram shows as a wrong size
    for (std::uint64_t seq = 0; seq < kMillion; ++seq) {
      const ssize_t n = ::recv(sv[1], buf.data(), type == SOCK_STREAM ? size : buf.size(), MSG_WAITALL);
      v.add(std::string_view(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0));
    }
    const std::string verdict = v.verdict();
    ::_exit(::write(sv[1], verdict.data(), verdict.size()) > 0 ? 0 : 1);
  }
  ::close(sv[1]);
  PayloadWriter writer(size);
  const auto t0 = std::chrono::steady_clock::now();
  bool ok = true;
  for (std::uint64_t seq = 0; ok && seq < kMillion; ++seq) {
    const auto msg = writer.next(seq);
    ok = ::send(sv[0], msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
  }
  char verdict[64] = {};
  const ssize_t got = ok ? ::read(sv[0], verdict, sizeof verdict - 1) : -1;
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  ::close(sv[0]);
  while (::waitpid(pid, nullptr, 0) == -1 && errno == EINTR) {
  }
  if (!ok) return sys_fail(errno, "send of the million messages");
  if (got <= 0 || !verdict_ok(std::string_view(verdict, static_cast<std::size_t>(got)))) {
    return fail(errc::invalid_argument, got > 0 ? std::string(verdict) : "the receiver gave no verdict");
  }
  return took.count();
}

}  // namespace procspec::bench

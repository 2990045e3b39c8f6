#pragma once
// Helpers shared by the channel test files: payloads that differ by message and position,
// headers that differ by message, a bounded receive, and a forked peer.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "base/after_fork.h"
#include "procspec/channel.h"

namespace procspec::test {

// Deterministic bytes that differ by message and by position, so a reordered, torn or
// truncated message never compares equal.
inline std::string make_payload(std::uint64_t seq, std::size_t size) {
  std::string s(size, '\0');
  std::uint64_t x = seq * 0x9E3779B97F4A7C15ull + size;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

inline MessageHeader header_for(std::uint64_t seq) {
  MessageHeader h;
  h.kind = static_cast<MessageKind>(seq % 12);
  h.flags = static_cast<std::uint8_t>(seq * 7);
  h.reactor_id = static_cast<std::uint16_t>(seq % 3);
  h.worker_id = static_cast<std::uint16_t>(seq % 5);
  h.session_id = 1000 + seq;
  return h;
}

// Receives one message with a bounded wait (poll on the readable target, then non-blocking).
inline Result<Message> receive_within(Channel& ch, int timeout_ms = 10000) {
  const bool was = ch.nonblocking();
  ch.set_nonblocking(true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto m = ch.receive();
    if (m || !would_block(m.error()) || std::chrono::steady_clock::now() > deadline) {
      ch.set_nonblocking(was);
      return m;
    }
    const PollTarget t = ch.readable_target();
    pollfd p{t.fd, static_cast<short>(t.events), 0};
    (void)::poll(&p, 1, 50);
  }
}

// Forks a child that runs fn and _exits with its return value; never returns into gtest.
template <class Fn>
pid_t fork_child(Fn fn) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    detail::run_after_fork_child_hooks();
    ::alarm(30);  // a broken channel must not leave a child behind forever
    int code = fn();
    ::_exit(code);
  }
  return pid;
}

inline int wait_exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace procspec::test

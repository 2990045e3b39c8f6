#pragma once
// The fixture of the Server end-to-end files (server_modes_test.cc, server_faults_test.cc): a real
// server in a forked child, a length-framed TCP client on 127.0.0.1, and the event pipe that
// carries worker-side observations back (one short line per event, written atomically by
// whichever process saw it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procspec/server.h"
#include "procspec/unique_fd.h"
#include "support/child.h"
#include "support/leak_check.h"

namespace procspec::test {

struct ModeCase {
  ServerMode mode;
  const char* ipc;
  int workers;
  int reactors;
};

inline void PrintTo(const ModeCase& c, std::ostream* os) { *os << static_cast<int>(c.mode) << "/" << c.ipc; }

inline std::string case_name(const testing::TestParamInfo<ModeCase>& info) {
  const char* mode = info.param.mode == ServerMode::base ? "Base" : info.param.mode == ServerMode::process ? "Process" : "Thread";
  std::string ipc = info.param.ipc;
  for (auto& c : ipc) if (c == '_') c = 'X';
  return std::string(mode) + "_" + ipc + "_w" + std::to_string(info.param.workers) + "r" + std::to_string(info.param.reactors);
}

// Appends one line to the event pipe; lines below PIPE_BUF are atomic across processes.
inline void note(int fd, const std::string& line) {
  const std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
}

inline std::string frame(std::string_view body) {
  const std::uint32_t n = htonl(static_cast<std::uint32_t>(body.size()));
  std::string out(reinterpret_cast<const char*>(&n), 4);
  out.append(body);
  return out;
}

class Client {
 public:
  // v6: connect to [::1] instead of 127.0.0.1.
  explicit Client(int port, bool v6 = false) {
    fd_.reset(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (v6) {
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_port = htons(static_cast<std::uint16_t>(port));
      addr.sin6_addr = in6addr_loopback;
      connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    } else {
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    timeval tv{10, 0};  // a hung server fails the test instead of hanging it
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  bool connected() const { return connected_; }
  bool write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool send_packet(std::string_view body) { return write_all(frame(body)); }
  // Exactly n bytes, or fewer if the server closed / the read timed out.
  std::string read_bytes(std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd_.get(), out.data() + got, n - got, 0);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }
  std::string read_packet() {
    const std::string header = read_bytes(4);
    if (header.size() < 4) return "<closed>";
    std::uint32_t n = 0;
    std::memcpy(&n, header.data(), 4);
    return read_bytes(ntohl(n));
  }
  // True when the server closed the connection (EOF or reset) before the read timeout.
  bool sees_close() {
    char c;
    const ssize_t r = ::recv(fd_.get(), &c, 1, 0);
    return r == 0 || (r < 0 && errno == ECONNRESET);
  }

 private:
  UniqueFd fd_;
  bool connected_ = false;
};

class ServerModes : public test::LeakCheckedTest, public testing::WithParamInterface<ModeCase> {
 protected:
  ServerModes() { check_msg_queues_ = true; }

  // Starts the server in a child; `configure` runs there before start(). Returns the port.
  int start(const std::function<void(Server&, int events_fd)>& configure = {}, long long max_length = 4 << 20) {
    int port_pipe[2], event_pipe[2];
    EXPECT_EQ(::pipe2(port_pipe, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(event_pipe, O_CLOEXEC), 0);
    UniqueFd port_read(port_pipe[0]), port_write(port_pipe[1]);
    events_.reset(event_pipe[0]);
    UniqueFd events_write(event_pipe[1]);
    const ModeCase c = GetParam();
    auto pid = test::spawn_child([&, c]() -> int {
      port_read.reset();
      events_.reset();
      auto created = Server::create(host_, 0, c.mode, sock_type_);
      if (!created) {
        std::fprintf(stderr, "create: %s\n", created.error().message.c_str());
        return 10;
      }
      Server& s = **created;
      const int efd = events_write.get();
      Status st = s.set({{"worker_num", static_cast<long long>(c.workers)},
                         {"open_length_check", true},
                         {"package_length_type", std::string("N")},
                         {"package_length_offset", 0LL},
                         {"package_body_offset", 4LL},
                         {"package_max_length", max_length},
                         {"output_buffer_size", max_length}});
      if (st && c.mode != ServerMode::base) st = s.set({{"reactor_num", static_cast<long long>(c.reactors)}, {"ipc", std::string(c.ipc)}});
      if (!st) {
        std::fprintf(stderr, "settings: %s\n", st.error().message.c_str());
        return 11;
      }
      s.events().on_start = [&, fd = port_write.get()](Server& srv) {
        const std::string p = std::to_string(srv.port()) + "\n";
        (void)!::write(fd, p.data(), p.size());
        note(efd, "start " + std::to_string(::getpid()));
      };
      s.events().on_receive = [](Server& srv, std::uint64_t fd, int, std::string_view packet) {
        (void)srv.send(fd, packet);  // the packet keeps its length header (FRM): an echo as is
      };
      s.events().on_worker_start = [efd](Server&, int id) { note(efd, "worker_start " + std::to_string(id) + " " + std::to_string(::getpid())); };
      s.events().on_worker_stop = [efd](Server&, int id) { note(efd, "worker_stop " + std::to_string(id)); };
      s.events().on_shutdown = [efd](Server&) { note(efd, "shutdown"); };
      if (configure) configure(s, efd);
      st = s.start();
      if (!st) std::fprintf(stderr, "start: %s\n", st.error().message.c_str());
      return st ? 0 : 12;
    });
    EXPECT_TRUE(pid) << (pid ? "" : pid.error().message);
    server_pid_ = pid ? *pid : -1;
    port_write.reset();
    events_write.reset();
    auto line = test::read_with_deadline(port_read.get(), 32, std::chrono::seconds(20));
    if (!line || line->empty()) return 0;
    return std::stoi(*line);
  }

  // SIGTERM, then the exit status and every event line the server's processes wrote.
  std::pair<Result<ExitStatus>, std::string> stop() {
    ::kill(server_pid_, SIGTERM);
    auto status = test::wait_child(server_pid_, std::chrono::seconds(30));
    server_pid_ = -1;
    return {status, drain_events()};
  }

  std::string drain_events() {
    std::string all;
    for (;;) {
      auto chunk = test::read_with_deadline(events_.get(), 4096, std::chrono::seconds(10));
      if (!chunk || chunk->empty()) break;
      all += *chunk;
    }
    return all;
  }

  // The first event line starting with `prefix` not returned before (bounded wait); "" if none.
  // Lines of other kinds stay available: events of different processes arrive in any order.
  std::string wait_event(const std::string& prefix) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      for (auto& line : lines_) {
        if (!line.empty() && line.rfind(prefix, 0) == 0) return std::exchange(line, std::string());
      }
      if (std::chrono::steady_clock::now() >= deadline) return "";
      auto chunk = test::read_with_deadline(events_.get(), 4096, std::chrono::seconds(1));
      if (chunk && chunk->empty()) return "";
      if (!chunk) continue;
      pending_ += *chunk;
      for (auto pos = pending_.find('\n'); pos != std::string::npos; pos = pending_.find('\n')) {
        lines_.push_back(pending_.substr(0, pos));
        pending_.erase(0, pos + 1);
      }
    }
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      ::kill(server_pid_, SIGKILL);
      (void)test::wait_child(server_pid_, std::chrono::seconds(10));
    }
    events_.reset();
    test::LeakCheckedTest::TearDown();
  }

  std::string host_ = "127.0.0.1";  // where start() listens (sock_type_ must match its family)
  SockType sock_type_ = SockType::tcp;
  pid_t server_pid_ = -1;
  UniqueFd events_;
  std::string pending_;
  std::vector<std::string> lines_;
};

// Children of pid, from /proc (every thread's list).
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
    std::ifstream in(entry.path() / "children");
    pid_t child;
    while (in >> child) out.push_back(child);
  }
  return out;
}

inline std::size_t count_lines(const std::string& text, const std::string& prefix) {
  std::size_t n = 0, pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') ++n;
    pos += prefix.size();
  }
  return n;
}

}  // namespace procspec::test

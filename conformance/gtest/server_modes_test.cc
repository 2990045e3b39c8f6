// The Server end to end in every mode and channel: a real server in a forked child, real TCP
// clients on 127.0.0.1, signals sent from here. Worker-side observations travel back over an
// event pipe (one short line per event, written atomically by whichever process saw it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "procspec/process.h"
#include "procspec/server.h"
#include "procspec/unique_fd.h"
#include "support/child.h"
#include "support/leak_check.h"
#include "support/seed.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;

struct ModeCase {
  ServerMode mode;
  const char* ipc;
  int workers;
  int reactors;
};

void PrintTo(const ModeCase& c, std::ostream* os) { *os << static_cast<int>(c.mode) << "/" << c.ipc; }

std::string case_name(const testing::TestParamInfo<ModeCase>& info) {
  const char* mode = info.param.mode == ServerMode::base ? "Base" : info.param.mode == ServerMode::process ? "Process" : "Thread";
  std::string ipc = info.param.ipc;
  for (auto& c : ipc) if (c == '_') c = 'X';
  return std::string(mode) + "_" + ipc + "_w" + std::to_string(info.param.workers) + "r" + std::to_string(info.param.reactors);
}

// Appends one line to the event pipe; lines below PIPE_BUF are atomic across processes.
void note(int fd, const std::string& line) {
  const std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
}

std::string frame(std::string_view body) {
  const std::uint32_t n = htonl(static_cast<std::uint32_t>(body.size()));
  std::string out(reinterpret_cast<const char*>(&n), 4);
  out.append(body);
  return out;
}

class Client {
 public:
  explicit Client(int port) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
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
      auto created = Server::create("127.0.0.1", 0, c.mode);
      if (!created) return 10;
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
    auto line = test::read_with_deadline(port_read.get(), 32, 20s);
    if (!line || line->empty()) return 0;
    return std::stoi(*line);
  }

  // SIGTERM, then the exit status and every event line the server's processes wrote.
  std::pair<Result<ExitStatus>, std::string> stop() {
    ::kill(server_pid_, SIGTERM);
    auto status = test::wait_child(server_pid_, 30s);
    server_pid_ = -1;
    return {status, drain_events()};
  }

  std::string drain_events() {
    std::string all;
    for (;;) {
      auto chunk = test::read_with_deadline(events_.get(), 4096, 10s);
      if (!chunk || chunk->empty()) break;
      all += *chunk;
    }
    return all;
  }

  // The first event line starting with `prefix` not returned before (bounded wait); "" if none.
  // Lines of other kinds stay available: events of different processes arrive in any order.
  std::string wait_event(const std::string& prefix) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      for (auto& line : lines_) {
        if (!line.empty() && line.rfind(prefix, 0) == 0) return std::exchange(line, std::string());
      }
      if (std::chrono::steady_clock::now() >= deadline) return "";
      auto chunk = test::read_with_deadline(events_.get(), 4096, 1s);
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
      (void)test::wait_child(server_pid_, 10s);
    }
    events_.reset();
    test::LeakCheckedTest::TearDown();
  }

  pid_t server_pid_ = -1;
  UniqueFd events_;
  std::string pending_;
  std::vector<std::string> lines_;
};

// Children of pid, from /proc (every thread's list).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
    std::ifstream in(entry.path() / "children");
    pid_t child;
    while (in >> child) out.push_back(child);
  }
  return out;
}

std::size_t count_lines(const std::string& text, const std::string& prefix) {
  std::size_t n = 0, pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') ++n;
    pos += prefix.size();
  }
  return n;
}

TEST_P(ServerModes, SRVPROC1_EchoesEveryPacketOfSeveralClientsInOrder) {
  const int port = start();
  ASSERT_GT(port, 0);
  std::mt19937 rng(test::test_seed());
  SCOPED_TRACE("seed " + std::to_string(test::test_seed()));
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(clients.back()->connected());
  }
  std::vector<std::vector<std::string>> sent(clients.size());
  for (std::size_t c = 0; c < clients.size(); ++c) {
    std::string burst;  // pipelined: many packets in flight on one connection
    for (int i = 0; i < 40; ++i) {
      std::string body = "c" + std::to_string(c) + "p" + std::to_string(i) + ":";
      body.append(std::uniform_int_distribution<std::size_t>(0, 3000)(rng), static_cast<char>('a' + i % 26));
      burst += frame(body);
      sent[c].push_back(body);
    }
    ASSERT_TRUE(clients[c]->write_all(burst));
  }
  for (std::size_t c = 0; c < clients.size(); ++c) {
    for (const auto& body : sent[c]) ASSERT_EQ(clients[c]->read_packet(), body);
  }
  clients.clear();
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
  const auto workers = static_cast<std::size_t>(GetParam().workers);
  EXPECT_EQ(count_lines(events, "worker_start "), workers) << events;  // spec: SRV-3
  EXPECT_EQ(count_lines(events, "worker_stop "), workers) << events;
  EXPECT_EQ(count_lines(events, "shutdown"), 1u) << events;
}

TEST_P(ServerModes, SRVPROC4_AMegabytePacketCrossesTheChannelIntact) {
  const int port = start();
  ASSERT_GT(port, 0);
  std::string body(1 << 20, '\0');
  std::mt19937 rng(test::test_seed());
  for (auto& ch : body) ch = static_cast<char>(rng());
  Client client(port);
  ASSERT_TRUE(client.send_packet(body));
  ASSERT_TRUE(client.send_packet("after"));
  EXPECT_TRUE(client.read_packet() == body);
  EXPECT_EQ(client.read_packet(), "after");
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

TEST_P(ServerModes, SRV3_ConnectAndCloseEventsRunInAWorker) {
  const int port = start([](Server& s, int efd) {
    s.events().on_connect = [](Server& srv, std::uint64_t fd, int) { (void)srv.send(fd, frame("hello")); };
    s.events().on_close = [efd](Server& srv, std::uint64_t fd, int) {
      note(efd, "close " + std::to_string(fd) + " by worker " + std::to_string(srv.worker_id()));
    };
  });
  ASSERT_GT(port, 0);
  {
    Client client(port);
    EXPECT_EQ(client.read_packet(), "hello");
    ASSERT_TRUE(client.send_packet("x"));
    EXPECT_EQ(client.read_packet(), "x");
  }
  const std::string closed = wait_event("close ");
  EXPECT_NE(closed.find("by worker "), std::string::npos) << closed;
  EXPECT_EQ(closed.find("by worker -1"), std::string::npos) << closed;
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

TEST_P(ServerModes, SRV11_ShutdownAnswersRequestsAlreadySentThenExitsZero) {
  const int port = start([](Server& s, int) {
    s.events().on_receive = [](Server& srv, std::uint64_t fd, int, std::string_view packet) {
      std::this_thread::sleep_for(50ms);  // keep requests in flight when SIGTERM lands
      (void)srv.send(fd, packet);
    };
  });
  ASSERT_GT(port, 0);
  Client client(port);
  std::string burst;
  for (int i = 0; i < 6; ++i) burst += frame("req" + std::to_string(i));
  ASSERT_TRUE(client.write_all(burst));
  EXPECT_EQ(client.read_packet(), "req0");  // the server is working on them
  ::kill(server_pid_, SIGTERM);
  for (int i = 1; i < 6; ++i) EXPECT_EQ(client.read_packet(), "req" + std::to_string(i));
  EXPECT_TRUE(client.sees_close());
  auto status = test::wait_child(server_pid_, 30s);
  server_pid_ = -1;
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
  EXPECT_EQ(count_lines(drain_events(), "shutdown"), 1u);
}

// PRC-1: a PROCESS/THREAD master runs reactor threads once started; forking it could leave the
// child holding another thread's lock, so creating a Process there is an error. BASE has no
// master threads: its Start callback may create one.
TEST_P(ServerModes, PRC1_CreatingAProcessInAStartedMasterIsAnErrorOnlyWhenItHasThreads) {
  const int port = start([](Server& s, int efd) {
    auto on_start = s.events().on_start;
    s.events().on_start = [on_start, efd](Server& srv) {
      auto process = Process::create([](Process&) { return 0; });
      note(efd, std::string("process_create ") + (process ? "ok" : "refused: " + process.error().message));
      on_start(srv);
    };
  });
  ASSERT_GT(port, 0);
  const std::string line = wait_event("process_create ");
  if (GetParam().mode == ServerMode::base) {
    EXPECT_EQ(line, "process_create ok");
  } else {
    EXPECT_NE(line.find("refused: "), std::string::npos) << line;
    EXPECT_NE(line.find("master"), std::string::npos) << line;
  }
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

INSTANTIATE_TEST_SUITE_P(AllModes, ServerModes,
                         testing::Values(ModeCase{ServerMode::base, "uds_dgram", 2, 1},
                                         ModeCase{ServerMode::process, "uds_dgram", 2, 2},
                                         ModeCase{ServerMode::process, "uds_stream", 2, 1},
                                         ModeCase{ServerMode::process, "sysvmsg", 2, 2},
                                         ModeCase{ServerMode::process, "uds_batch", 2, 2},
                                         ModeCase{ServerMode::process, "shm_ring", 2, 2},
                                         ModeCase{ServerMode::thread, "thread", 2, 2},
                                         ModeCase{ServerMode::thread, "thread", 1, 1}),
                         case_name);

// PROCESS-only: what survives a worker's death.
class ProcessWorkerDeath : public ServerModes {};

TEST_P(ProcessWorkerDeath, SRVPROC2_AWorkerKilledWithNothingInFlightKeepsEveryConnection) {
  const int port = start([](Server& s, int efd) {
    s.events().on_worker_error = [efd](Server&, const WorkerError& e) {
      note(efd, "worker_error " + std::to_string(e.worker_id) + " signal " + std::to_string(e.signal));
    };
  });
  ASSERT_GT(port, 0);
  std::vector<pid_t> workers;
  for (int i = 0; i < GetParam().workers; ++i) {
    const std::string line = wait_event("worker_start ");
    ASSERT_FALSE(line.empty());
    workers.push_back(std::stoi(line.substr(line.rfind(' ') + 1)));
  }
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(clients.back()->send_packet("before" + std::to_string(i)));
    ASSERT_EQ(clients.back()->read_packet(), "before" + std::to_string(i));
  }
  for (pid_t w : workers) ASSERT_EQ(::kill(w, SIGKILL), 0);
  for (std::size_t i = 0; i < workers.size(); ++i) {
    EXPECT_NE(wait_event("worker_error ").find("signal 9"), std::string::npos);  // spec: SRV-3
    EXPECT_FALSE(wait_event("worker_start ").empty()) << "no replacement started";
  }
  // Every connection is still open and is served by the replacements.
  for (std::size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(clients[i]->send_packet("after" + std::to_string(i)));
    EXPECT_EQ(clients[i]->read_packet(), "after" + std::to_string(i));
  }
  clients.clear();
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

TEST_P(ProcessWorkerDeath, SRVPROC5_ARequestInAKilledWorkerClosesOnlyItsConnection) {
  const int port = start([](Server& s, int efd) {
    s.events().on_receive = [efd](Server& srv, std::uint64_t fd, int, std::string_view packet) {
      if (packet.substr(4) == "stall") {
        note(efd, "stalled " + std::to_string(::getpid()));
        std::this_thread::sleep_for(60s);  // killed long before this ends
      }
      (void)srv.send(fd, packet);
    };
  });
  ASSERT_GT(port, 0);
  Client bystander(port);
  ASSERT_TRUE(bystander.send_packet("one"));
  ASSERT_EQ(bystander.read_packet(), "one");
  Client victim(port);
  ASSERT_TRUE(victim.send_packet("stall"));
  const std::string stalled = wait_event("stalled ");
  ASSERT_FALSE(stalled.empty());
  ASSERT_EQ(::kill(std::stoi(stalled.substr(8)), SIGKILL), 0);
  // Closed at once (the read timeout is 10 s, the stall 60 s): never left hanging.
  EXPECT_TRUE(victim.sees_close());
  ASSERT_TRUE(bystander.send_packet("two"));
  EXPECT_EQ(bystander.read_packet(), "two");
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

// SRV-14 / SRV-11 SIGUSR1: reloads in a row while clients keep sending, one arriving while the
// previous is still going: no request fails, and worker_num workers remain.
TEST_P(ProcessWorkerDeath, SRV14_ReloadsUnderLoadFailNoRequest) {
  const int port = start();
  ASSERT_GT(port, 0);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, served{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      Client client(port);
      for (int i = 0; i < 100000 && !done; ++i) {
        const std::string body = "c" + std::to_string(c) + "-" + std::to_string(i);
        if (!client.send_packet(body) || client.read_packet() != body) {
          ++failures;
          return;
        }
        ++served;
      }
    });
  }
  for (int reload = 0; reload < 20; ++reload) {
    ASSERT_EQ(::kill(server_pid_, SIGUSR1), 0);
    std::this_thread::sleep_for(reload % 2 ? 150ms : 20ms);  // every other one lands mid-reload
  }
  std::this_thread::sleep_for(500ms);
  done = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(served.load(), 0);
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
  // Each start of a worker has its stop (the run ended with every worker stopped cleanly).
  EXPECT_EQ(count_lines(events, "worker_start "), count_lines(events, "worker_stop ")) << events;
  EXPECT_GT(count_lines(events, "worker_start "), static_cast<std::size_t>(GetParam().workers));
}

INSTANTIATE_TEST_SUITE_P(Channels, ProcessWorkerDeath,
                         testing::Values(ModeCase{ServerMode::process, "uds_dgram", 2, 2},
                                         ModeCase{ServerMode::process, "uds_stream", 2, 1},
                                         ModeCase{ServerMode::process, "sysvmsg", 1, 1},
                                         ModeCase{ServerMode::process, "uds_batch", 2, 1},
                                         ModeCase{ServerMode::process, "shm_ring", 2, 2}),
                         case_name);

class ThreadModeFaults : public ServerModes {};

TEST_P(ThreadModeFaults, SRVTHREAD1_WorkersAreThreadsOfOneProcess) {
  const int port = start();
  ASSERT_GT(port, 0);
  const std::string started = wait_event("start ");
  ASSERT_FALSE(started.empty());
  for (int i = 0; i < GetParam().workers; ++i) {
    const std::string line = wait_event("worker_start ");
    EXPECT_EQ(line.substr(line.rfind(' ') + 1), started.substr(6)) << "a worker in another process";
  }
  EXPECT_TRUE(children_of(server_pid_).empty());
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

TEST_P(ThreadModeFaults, SRVTHREAD2_AFatalErrorInAWorkerEndsTheProcessAndClosesEveryClient) {
  const int port = start([](Server& s, int) {
    s.events().on_receive = [](Server& srv, std::uint64_t fd, int, std::string_view packet) {
      if (packet.substr(4) == "fatal") std::abort();  // documented: one thread's fatal error ends the process
      (void)srv.send(fd, packet);
    };
  });
  ASSERT_GT(port, 0);
  Client bystander(port);
  ASSERT_TRUE(bystander.send_packet("one"));
  ASSERT_EQ(bystander.read_packet(), "one");
  Client culprit(port);
  ASSERT_TRUE(culprit.send_packet("fatal"));
  EXPECT_TRUE(culprit.sees_close());
  EXPECT_TRUE(bystander.sees_close());
  auto status = test::wait_child(server_pid_, 30s);
  server_pid_ = -1;
  ASSERT_TRUE(status);
  EXPECT_EQ(status->signal, SIGABRT);
}

// SRV-9 between threads: worker A hands the request to worker B and B hands the answer back,
// each PipeMessage running on its destination thread (only A, the connection's owner, can
// answer the client: B's send() to it would fail).
TEST_P(ThreadModeFaults, SRVTHREAD1_PipeMessagesGoFromWorkerThreadToWorkerThread) {
  const int port = start([](Server& s, int efd) {
    s.events().on_receive = [](Server& srv, std::uint64_t fd, int, std::string_view) {
      const int other = (srv.worker_id() + 1) % 2;
      auto self = srv.send_message("self", srv.worker_id());
      if (self || self.error().code != errc::invalid_argument) (void)srv.close(fd);  // the client sees it
      if (auto st = srv.send_message("there:" + std::to_string(fd), other); !st) (void)srv.close(fd);
    };
    s.events().on_pipe_message = [efd](Server& srv, int src, std::string_view message) {
      note(efd, "pipe " + std::string(message) + " in " + std::to_string(srv.worker_id()) + " from " + std::to_string(src));
      if (message.rfind("there:", 0) == 0) {
        (void)srv.send_message("back:" + std::string(message.substr(6)), src);
      } else {
        const std::uint64_t fd = std::stoull(std::string(message.substr(5)));
        const std::string answer = "relayed by " + std::to_string(src);
        const std::uint32_t n = htonl(static_cast<std::uint32_t>(answer.size()));
        (void)srv.send(fd, std::string(reinterpret_cast<const char*>(&n), 4) + answer);
      }
    };
  });
  ASSERT_GT(port, 0);
  for (int i = 0; i < 4; ++i) {
    Client c(port);
    ASSERT_TRUE(c.send_packet("relay"));
    const std::string answer = c.read_packet();
    ASSERT_EQ(answer.rfind("relayed by ", 0), 0u) << answer;
    const std::string there = wait_event("pipe there:");
    const std::string back = wait_event("pipe back:");
    int there_in = -1, there_from = -1, back_in = -1, back_from = -1;
    ASSERT_EQ(std::sscanf(there.c_str(), "pipe there:%*u in %d from %d", &there_in, &there_from), 2) << there;
    ASSERT_EQ(std::sscanf(back.c_str(), "pipe back:%*u in %d from %d", &back_in, &back_from), 2) << back;
    EXPECT_NE(there_in, there_from) << there;
    EXPECT_EQ(back_in, there_from) << back;
    EXPECT_EQ(back_from, there_in) << back;
    EXPECT_EQ(answer, "relayed by " + std::to_string(there_in));
  }
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

INSTANTIATE_TEST_SUITE_P(Thread, ThreadModeFaults,
                         testing::Values(ModeCase{ServerMode::thread, "thread", 2, 2}), case_name);

class ThreadModeSettings : public test::LeakCheckedTest {};

// SRV-THREAD-1: no channel between reactor and worker, so naming one is a mistake to report.
TEST_F(ThreadModeSettings, SRVTHREAD1_AReactorToWorkerChannelIsRefusedAtStart) {
  for (const char* ipc : {"uds_dgram", "uds_stream", "shm_ring", "uds_batch", "sysvmsg"}) {
    auto server = Server::create("127.0.0.1", 0, ServerMode::thread);
    ASSERT_TRUE(server);
    Server& s = **server;
    s.events().on_receive = [](Server&, std::uint64_t, int, std::string_view) {};
    ASSERT_TRUE(s.set({{"ipc", std::string(ipc)}}));
    auto st = s.start();
    ASSERT_FALSE(st) << ipc;
    EXPECT_EQ(st.error().code, errc::invalid_setting);
    EXPECT_NE(st.error().message.find(std::string("ipc ") + ipc), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("THREAD"), std::string::npos) << st.error().message;
  }
}

}  // namespace
}  // namespace procspec

// The Server end to end when things go wrong, and THREAD mode's own rules: a PROCESS-mode worker
// killed with or without a request in flight, a BASE worker's death taking only the connections
// it owned, reloads under load; THREAD mode's workers are
// threads of one process (one fatal error ends it), pipe messages go thread to thread, and a
// reactor-to-worker channel is refused. A real server in a forked child, real TCP clients on
// 127.0.0.1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "procspec/server.h"
#include "server/channel_worker.h"
#include "support/child.h"
#include "support/server_modes_fixture.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using test::case_name;
using test::children_of;
using test::Client;
using test::count_lines;
using test::ModeCase;
using test::note;
using test::ServerModes;

// PROCESS-only: what survives a worker's death.
class ProcessWorkerDeath : public ServerModes {
 protected:
  // What a death with a request in flight must leave: the victim's connection closed, never left
  // waiting (its read times out after 10 s and fails the test), the bystander still served, and
  // a server that still stops cleanly.
  void expect_only_the_victim_closed(Client& victim, Client& bystander) {
    EXPECT_TRUE(victim.sees_close());
    ASSERT_TRUE(bystander.send_packet("two"));
    EXPECT_EQ(bystander.read_packet(), "two");
    auto [status, events] = stop();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->code, 0);
  }
};

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
  expect_only_the_victim_closed(victim, bystander);  // closed long before the 60 s stall ends
}

// SRV-PROC-5's narrowest window: the worker dies after the kernel handed it the request and
// before it counted it (kill -9 landing inside its receive call). A lone request leaves no later
// traffic to tell the master, so the master must learn it from the channel itself.
TEST_P(ProcessWorkerDeath, SRVPROC5_ALoneRequestTakenButNotCountedByAKilledWorkerIsClosed) {
  const int port = start([](Server&, int) {
    detail::set_worker_received_hook([](const Message& m) {
      if (m.header.kind == MessageKind::data && m.payload.size() > 4 && m.payload.substr(4) == "die-uncounted") {
        ::raise(SIGKILL);
      }
    });
  });
  ASSERT_GT(port, 0);
  Client bystander(port);
  ASSERT_TRUE(bystander.send_packet("one"));
  ASSERT_EQ(bystander.read_packet(), "one");
  Client victim(port);
  ASSERT_TRUE(victim.send_packet("die-uncounted"));
  // Nothing else is sent until the victim's fate is known: no later traffic can settle it.
  expect_only_the_victim_closed(victim, bystander);
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

// BASE: each worker owns the connections it accepted, so a worker's death takes exactly those.
class BaseWorkerDeath : public ServerModes {};

TEST_P(BaseWorkerDeath, SRVBASE2_AKilledWorkerClosesOnlyItsOwnConnections) {
  const int port = start([](Server& s, int) {
    s.events().on_receive = [](Server& srv, std::uint64_t fd, int, std::string_view) {
      (void)srv.send(fd, test::frame(std::to_string(::getpid())));  // who owns this connection
    };
  });
  ASSERT_GT(port, 0);
  // Connections until both workers own some (which worker accepts is the kernel's choice).
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::string> owner;
  auto owners = [&] { return std::set<std::string>(owner.begin(), owner.end()); };
  while (clients.size() < 64 && (clients.size() < 8 || owners().size() < 2)) {
    clients.push_back(std::make_unique<Client>(port));
    ASSERT_TRUE(clients.back()->send_packet("who"));
    owner.push_back(clients.back()->read_packet());
    ASSERT_NE(owner.back(), "<closed>");
  }
  if (owners().size() < 2) GTEST_SKIP() << "one worker accepted all 64 connections; nothing to compare";
  const std::string victim = owner.front();
  ASSERT_EQ(::kill(std::stoi(victim), SIGKILL), 0);
  std::size_t closed = 0, kept = 0;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (owner[i] == victim) {
      EXPECT_TRUE(clients[i]->sees_close()) << "connection " << i << " of the killed worker";
      ++closed;
    } else {
      ASSERT_TRUE(clients[i]->send_packet("still"));
      EXPECT_EQ(clients[i]->read_packet(), owner[i]) << "connection " << i << " of the other worker";
      ++kept;
    }
  }
  EXPECT_GT(closed, 0u);
  EXPECT_GT(kept, 0u);
  // The manager starts a replacement (the third WorkerStart), and new connections are served.
  std::string started;
  for (int k = 0; k < 3; ++k) started = wait_event("worker_start ");
  EXPECT_FALSE(started.empty()) << "no replacement worker started";
  Client fresh(port);
  ASSERT_TRUE(fresh.send_packet("who"));
  const std::string by = fresh.read_packet();
  EXPECT_NE(by, "<closed>");
  EXPECT_NE(by, victim);
  clients.clear();
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

INSTANTIATE_TEST_SUITE_P(Base, BaseWorkerDeath, testing::Values(ModeCase{ServerMode::base, "uds_dgram", 2, 1}), case_name);

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

// The Server end to end when things go wrong: a PROCESS-mode worker killed with or without a
// request in flight, reloads under load, and THREAD mode (workers are threads; one fatal error
// ends the process). A real server in a forked child, real TCP clients on 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "procspec/server.h"
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

INSTANTIATE_TEST_SUITE_P(Thread, ThreadModeFaults,
                         testing::Values(ModeCase{ServerMode::thread, "thread", 2, 2}), case_name);

}  // namespace
}  // namespace procspec

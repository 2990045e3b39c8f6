// The Server end to end in every mode and channel: a real server in a forked child, real TCP
// clients on 127.0.0.1, signals sent from here. Echo, large packets, connect/close events,
// graceful shutdown and process creation in a started master. (Worker death, reload and THREAD
// mode's faults: server_faults_test.cc; the fixture: support/server_modes_fixture.h.)
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "procspec/process.h"
#include "procspec/server.h"
#include "support/child.h"
#include "support/seed.h"
#include "support/server_modes_fixture.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using test::case_name;
using test::Client;
using test::count_lines;
using test::frame;
using test::ModeCase;
using test::note;
using test::ServerModes;

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

}  // namespace
}  // namespace procspec

// Which processes each reload signal replaces (SRV-11: SIGUSR1 every worker and task worker,
// SIGUSR2 task workers only), and the server over TCP6 (SRV-1). A real server in a forked child,
// real TCP clients, signals sent from here; workers report "worker_start ID PID" on the event pipe.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <string>

#include "procspec/server.h"
#include "support/server_modes_fixture.h"

namespace procspec {
namespace {

using test::case_name;
using test::Client;
using test::count_lines;
using test::ModeCase;
using test::ServerModes;

class ServerReload : public ServerModes {
 protected:
  static constexpr int kTaskWorker = 2;  // worker_num 2: the task worker's id

  // The next start of worker `id` with a pid other than `old_pid` (0 if none came in time).
  pid_t next_start_of(int id, pid_t old_pid) {
    for (;;) {
      const std::string line = wait_event("worker_start " + std::to_string(id) + " ");
      if (line.empty()) return 0;
      const pid_t pid = std::stoi(line.substr(line.rfind(' ') + 1));
      if (pid != old_pid) return pid;
    }
  }

  // Events not consumed by wait_event, with what stop() drained after them.
  std::string unconsumed(const std::string& drained) const {
    std::string out;
    for (const auto& line : lines_) {
      if (!line.empty()) out += line + "\n";
    }
    return out + pending_ + drained;
  }
};

TEST_P(ServerReload, SRV11_Sigusr2ReplacesOnlyTaskWorkersAndSigusr1ReplacesEveryWorker) {
  const int port = start([](Server& s, int) {
    if (auto st = s.set("task_worker_num", 1LL); !st) std::fprintf(stderr, "settings: %s\n", st.error().message.c_str());
    s.events().on_task = [](Server& srv, int, int, std::string_view data) { (void)srv.finish(data); };
  });
  ASSERT_GT(port, 0);
  std::map<int, pid_t> first;
  for (int id = 0; id <= kTaskWorker; ++id) {
    first[id] = next_start_of(id, 0);
    ASSERT_GT(first[id], 0) << "worker " << id << " never started";
  }

  ASSERT_EQ(::kill(server_pid_, SIGUSR2), 0);
  const pid_t task_after_usr2 = next_start_of(kTaskWorker, first[kTaskWorker]);
  ASSERT_GT(task_after_usr2, 0) << "SIGUSR2 did not replace the task worker";

  // SIGUSR1 then replaces all three; had SIGUSR2 replaced a worker too, that worker would start
  // once more than the two starts consumed here, and the leftover line fails the check below.
  ASSERT_EQ(::kill(server_pid_, SIGUSR1), 0);
  for (int id = 0; id <= kTaskWorker; ++id) {
    const pid_t before = id == kTaskWorker ? task_after_usr2 : first[id];
    EXPECT_GT(next_start_of(id, before), 0) << "SIGUSR1 did not replace worker " << id;
  }
  Client client(port);
  ASSERT_TRUE(client.send_packet("after both reloads"));
  EXPECT_EQ(client.read_packet(), "after both reloads");

  auto [status, drained] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
  const std::string rest = unconsumed(drained);
  EXPECT_EQ(count_lines(rest, "worker_start "), 0u) << "a worker started more often than the signals asked:\n" << rest;
}

INSTANTIATE_TEST_SUITE_P(ModesWithTaskWorkers, ServerReload,
                         testing::Values(ModeCase{ServerMode::base, "uds_dgram", 2, 1},
                                         ModeCase{ServerMode::process, "uds_dgram", 2, 2}),
                         case_name);

class ServerTcp6 : public ServerModes {};

TEST_P(ServerTcp6, SRV1_Tcp6ListensOnTheV6LoopbackAndServes) {
  host_ = "::1";
  sock_type_ = SockType::tcp6;
  const int port = start();
  ASSERT_GT(port, 0);
  Client a(port, true), b(port, true);
  ASSERT_TRUE(a.connected());
  ASSERT_TRUE(b.connected());
  ASSERT_TRUE(a.send_packet("over v6 a"));
  ASSERT_TRUE(b.send_packet(std::string(70000, 'b')));
  EXPECT_EQ(a.read_packet(), "over v6 a");
  EXPECT_EQ(b.read_packet(), std::string(70000, 'b'));
  Client v4(port);  // IPV6_V6ONLY: a TCP6 server does not answer on 127.0.0.1
  EXPECT_FALSE(v4.connected());
  auto [status, events] = stop();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0);
}

INSTANTIATE_TEST_SUITE_P(AllModes, ServerTcp6,
                         testing::Values(ModeCase{ServerMode::base, "uds_dgram", 2, 1},
                                         ModeCase{ServerMode::process, "uds_dgram", 2, 2},
                                         ModeCase{ServerMode::thread, "thread", 2, 2}),
                         case_name);

// start() opens the listener before anything forks, so a host of the wrong family fails there,
// in this process, naming the host.
TEST(ServerListen, SRV1_AHostOfTheWrongFamilyFailsTheStartNamingIt) {
  struct Case {
    const char* host;
    SockType type;
    const char* says;
  };
  for (const Case& c : {Case{"127.0.0.1", SockType::tcp6, "host '127.0.0.1' is not an IPv6 address"},
                        Case{"::1", SockType::tcp, "host '::1' is not an IPv4 address"},
                        Case{"localhost", SockType::tcp, "host 'localhost' is not an IPv4 address"}}) {
    auto server = Server::create(c.host, 0, ServerMode::base, c.type);
    ASSERT_TRUE(server) << server.error().message;
    (*server)->events().on_receive = [](Server&, std::uint64_t, int, std::string_view) {};
    auto st = (*server)->start();
    ASSERT_FALSE(st) << c.host;
    EXPECT_NE(st.error().message.find(c.says), std::string::npos) << st.error().message;
  }
}

}  // namespace
}  // namespace procspec

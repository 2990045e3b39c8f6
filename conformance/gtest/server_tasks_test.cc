// The server's inter-process services over real TCP (BASE and PROCESS modes): task workers (SRV-8),
// send_message (SRV-9), user processes (SRV-10), task results at shutdown (SRV-11).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include <algorithm>

#include "procspec/error.h"
#include "procspec/event_loop.h"
#include "procspec/role.h"
#include "procspec/signals.h"
#include "server_harness.h"
#include "server_tasks_app.h"
#include "support/leak_check.h"

namespace procspec::test {
namespace {

using namespace std::chrono_literals;

class ServerTasks : public LeakCheckedTest {
 protected:
  ServerTasks() { check_msg_queues_ = true; }
};

// The services in every mode that has worker processes.
class ServerServices : public ServerTasks, public ::testing::WithParamInterface<ServerMode> {
 protected:
  ServerMode mode() const { return GetParam(); }
};

class ServerTaskIpc : public ServerTasks, public ::testing::WithParamInterface<std::tuple<ServerMode, int>> {};

std::string mode_label(ServerMode m) { return m == ServerMode::base ? "base" : m == ServerMode::process ? "process" : "thread"; }

// Starts `server` set up by `setup` and connects one line client to it.
Result<LineClient> start_and_connect(ServerChild& server, const std::function<void(Server&)>& setup,
                                     ServerMode mode = ServerMode::base) {
  if (auto st = server.start(setup, mode); !st) return forward_error(std::move(st).error());
  return LineClient::connect(server.port());
}

TEST_P(ServerServices, SRV8_TaskResultReachesFinishInTheCallingWorker) {
  ServerChild server;
  auto c = start_and_connect(server, configure(2, 2), mode());
  ASSERT_TRUE(c) << c.error().message;
  auto me = c->call("id");
  ASSERT_TRUE(me);
  auto q = c->call("task hello");
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, "queued 0");  // task ids count per process from 0
  auto f = c->read_line();
  ASSERT_TRUE(f) << f.error().message;
  // Run by a task worker (ids 2..3), on behalf of this connection's worker.
  EXPECT_TRUE(f->rfind("finish 0 done:hello:by:", 0) == 0) << *f;
  EXPECT_NE(f->find(":from:" + *me + ":id:0"), std::string::npos) << *f;
  const int by = std::stoi(f->substr(f->find(":by:") + 4));
  EXPECT_GE(by, 2);
  EXPECT_LE(by, 3);
  auto st = server.stop();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
  EXPECT_EQ(st->signal, 0);
}

TEST_P(ServerServices, SRV8_TaskwaitReturnsTheResultOrTimesOutAndDropsTheLateResult) {
  ServerChild server;
  auto c = start_and_connect(server, configure(1, 1), mode());
  ASSERT_TRUE(c) << c.error().message;
  auto ok = c->call("wait 5000 quick");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->rfind("ok done:quick:by:1:from:0", 0) == 0) << *ok;
  // The only task worker sleeps 600 ms: a 150 ms taskwait times out.
  auto late = c->call("wait 150 sleep:600");
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->rfind("err timed_out taskwait: no result for task 1", 0) == 0) << *late;
  // The next taskwait gets its own result, never the late one of task 1.
  auto next = c->call("wait 5000 after");
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->rfind("ok done:after:", 0) == 0) << *next;
  EXPECT_NE(next->find(":id:2"), std::string::npos) << *next;
  // A task that returns without finish(): taskwait says so at once.
  auto none = c->call("wait 5000 nofinish");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->rfind("err payload_empty", 0) == 0) << *none;
  ASSERT_TRUE(server.stop());
}

TEST_P(ServerTaskIpc, SRV8_EveryTaskIpcModeDeliversAllResultsAndLargeBinaryTasks) {
  const int mode = std::get<1>(GetParam());
  ServerChild server;
  auto c = start_and_connect(server, configure(2, 2, mode), std::get<0>(GetParam()));
  ASSERT_TRUE(c) << c.error().message;
  constexpr int kTasks = 30;
  for (int i = 0; i < kTasks; ++i) ASSERT_TRUE(c->send_line("task t" + std::to_string(i)));
  std::set<std::string> finished;
  std::set<int> by;
  for (int i = 0; i < 2 * kTasks; ++i) {
    auto line = c->read_line();
    ASSERT_TRUE(line) << line.error().message << " after " << i << " lines";
    if (line->rfind("finish ", 0) != 0) continue;
    const auto done = line->find("done:");
    finished.insert(line->substr(done + 5, line->find(":by:") - done - 5));
    by.insert(std::stoi(line->substr(line->find(":by:") + 4)));
  }
  EXPECT_EQ(finished.size(), static_cast<std::size_t>(kTasks));
  for (int id : by) EXPECT_TRUE(id == 2 || id == 3) << id;
  // Larger than a datagram, a SysV message and the socket buffer; binary (with \0 and \n).
  auto big = c->call("big 1048576");
  ASSERT_TRUE(big);
  EXPECT_EQ(*big, "bigok 1048576");
  // Pipelined: the worker sends big tasks while the task workers send big results back, both
  // directions full at once; neither side may block the other forever.
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(c->send_line("big 200000"));
  for (int i = 0; i < 8; ++i) {
    auto line = c->read_line();
    ASSERT_TRUE(line) << line.error().message;
    EXPECT_EQ(*line, "bigok 200000");
  }
  auto bigwait = c->call("bigwait 300000");
  ASSERT_TRUE(bigwait);
  EXPECT_EQ(*bigwait, "bigok 300000");
  if (mode != 3) {  // an addressed task runs where it was sent (mode 3 ignores dst)
    ASSERT_TRUE(c->call("taskto 1 addressed"));
    auto f = c->read_line();
    ASSERT_TRUE(f);
    EXPECT_NE(f->find("done:addressed:by:3:"), std::string::npos) << *f;
  }
  auto st = server.stop();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerTaskIpc,
                         ::testing::Combine(::testing::Values(ServerMode::base, ServerMode::process), ::testing::Values(1, 2, 3)),
                         [](const auto& p) {
                           return mode_label(std::get<0>(p.param)) + "_task_ipc_mode_" + std::to_string(std::get<1>(p.param));
                         });

TEST_F(ServerTasks, SRV8_TaskArgumentErrorsNameTheCause) {
  ServerChild server;
  auto c = start_and_connect(server, configure(1, 2));
  ASSERT_TRUE(c) << c.error().message;
  auto bad = c->call("taskto 2 x");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("dst_worker_id 2 must be -1 or less than task_worker_num 2"), std::string::npos) << *bad;
  ASSERT_TRUE(server.stop());
}

TEST_P(ServerServices, SRV9_SendMessageReachesOtherWorkersAndTaskWorkers) {
  ServerChild server;
  auto c = start_and_connect(server, configure(2, 1), mode());
  ASSERT_TRUE(c) << c.error().message;
  auto me = c->call("id");
  ASSERT_TRUE(me);
  const int self = std::stoi(*me);
  const int other = 1 - self;
  for (int dst : {other, 2}) {  // the other worker, then the task worker (id worker_num + 0)
    auto sent = c->call("msg " + std::to_string(dst) + " ping:hi" + std::to_string(dst));
    ASSERT_TRUE(sent);
    EXPECT_EQ(*sent, "sent");
    auto pong = c->read_line();
    ASSERT_TRUE(pong) << pong.error().message;
    EXPECT_EQ(*pong, "pong hi" + std::to_string(dst) + ":" + std::to_string(dst) + " from " + std::to_string(dst));
  }
  auto to_self = c->call("msg " + *me + " ping:x");
  ASSERT_TRUE(to_self);
  EXPECT_NE(to_self->find("cannot send a message to itself"), std::string::npos) << *to_self;
  auto missing = c->call("msg 3 ping:x");  // 2 workers + 1 task worker: no id 3
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("worker_id 3 is invalid"), std::string::npos) << *missing;
  ASSERT_TRUE(server.stop());
}

// Reports its pid and id to every worker once started.
class Reporter final : public UserProcess {
 public:
  explicit Reporter(Server& s) : UserProcess("reporter"), server_(s) {}

 protected:
  void run() override {
    for (int w = 0; w < server_.settings().worker_num; ++w) {
      (void)server_.send_message("user:" + std::to_string(::getpid()) + ":" + std::to_string(id()), w);
    }
  }

 private:
  Server& server_;
};

Result<std::string> poll_users(LineClient& c, const std::string& not_this) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    auto u = c.call("users");
    if (!u) return u;
    if (*u != "none" && *u != not_this) return u;
    std::this_thread::sleep_for(20ms);
  }
  return fail(std::make_error_code(std::errc::timed_out), "no user process report in 10 s");
}

TEST_F(ServerTasks, SRV10_UserProcessSendsMessagesAndIsRestartedAfterKill) {
  // spec: SRV-9 SRV-BASE-1
  ServerChild server;
  auto c = start_and_connect(server, [](Server& s) {
    configure(1, 1)(s);
    ASSERT_TRUE(s.add_process([&s]() -> std::unique_ptr<UserProcess> { return std::make_unique<Reporter>(s); }));
  });
  ASSERT_TRUE(c) << c.error().message;
  auto mgr = c->call("mgr");  // a user process forces a manager even with one worker
  ASSERT_TRUE(mgr);
  EXPECT_EQ(*mgr, std::to_string(server.pid()));
  auto first = poll_users(*c, "");
  ASSERT_TRUE(first) << first.error().message;
  const pid_t pid = std::stoi(*first);
  EXPECT_EQ(first->substr(first->find(':') + 1), "2");  // id = worker_num + task_worker_num + 0
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto second = poll_users(*c, *first);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NE(std::stoi(*second), pid);
  auto st = server.stop();  // the user process is stopped with the server (POOL-13)
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
}

// Starts `server` with configure(1, 1), g_report_fd set to a pipe, then `extra`; returns the
// pipe's read end, where whatever the server's processes write to g_report_fd arrives.
Result<UniqueFd> start_reporting(ServerChild& server, const std::function<void(Server&)>& extra,
                                 ServerMode mode = ServerMode::base) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return sys_fail(errno, "pipe2");
  UniqueFd rd(p[0]), wr(p[1]);
  auto started = server.start([&](Server& s) {
    configure(1, 1)(s);
    g_report_fd = wr.get();
    if (extra) extra(s);
  }, mode);
  if (!started) return forward_error(std::move(started).error());
  return rd;  // wr closes here: the server's processes hold the only write ends
}

TEST_P(ServerServices, SRV10_CallableUserProcessCanSendTasks) {
  ServerChild server;
  auto report = start_reporting(server, [](Server& s) {
    // A task from a user process takes no result; its on_task reports through the pipe instead.
    s.events().on_task = [](Server& srv, int, int src, std::string_view data) {
      const std::string text = std::string(data) + " from " + std::to_string(src) + " finish=" +
                               (srv.finish("x") ? "ok" : "refused") + "\n";
      (void)!::write(g_report_fd, text.data(), text.size());
    };
    ASSERT_TRUE(s.add_process([](Server& srv) { (void)srv.task("from-user"); }));
  }, mode());
  ASSERT_TRUE(report) << report.error().message;
  auto got = read_with_deadline(report->get(), 4096, 10s);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->substr(0, got->find('\n')), "from-user from 2 finish=refused");
  auto st = server.stop();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
}

TEST_P(ServerServices, SRV11_OutstandingTaskResultsReachFinishAtShutdown) {
  ServerChild server;
  auto report = start_reporting(server, {}, mode());
  ASSERT_TRUE(report) << report.error().message;
  auto c = LineClient::connect(server.port());
  ASSERT_TRUE(c);
  auto q = c->call("task sleep:500");
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, "queued 0");
  // SIGTERM while the task runs: the worker waits for the result and Finish runs.
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  auto reported = read_with_deadline(report->get(), 4096, 10s);
  ASSERT_TRUE(reported);
  EXPECT_TRUE(reported->rfind("finish 0 done:sleep:500:", 0) == 0) << *reported;
  if (mode() == ServerMode::base) {
    // BASE: the worker owns the connection and keeps it open until the result is in, so
    // Finish's answer reaches the client before the close. (PROCESS: the master closes the
    // connections at shutdown without waiting for the workers' late answers.)
    auto f = c->read_line();
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_TRUE(f->rfind("finish 0 done:sleep:500:", 0) == 0) << *f;
    auto eof = c->read_line();
    EXPECT_FALSE(eof);
  }
  auto st = server.stop();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
}

TEST_F(ServerTasks, SIG2_TaskWorkersHaveTheirRoleAndRefuseSigterm) {
  // spec: SRV-8 SIG-5
  ServerChild server;
  auto report = start_reporting(server, [](Server& s) {
    s.events().on_worker_start = [](Server& srv, int id) {
      if (id < srv.settings().worker_num) return;
      const auto st = Signals::set(SIGTERM, [](int) {});
      const std::string text = std::string(role_name(current_role())) + " " + std::to_string(id) + " " +
                               (st ? "allowed" : "refused") + "\n";
      (void)!::write(g_report_fd, text.data(), text.size());
    };
    // A user process may take SIGTERM (its handler replaces the default stop); it then exits
    // when its handler says so.
    ASSERT_TRUE(s.add_process([](Server&) {
      const auto st = Signals::set(SIGTERM, [](int) { EventLoop::current()->stop(); });
      const std::string text = std::string(role_name(current_role())) + " " + (st ? "allowed" : "refused") + "\n";
      (void)!::write(g_report_fd, text.data(), text.size());
    }));
  });
  ASSERT_TRUE(report) << report.error().message;
  std::string all;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::count(all.begin(), all.end(), '\n') < 2 && std::chrono::steady_clock::now() < until) {
    auto got = read_with_deadline(report->get(), 4096, 10s);
    if (!got || got->empty()) break;
    all += *got;
  }
  EXPECT_NE(all.find("task_worker 1 refused\n"), std::string::npos) << all;
  EXPECT_NE(all.find("user allowed\n"), std::string::npos) << all;
  auto st = server.stop();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServerServices, ::testing::Values(ServerMode::base, ServerMode::process),
                         [](const auto& p) { return mode_label(p.param); });

TEST_F(ServerTasks, SRV8_ThreadModeRefusesTaskWorkersAndUserProcessesAtStart) {
  for (bool with_process : {false, true}) {
    auto server = Server::create("127.0.0.1", 0, ServerMode::thread);
    ASSERT_TRUE(server);
    Server& s = **server;
    s.events().on_receive = [](Server&, std::uint64_t, int, std::string_view) {};
    s.events().on_task = [](Server&, int, int, std::string_view) {};
    if (with_process) {
      ASSERT_TRUE(s.add_process([](Server&) {}));
    } else {
      ASSERT_TRUE(s.set("task_worker_num", 1LL));
    }
    auto st = s.start();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, errc::invalid_setting);
    EXPECT_NE(st.error().message.find("THREAD mode"), std::string::npos) << st.error().message;
  }
}

TEST_F(ServerTasks, SRV8_TaskWorkersNeedTheTaskEvent) {
  auto server = Server::create("127.0.0.1", 0, ServerMode::base);
  ASSERT_TRUE(server);
  Server& s = **server;
  s.events().on_receive = [](Server&, std::uint64_t, int, std::string_view) {};
  ASSERT_TRUE(s.set("task_worker_num", 1LL));
  auto st = s.start();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("on_task"), std::string::npos) << st.error().message;
}

TEST_F(ServerTasks, SRV8_ApiOutsideAWorkerIsARoleError) {
  auto server = Server::create("127.0.0.1", 0, ServerMode::base);
  ASSERT_TRUE(server);
  auto t = (*server)->task("x");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, errc::wrong_role);
  EXPECT_EQ((*server)->finish("x").error().code, errc::wrong_role);
  EXPECT_EQ((*server)->send_message("x", 0).error().code, errc::wrong_role);
}

}  // namespace
}  // namespace procspec::test

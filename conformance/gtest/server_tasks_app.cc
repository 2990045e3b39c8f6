// The test server of server_tasks_test: a line protocol whose commands exercise task, taskwait,
// send_message and user processes; every answer goes back to the client (or to g_report_fd).
#include "server_tasks_app.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <thread>

namespace procspec::test {
namespace {

// Per worker process (each has its own copy after fork).
std::map<int, std::uint64_t> g_task_client;  // task id -> client session
std::map<int, std::string> g_big_expected;   // task id -> payload a big task must echo
std::uint64_t g_last_client = 0;
std::string g_last_user = "none";

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 256);  // has \0 and \n
  return s;
}

std::string err_text(const Error& e) {
  if (e.code == std::errc::timed_out) return "err timed_out " + e.message;
  if (e.code == errc::payload_empty) return "err payload_empty " + e.message;
  return "err " + e.message;
}

// The command language of the test server (one line per request; see each branch).
void on_receive(Server& s, std::uint64_t fd, std::string_view packet) {
  g_last_client = fd;
  std::string line(packet);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  auto reply = [&](const std::string& text) { (void)s.send(fd, text + "\n"); };
  if (cmd == "id") return reply(std::to_string(s.worker_id()));
  if (cmd == "mgr") return reply(std::to_string(s.manager_pid()));
  if (cmd == "users") return reply(g_last_user);
  if (cmd == "task" || cmd == "taskto") {
    int dst = -1;
    if (cmd == "taskto") in >> dst;
    std::string data;
    in >> data;
    auto id = s.task(data, dst);
    if (!id) return reply(err_text(id.error()));
    g_task_client[*id] = fd;
    return reply("queued " + std::to_string(*id));
  }
  if (cmd == "big" || cmd == "bigwait") {
    std::size_t n = 0;
    in >> n;
    std::string data = pattern(n);
    if (cmd == "bigwait") {
      auto r = s.taskwait(data, 10);
      if (!r) return reply(err_text(r.error()));
      return reply(*r == data ? "bigok " + std::to_string(n) : "bigbad " + std::to_string(r->size()));
    }
    auto id = s.task(data);
    if (!id) return reply(err_text(id.error()));
    g_task_client[*id] = fd;
    g_big_expected[*id] = std::move(data);
    return;  // answered by on_finish
  }
  if (cmd == "wait") {
    int ms = 0;
    std::string data;
    in >> ms >> data;
    auto r = s.taskwait(data, ms / 1000.0);
    return reply(r ? "ok " + *r : err_text(r.error()));
  }
  if (cmd == "msg") {
    int dst = 0;
    std::string text;
    in >> dst >> text;
    auto st = s.send_message(text, dst);
    return reply(st ? "sent" : err_text(st.error()));
  }
  reply("unknown " + cmd);
}

void on_task(Server& s, int task_id, int src, std::string_view data) {
  if (data.size() > 1000) {
    (void)s.finish(data);  // big tasks echo their payload
    return;
  }
  std::string d(data);
  if (d.rfind("sleep:", 0) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(d.substr(6))));
  }
  if (d == "nofinish") return;
  (void)s.finish("done:" + d + ":by:" + std::to_string(s.worker_id()) + ":from:" + std::to_string(src) + ":id:" +
                 std::to_string(task_id));
}

void on_finish(Server& s, int task_id, std::string_view result) {
  auto it = g_task_client.find(task_id);
  if (it == g_task_client.end()) return;
  std::string text;
  if (auto big = g_big_expected.find(task_id); big != g_big_expected.end()) {
    text = result == big->second ? "bigok " + std::to_string(result.size()) : "bigbad " + std::to_string(result.size());
    g_big_expected.erase(big);
  } else {
    text = "finish " + std::to_string(task_id) + " " + std::string(result);
  }
  if (g_report_fd >= 0) (void)!::write(g_report_fd, (text + "\n").data(), text.size() + 1);
  (void)s.send(it->second, text + "\n");
  g_task_client.erase(it);
}

void on_pipe_message(Server& s, int src, std::string_view message) {
  std::string m(message);
  if (m.rfind("ping:", 0) == 0) {
    (void)s.send_message("pong:" + m.substr(5) + ":" + std::to_string(s.worker_id()), src);
  } else if (m.rfind("pong:", 0) == 0) {
    (void)s.send(g_last_client, "pong " + m.substr(5) + " from " + std::to_string(src) + "\n");
  } else if (m.rfind("user:", 0) == 0) {
    g_last_user = m.substr(5);
  }
}

}  // namespace

int g_report_fd = -1;

std::function<void(Server&)> configure(int workers, int task_workers, int ipc_mode) {
  return [=](Server& s) {
    if (auto st = s.set({{"worker_num", workers}, {"task_worker_num", task_workers}, {"task_ipc_mode", ipc_mode}}); !st) {
      std::fprintf(stderr, "test server: %s\n", st.error().message.c_str());
      ::_exit(12);  // in the server child: start() is never reached, the test sees no port
    }
    s.events().on_receive = [](Server& srv, std::uint64_t fd, int, std::string_view p) { on_receive(srv, fd, p); };
    s.events().on_task = on_task;
    s.events().on_finish = on_finish;
    s.events().on_pipe_message = on_pipe_message;
  };
}


}  // namespace procspec::test

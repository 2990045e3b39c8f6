// kv_server: a tiny key-value service on procspec::Server (BASE mode) showing task workers.
//
//   kv_server [--port N] [--workers N] [--log FILE]      prints "listening PORT", stops on SIGTERM
//
// Protocol: length-framed TCP, each frame = 4-byte big-endian length + body.
//   "SET <key> <value>" -> "OK"         "GET <key>" -> "VALUE <value>" or "NOT_FOUND"
// The store lives in the single task worker, so every event worker sees the same data:
//   - SET is handed over with task(); the task worker applies it, appends it to the log file
//     (persistence) and finish()es; on_finish in the event worker answers the client "OK" only
//     then, so an acknowledged write is on disk (and graceful shutdown still answers it, SRV-11);
//   - GET uses taskwait(): simpler code, the worker blocks for at most 1 s.
// On start the task worker replays the log, so data survives a restart.
#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

#include "procspec/server.h"

namespace {

using procspec::Server;

// Task worker state.
std::map<std::string, std::string> g_store;
std::string g_log_path = "kv_server.log";
// Event worker state: which client waits for which SET.
std::map<int, std::uint64_t> g_pending_set;

std::string frame(std::string_view body) {
  const std::uint32_t n = htonl(static_cast<std::uint32_t>(body.size()));
  std::string out(reinterpret_cast<const char*>(&n), 4);
  out.append(body);
  return out;
}

// Task payload: op byte, 4-byte key length, key, value (binary-safe).
std::string encode(char op, std::string_view key, std::string_view value = {}) {
  const auto n = static_cast<std::uint32_t>(key.size());
  std::string out(1, op);
  out.append(reinterpret_cast<const char*>(&n), 4);
  out.append(key);
  out.append(value);
  return out;
}

bool decode(std::string_view in, char& op, std::string_view& key, std::string_view& value) {
  if (in.size() < 5) return false;
  std::uint32_t n = 0;
  std::memcpy(&n, in.data() + 1, 4);
  if (in.size() < 5 + static_cast<std::size_t>(n)) return false;
  op = in[0];
  key = in.substr(5, n);
  value = in.substr(5 + n);
  return true;
}

void replay_log() {
  std::ifstream log(g_log_path, std::ios::binary);
  std::uint32_t size = 0;
  while (log.read(reinterpret_cast<char*>(&size), 4)) {
    std::string record(size, '\0');
    if (!log.read(record.data(), size)) break;
    char op = 0;
    std::string_view key, value;
    if (decode(record, op, key, value) && op == 'S') g_store[std::string(key)] = value;
  }
}

void on_task(Server& server, int, int, std::string_view data) {
  char op = 0;
  std::string_view key, value;
  if (!decode(data, op, key, value)) {
    (void)server.finish("ERR bad task");
    return;
  }
  if (op == 'G') {
    auto it = g_store.find(std::string(key));
    (void)server.finish(it == g_store.end() ? std::string("NOT_FOUND") : "VALUE " + it->second);
    return;
  }
  g_store[std::string(key)] = value;
  std::ofstream log(g_log_path, std::ios::binary | std::ios::app);
  const auto size = static_cast<std::uint32_t>(data.size());
  log.write(reinterpret_cast<const char*>(&size), 4).write(data.data(), static_cast<std::streamsize>(data.size()));
  log.flush();
  (void)server.finish(log ? "OK" : "ERR log write failed");
}

void on_receive(Server& server, std::uint64_t fd, int, std::string_view packet) {
  const std::string_view body = packet.substr(4);
  const auto sp1 = body.find(' ');
  const std::string_view cmd = body.substr(0, sp1);
  const std::string_view rest = sp1 == std::string_view::npos ? std::string_view{} : body.substr(sp1 + 1);
  if (cmd == "GET") {
    auto r = server.taskwait(encode('G', rest), 1.0);
    (void)server.send(fd, frame(r ? *r : "ERR " + r.error().message));
  } else if (cmd == "SET") {
    const auto sp2 = rest.find(' ');
    if (sp2 == std::string_view::npos) {
      (void)server.send(fd, frame("ERR usage: SET key value"));
      return;
    }
    auto id = server.task(encode('S', rest.substr(0, sp2), rest.substr(sp2 + 1)));
    if (!id) {
      (void)server.send(fd, frame("ERR " + id.error().message));
      return;
    }
    g_pending_set[*id] = fd;  // answered by on_finish once the write is logged
  } else {
    (void)server.send(fd, frame("ERR unknown command"));
  }
}

void on_finish(Server& server, int task_id, std::string_view result) {
  auto it = g_pending_set.find(task_id);
  if (it == g_pending_set.end()) return;
  (void)server.send(it->second, frame(result));
  g_pending_set.erase(it);
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0, workers = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    if (k == "--port") port = std::strtol(argv[i + 1], nullptr, 10);
    else if (k == "--workers") workers = std::strtol(argv[i + 1], nullptr, 10);
    else if (k == "--log") g_log_path = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: kv_server [--port N] [--workers N] [--log FILE]\n");
      return 2;
    }
  }
  auto created = Server::create("127.0.0.1", static_cast<int>(port), procspec::ServerMode::base);
  if (!created) {
    std::fprintf(stderr, "kv_server: %s\n", created.error().message.c_str());
    return 1;
  }
  Server& server = **created;
  auto st = server.set({{"worker_num", static_cast<long long>(workers)},
                        {"task_worker_num", 1LL},  // one owner of the store: no locking needed
                        {"open_length_check", true},
                        {"package_length_type", std::string("N")},
                        {"package_length_offset", 0LL},
                        {"package_body_offset", 4LL},
                        {"package_max_length", 1024LL * 1024}});
  if (!st) {
    std::fprintf(stderr, "kv_server: %s\n", st.error().message.c_str());
    return 1;
  }
  auto& ev = server.events();
  ev.on_start = [](Server& s) {
    std::printf("listening %d\n", s.port());
    std::fflush(stdout);
  };
  ev.on_worker_start = [](Server& s, int id) {
    if (id >= s.settings().worker_num) replay_log();  // the task worker owns the store
  };
  ev.on_receive = on_receive;
  ev.on_task = on_task;
  ev.on_finish = on_finish;
  st = server.start();
  if (!st) {
    std::fprintf(stderr, "kv_server: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

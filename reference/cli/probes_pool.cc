// Probes for SPEC POOL (IUT table): pool-restart, pool-shutdown, pool-send-missing. Each probe
// forks a child that becomes the pool's manager, watches it through the shared worker table
// and stops it with SIGTERM, so the driver process itself never changes its signal mask.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "json.h"
#include "probe.h"
#include "procspec/log.h"
#include "procspec/pool.h"

namespace procspec::cli {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

template <class T>
T* shared_object() {
  void* mem = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return mem == MAP_FAILED ? nullptr : new (mem) T();
}

// Forks the manager; returns its pid (the child never returns).
pid_t fork_manager(Pool& pool) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    Status st = pool.start();
    std::fflush(nullptr);
    ::_exit(st ? 0 : 1);
  }
  return pid;
}

// SIGTERM, bounded wait, SIGKILL as a last resort; returns the wait status.
int stop_manager(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  if (!eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 15s)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  return status;
}

bool is_zombie(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

[[noreturn]] void idle_forever() {
  for (;;) ::pause();
}

int fail_probe(const char* what) {
  std::fprintf(stderr, "probe: %s\n", what);
  return 1;
}

// POOL-3: SIGKILL worker 0; the manager restarts it with the same id and a new pid.
int pool_restart(const Args&) {
  auto* started = shared_object<std::atomic<int>>();
  auto pool = Pool::create({.worker_num = 1});
  if (!pool || !started) return fail_probe("Pool::create");
  (void)(*pool)->on_worker_start([started](Pool&, int) {
    (*started)++;
    idle_forever();
  });
  const pid_t manager = fork_manager(**pool);
  if (!eventually([&] { return started->load() == 1 && (*pool)->get_process(0); })) return fail_probe("no worker");
  const pid_t old_pid = *(*pool)->get_process(0);
  ::kill(old_pid, SIGKILL);
  const bool replaced = eventually([&] {
    auto p = (*pool)->get_process(0);
    return p && *p != old_pid && started->load() == 2;
  });
  const pid_t new_pid = replaced ? *(*pool)->get_process(0) : 0;
  const int exit_signal = (*pool)->worker_info(0)->last_signal;
  stop_manager(manager);
  JsonLine().add("id", 0).add("old_pid", static_cast<long long>(old_pid)).add("new_pid", static_cast<long long>(new_pid))
      .add("exit_signal", exit_signal).print();
  return 0;
}

// POOL-4: SIGTERM to a manager of N workers; all reaped, Shutdown ran, no zombie left.
int pool_shutdown(const Args& args) {
  long long n = 0;
  if (args.size() != 1 || !parse_int(args[0], n) || n < 1 || n > 64) return usage("probe pool-shutdown N (1..64)");
  struct Shared {
    std::atomic<int> started, shutdown_ran;
  };
  auto* s = shared_object<Shared>();
  auto pool = Pool::create({.worker_num = static_cast<int>(n)});
  if (!pool || !s) return fail_probe("Pool::create");
  (void)(*pool)->on_worker_start([s](Pool&, int) {
    s->started++;
    idle_forever();
  });
  (void)(*pool)->on_shutdown([s](Pool&) { s->shutdown_ran = 1; });
  const pid_t manager = fork_manager(**pool);
  auto all_known = [&] {
    for (int i = 0; i < n; ++i) {
      if (!(*pool)->get_process(i)) return false;
    }
    return true;
  };
  // The manager records a pid right after fork, which may be after the child already started.
  if (!eventually([&] { return s->started.load() == n && all_known(); })) return fail_probe("workers did not start");
  std::vector<pid_t> workers;
  for (int i = 0; i < n; ++i) workers.push_back(*(*pool)->get_process(i));
  stop_manager(manager);
  int reaped = 0, zombies = 0;
  for (pid_t w : workers) {
    if (is_zombie(w)) ++zombies;
    else if (gone(w)) ++reaped;
  }
  JsonLine().add("reaped", reaped).add("zombies", zombies).add("shutdown_ran", s->shutdown_ran.load() == 1).print();
  return 0;
}

// POOL-6: send_message to worker 99 from a worker is an error, and the caller lives on.
int pool_send_missing(const Args&) {
  struct Shared {
    std::atomic<int> done, ok, alive;
  };
  auto* s = shared_object<Shared>();
  auto pool = Pool::create({.worker_num = 2, .ipc = PoolIpc::unixsock});
  if (!pool || !s) return fail_probe("Pool::create");
  (void)(*pool)->on_worker_start([s](Pool& p, int id) {
    if (id != 0) return;
    LogCapture quiet;  // the error is returned, not printed
    Status st = p.send_message("x", 99);
    s->ok = st ? 1 : 0;
    s->alive = ::kill(::getpid(), 0) == 0 ? 1 : 0;
    s->done = 1;
  });
  (void)(*pool)->on_message([](Pool&, std::string_view) {});
  const pid_t manager = fork_manager(**pool);
  const bool done = eventually([&] { return s->done.load() == 1; });
  stop_manager(manager);
  JsonLine().add("ok", s->ok.load() == 1).add("caller_alive", done && s->alive.load() == 1).print();
  return 0;
}

const ProbeRegistrar reg_restart{"pool-restart", &pool_restart};
const ProbeRegistrar reg_shutdown{"pool-shutdown", &pool_shutdown};
const ProbeRegistrar reg_send_missing{"pool-send-missing", &pool_send_missing};

}  // namespace
}  // namespace procspec::cli

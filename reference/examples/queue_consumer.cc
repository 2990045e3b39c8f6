// queue_consumer: a multi-process consumer of a SysV message queue built on procspec::Pool —
// the long-running queue worker that Process\Pool is used for.
//
//   queue_consumer run KEY [WORKERS] [WORK_MS]   consume jobs until SIGTERM or Ctrl-C
//   queue_consumer send KEY COUNT [FIRST]         queue jobs "job:FIRST" .. "job:FIRST+COUNT-1"
//
// Output, one event per line (for scripts and tests):
//   manager PID | worker ID PID started | done JOB worker ID PID | exit worker ID PID code C signal S
//   requeued JOB | stopped done N
// Jobs survive a worker's kill -9: every job still queued is taken by another worker or by the
// replacement, and the job the killed worker was holding is put back in the queue by the
// manager (each worker notes its current job in shared memory; the manager reads the note when
// it sees the worker die). Delivery is therefore at least once: a worker killed after printing
// "done" but before clearing its note has its job run again. The one gap is the few
// instructions between msgrcv() returning and the note being written.
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "procspec/pool.h"

namespace {

constexpr int kMaxWorkers = 64;
constexpr std::size_t kJobText = 64;

struct Journal {
  std::atomic<long> done{0};
  char current[kMaxWorkers][kJobText];  // the job each worker holds; "" when idle
};

struct JobMsg {
  long mtype;
  char text[kJobText];
};

bool parse_long(const char* s, long& out) {
  char* end = nullptr;
  out = std::strtol(s, &end, 0);
  return end && *end == '\0' && end != s;
}

bool enqueue(int qid, const std::string& job) {
  JobMsg m{1, {}};
  std::memcpy(m.text, job.data(), std::min(job.size(), kJobText));
  while (::msgsnd(qid, &m, std::min(job.size(), kJobText), 0) != 0) {
    if (errno != EINTR) return false;
  }
  return true;
}

int send_jobs(key_t key, long count, long first) {
  const int qid = ::msgget(key, IPC_CREAT | 0600);
  if (qid < 0) {
    std::perror("msgget");
    return 1;
  }
  for (long i = first; i < first + count; ++i) {
    if (!enqueue(qid, "job:" + std::to_string(i))) {
      std::perror("msgsnd");
      return 1;
    }
  }
  return 0;
}

int run_consumer(key_t key, int workers, long work_ms) {
  void* mem = ::mmap(nullptr, sizeof(Journal), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 1;
  auto* journal = new (mem) Journal();

  procspec::PoolOptions options;
  options.worker_num = workers;
  options.ipc = procspec::PoolIpc::msgqueue;
  options.msgqueue_key = key;
  options.stop_signals = {SIGINT};  // Ctrl-C stops the pool as cleanly as SIGTERM
  auto created = procspec::Pool::create(options);
  if (!created) {
    std::fprintf(stderr, "queue_consumer: %s\n", created.error().message.c_str());
    return 1;
  }
  procspec::Pool& pool = **created;

  (void)pool.on_start([](procspec::Pool&) { std::printf("manager %d\n", static_cast<int>(::getpid())); });
  (void)pool.on_worker_start([](procspec::Pool&, int id) {
    // Ctrl-C reaches the whole process group: the manager alone decides how workers stop.
    ::signal(SIGINT, SIG_IGN);
    std::printf("worker %d %d started\n", id, static_cast<int>(::getpid()));
  });
  (void)pool.on_message([journal, work_ms](procspec::Pool& p, std::string_view job) {
    char* note = journal->current[p.worker_id()];
    std::memcpy(note, job.data(), std::min(job.size(), kJobText - 1));
    note[std::min(job.size(), kJobText - 1)] = '\0';
    if (work_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(work_ms));
    std::printf("done %s worker %d %d\n", note + 4, p.worker_id(), static_cast<int>(::getpid()));
    journal->done++;
    note[0] = '\0';
  });
  (void)pool.on_worker_error([journal](procspec::Pool& p, const procspec::WorkerExit& e) {
    std::printf("exit worker %d %d code %d signal %d\n", e.worker_id, static_cast<int>(e.pid), e.exit_code, e.signal);
    char* note = journal->current[e.worker_id];
    if (note[0] != '\0' && enqueue(p.msgqueue_id(), note)) std::printf("requeued %s\n", note + 4);
    note[0] = '\0';
  });
  (void)pool.on_shutdown([journal](procspec::Pool&) { std::printf("stopped done %ld\n", journal->done.load()); });

  procspec::Status st = pool.start();
  if (!st) {
    std::fprintf(stderr, "queue_consumer: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: queue_consumer run KEY [WORKERS=2] [WORK_MS=0]\n"
               "       queue_consumer send KEY COUNT [FIRST=0]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 3) return usage();
  long key = 0;
  if (!parse_long(argv[2], key) || key == 0) return usage();
  const std::string verb = argv[1];
  if (verb == "run") {
    long workers = 2, work_ms = 0;
    if (argc > 3 && (!parse_long(argv[3], workers) || workers < 1 || workers > kMaxWorkers)) return usage();
    if (argc > 4 && (!parse_long(argv[4], work_ms) || work_ms < 0)) return usage();
    return run_consumer(static_cast<key_t>(key), static_cast<int>(workers), work_ms);
  }
  if (verb == "send") {
    long count = 0, first = 0;
    if (argc < 4 || !parse_long(argv[3], count) || count < 0) return usage();
    if (argc > 4 && !parse_long(argv[4], first)) return usage();
    return send_jobs(static_cast<key_t>(key), count, first);
  }
  return usage();
}

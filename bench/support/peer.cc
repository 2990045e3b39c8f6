#include "support/peer.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <new>
#include <thread>

#include "base/after_fork.h"
#include "procspec/unique_fd.h"
#include "support/cpu.h"

namespace procspec::bench {
namespace {

std::atomic<bool> g_interrupt_pending{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_interrupt(int) { g_interrupt_pending.store(true, std::memory_order_relaxed); }

// SIGUSR1 only interrupts (no SA_RESTART): a blocking call in the benchmark thread returns EINTR.
void install_interrupt_handler() {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = &on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    return ::sigaction(SIGUSR1, &sa, nullptr) == 0;
  }();
  (void)installed;
}

// A page shared across fork holding the stop flag (an anonymous MAP_SHARED mapping survives fork).
struct SharedStop {
  std::atomic<bool> stop{false};
};

SharedStop* map_stop() {
  void* p = ::mmap(nullptr, sizeof(SharedStop), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return new (p) SharedStop;
}

bool read_full(int fd, void* buf, std::size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

struct Peer::Impl {
  SharedStop* shared = nullptr;
  // fork
  pid_t pid = -1;
  UniqueFd report_fd;
  UniqueFd wake_fd;  // eventfd: tells the watchdog the benchmark side is done
  std::atomic<bool> stopping{false};
  std::jthread watchdog;
  // thread
  std::jthread worker;
  std::future<PeerReport> result;
  std::function<void()> unblock;
  bool joined = false;

  ~Impl() {
    stop_watchdog();
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int st = 0;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    }
    if (worker.joinable()) {
      if (shared) shared->stop.store(true);
      if (!joined && unblock) unblock();
      worker.join();
    }
    if (shared) ::munmap(shared, sizeof(SharedStop));
    unpin_current_thread();
  }

  void stop_watchdog() noexcept {
    stopping.store(true);
    if (wake_fd) {
      std::uint64_t one = 1;
      (void)!::write(wake_fd.get(), &one, sizeof one);
    }
    if (watchdog.joinable()) watchdog.join();
  }
};

Peer::Peer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Peer::Peer(Peer&&) noexcept = default;
Peer& Peer::operator=(Peer&&) noexcept = default;
Peer::~Peer() = default;

Result<Peer> Peer::fork(Body body, const std::function<void()>& in_child) {
  install_interrupt_handler();
  g_interrupt_pending.store(false);
  auto impl = std::make_unique<Impl>();
  impl->shared = map_stop();
  if (!impl->shared) return sys_fail(errno, "mmap stop flag");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sys_fail(errno, "pipe2 report");
  UniqueFd rd(fds[0]), wr(fds[1]);
  impl->wake_fd.reset(::eventfd(0, EFD_CLOEXEC));
  if (!impl->wake_fd) return sys_fail(errno, "eventfd");
  const CpuPlan& plan = cpu_plan();
  if (plan.pin) pin_current_thread(plan.self_cpu);

  pid_t pid = ::fork();
  if (pid < 0) return sys_fail(errno, "fork peer");
  if (pid == 0) {
    procspec::detail::run_after_fork_child_hooks();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) ::_exit(1);
    if (plan.pin) pin_current_thread(plan.peer_cpu);
    rd.reset();
    in_child();
    PeerReport report = body(impl->shared->stop);
    report.cpu = ::sched_getcpu();
    (void)!::write(wr.get(), &report, sizeof report);
    ::_exit(0);
  }
  impl->pid = pid;
  wr.reset();
  impl->report_fd = std::move(rd);

  // The watchdog sleeps until the peer ends (its report pipe turns readable or hangs up) or the
  // benchmark side is done; if the peer ended first, it interrupts the benchmark thread until
  // that thread notices and calls request_stop().
  Impl* self = impl.get();
  pthread_t bench_thread = ::pthread_self();
  impl->watchdog = std::jthread([self, bench_thread] {
    pollfd p[2] = {{self->report_fd.get(), POLLIN, 0}, {self->wake_fd.get(), POLLIN, 0}};
    while (::poll(p, 2, -1) < 0 && errno == EINTR) {}
    while (!self->stopping.load()) {
      ::pthread_kill(bench_thread, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  return Peer(std::move(impl));
}

Result<Peer> Peer::thread(Body body, std::function<void()> unblock) {
  auto impl = std::make_unique<Impl>();
  impl->shared = map_stop();
  if (!impl->shared) return sys_fail(errno, "mmap stop flag");
  impl->unblock = std::move(unblock);
  std::packaged_task<PeerReport()> task([body = std::move(body), shared = impl->shared] {
    const CpuPlan& plan = cpu_plan();
    if (plan.pin) pin_current_thread(plan.peer_cpu);
    PeerReport r = body(shared->stop);
    r.cpu = ::sched_getcpu();
    return r;
  });
  impl->result = task.get_future();
  const CpuPlan& plan = cpu_plan();
  if (plan.pin) pin_current_thread(plan.self_cpu);
  impl->worker = std::jthread(std::move(task));
  return Peer(std::move(impl));
}

pid_t Peer::pid() const noexcept { return impl_->pid; }

void Peer::request_stop() noexcept {
  impl_->stopping.store(true);
  impl_->shared->stop.store(true);
}

Result<PeerReport> Peer::join(std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  request_stop();
  if (im.worker.joinable()) {
    if (im.result.wait_for(timeout) != std::future_status::ready)
      return fail(std::make_error_code(std::errc::timed_out), "thread peer did not finish within the timeout");
    im.joined = true;
    im.worker.join();
    return im.result.get();
  }
  im.stop_watchdog();
  pollfd p{im.report_fd.get(), POLLIN, 0};
  int r;
  while ((r = ::poll(&p, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {}
  if (r == 0) return fail(std::make_error_code(std::errc::timed_out), "peer process did not report within the timeout");
  PeerReport report;
  if (!read_full(im.report_fd.get(), &report, sizeof report))
    return fail(errc::peer_closed, "peer process ended without a report");
  int st = 0;
  while (::waitpid(im.pid, &st, 0) < 0 && errno == EINTR) {}
  im.pid = -1;
  return report;
}

bool take_interrupt() noexcept {
  return g_interrupt_pending.load(std::memory_order_relaxed) &&
         g_interrupt_pending.exchange(false, std::memory_order_relaxed);
}

PerMessage per_message(const Usage& u, std::uint64_t messages) noexcept {
  if (messages == 0) return {};
  const auto n = static_cast<double>(messages);
  return {static_cast<double>(u.voluntary_switches) / n, static_cast<double>(u.involuntary_switches) / n,
          static_cast<double>(u.cpu_ns) / 1000.0 / n};
}

}  // namespace procspec::bench

// Process lifecycle: creation, ids, start (fork), join, detach and the owning destructor.
#include "procspec/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <thread>

#include "os/child_registry.h"
#include "os/pipe_registry.h"
#include "os/process_hooks.h"
#include "procspec/log.h"

namespace procspec {
namespace {

std::atomic<int> g_next_id{1};
std::atomic<detail::ProcessCreateGuard> g_create_guard{nullptr};

// Swoole asks for 8 MiB socket buffers; we ask for 2 MiB: the kernel doubles the value (capped
// by wmem_max/rmem_max), and a message near 4 MiB needs a kmalloc that may fail with ENOBUFS.
constexpr int kSocketBuffer = 2 << 20;
// unix_dgram_sendmsg refuses a message longer than sk_sndbuf - 32 (EMSGSIZE).
constexpr int kDgramOverhead = 32;

}  // namespace

namespace detail {
void set_process_create_guard(ProcessCreateGuard guard) noexcept { g_create_guard.store(guard); }
}  // namespace detail

void Process::set_id_base(int next_id) { g_next_id.store(next_id); }

Process::Process(int id, Callback cb, ProcessOptions options)
    : id_(id), callback_(std::move(cb)), options_(options) {}

Result<Process> Process::create_impl(Callback cb, ProcessOptions options) {
  PROCSPEC_CHECK(static_cast<bool>(cb), "Process::create needs a callback");
  // PRC-1 ROLE HOOK: refuse in a started master (the role module installs the guard).
  if (auto guard = g_create_guard.load()) {
    if (Status allowed = guard(); !allowed) return forward_error(std::move(allowed).error());
  }
  const int type = static_cast<int>(options.pipe_type);
  if (type < 0 || type > 4) return fail(errc::invalid_argument, "pipe_type " + std::to_string(type) + " is not 0..4");
  if (options.redirect_stdio && (options.pipe_type == PipeType::uds_batch || options.pipe_type == PipeType::shm_ring)) {
    return fail(errc::invalid_argument,
                "redirect_stdio needs a pipe a program can use as its stdio; pipe_type " +
                    std::string(pipe_type_name(options.pipe_type)) +
                    (options.pipe_type == PipeType::shm_ring ? " has no fd to dup2 (its messages live in shared memory)"
                                                             : " frames every message, and a program's raw output is not frames") +
                    ": use uds_stream");
  }
  if (options.redirect_stdio) options.pipe_type = PipeType::uds_stream;  // PRC-1
  Process p(0, std::move(cb), options);
  if (Status s = p.make_pipe(); !s) return forward_error(std::move(s).error());
  p.id_ = g_next_id.fetch_add(1);  // only a Process that exists consumes an id
  return p;
}

Status Process::make_pipe() {
  if (options_.pipe_type == PipeType::none) return {};
  if (channel_pipe()) return make_channel_pipe();
  const int type = options_.pipe_type == PipeType::uds_stream ? SOCK_STREAM : SOCK_SEQPACKET;
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == -1) return sys_fail(errno, "socketpair");
  forget_pipe_ends();
  master_end_.reset(sv[0]);
  worker_end_.reset(sv[1]);
  detail::pending_pipe_add(sv[0]);
  detail::pending_pipe_add(sv[1]);
  for (int fd : sv) {
    int size = kSocketBuffer;
    // Best effort, as in Swoole: the kernel caps the value; failure leaves its default.
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (options_.pipe_type == PipeType::uds_dgram) {
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    if (::getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == -1) return sys_fail(errno, "getsockopt(SO_SNDBUF)");
    max_message_ = static_cast<std::size_t>(sndbuf - kDgramOverhead);
  }
  return {};
}

Process::Process(Process&& o) noexcept
    : id_(o.id_), callback_(std::move(o.callback_)), options_(o.options_), pid_(std::exchange(o.pid_, 0)),
      parent_pid_(std::exchange(o.parent_pid_, 0)), in_child_(o.in_child_), detached_(o.detached_),
      reaped_(o.reaped_), exec_errno_(o.exec_errno_),
      blocking_(o.blocking_), timeout_ms_(o.timeout_ms_), max_message_(o.max_message_),
      master_end_(std::move(o.master_end_)), worker_end_(std::move(o.worker_end_)),
      exec_report_(std::move(o.exec_report_)), queue_(std::move(o.queue_)),
      master_chan_(std::move(o.master_chan_)), worker_chan_(std::move(o.worker_chan_)),
      peer_pidfd_(std::move(o.peer_pidfd_)), flush_deferred_(std::move(o.flush_deferred_)),
      read_shut_(o.read_shut_), write_shut_(o.write_shut_) {
  o.queue_.reset();
}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    flush_bounded();
    release_child();
    forget_pipe_ends();
    drop_channels();
    id_ = o.id_;
    callback_ = std::move(o.callback_);
    options_ = o.options_;
    pid_ = std::exchange(o.pid_, 0);
    parent_pid_ = std::exchange(o.parent_pid_, 0);
    in_child_ = o.in_child_;
    detached_ = o.detached_;
    reaped_ = o.reaped_;
    exec_errno_ = o.exec_errno_;
    blocking_ = o.blocking_;
    timeout_ms_ = o.timeout_ms_;
    max_message_ = o.max_message_;
    master_end_ = std::move(o.master_end_);
    worker_end_ = std::move(o.worker_end_);
    exec_report_ = std::move(o.exec_report_);
    queue_ = std::move(o.queue_);
    o.queue_.reset();
    master_chan_ = std::move(o.master_chan_);
    worker_chan_ = std::move(o.worker_chan_);
    peer_pidfd_ = std::move(o.peer_pidfd_);
    flush_deferred_ = std::move(o.flush_deferred_);
    read_shut_ = o.read_shut_;
    write_shut_ = o.write_shut_;
  }
  return *this;
}

Process::~Process() {
  flush_bounded();  // never lose a buffered message of a live pipe (process.h)
  release_child();
  forget_pipe_ends();
  drop_channels();
}

void Process::forget_pipe_ends() noexcept {
  if (in_child_) return;
  if (master_end_.valid()) detail::pending_pipe_remove(master_end_.get());
  if (worker_end_.valid()) detail::pending_pipe_remove(worker_end_.get());
}

// The owning destructor: a child still running is asked to stop, then forced; either way it is
// reaped, so no Process leaves a zombie behind (WAIT-6).
void Process::release_child() noexcept {
  if (pid_ <= 0 || in_child_ || detached_ || reaped_ || parent_pid_ != ::getpid()) return;
  const pid_t pid = std::exchange(pid_, 0);
  if (detail::registry_reaped(pid)) {
    detail::registry_remove(pid);
    return;
  }
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGTERM);
    // Bounded grace, watched through a pidfd (readable when the child exits), else by polling.
    const auto deadline = std::chrono::steady_clock::now() + kDestroyGrace;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
      if (pidfd >= 0) {
        pollfd pfd{pidfd, POLLIN, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        (void)::poll(&pfd, 1, static_cast<int>(std::max<long long>(1, left.count())));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (pidfd >= 0) ::close(pidfd);
    if (done == 0) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
      }
    }
  }
  detail::registry_remove(pid);
}

Result<pid_t> Process::start() {
  if (in_child_) return fail(errc::wrong_role, "start: called inside the child of this Process");
  if (pid_ > 0 && !detached_ && !reaped_ && !detail::registry_reaped(pid_)) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return fail(errc::already_started, "start: child " + std::to_string(pid_) + " is still running");
    if (r > 0) detail::registry_record(detail::decode_wait_status(pid_, status));
  }
  if (pid_ > 0) detail::registry_remove(pid_);
  pid_ = 0;
  detached_ = false;
  reaped_ = false;
  exec_errno_ = 0;
  // A restart needs a fresh pair: the parent closed the previous child's end.
  const bool have_child_end = channel_pipe() ? worker_chan_ != nullptr : worker_end_.valid();
  if (options_.pipe_type != PipeType::none && !have_child_end) {
    if (Status s = make_pipe(); !s) return forward_error(std::move(s).error());
  }
  int report[2];
  if (::pipe2(report, O_CLOEXEC) == -1) return sys_fail(errno, "pipe2 (exec report)");
  UniqueFd report_read(report[0]);
  UniqueFd report_write(report[1]);
  // The parent polls the report without blocking: a running child has not written one yet.
  if (::fcntl(report[0], F_SETFL, O_NONBLOCK) == -1) return sys_fail(errno, "fcntl(O_NONBLOCK)");

  // Buffered output written before fork would otherwise be flushed twice, once per process.
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child == -1) return sys_fail(errno, "fork");
  if (child == 0) {
    exec_report_ = std::move(report_write);
    report_read.reset();
    run_child(parent);
  }
  pid_ = child;
  parent_pid_ = parent;
  detail::registry_add(child);
  exec_report_ = std::move(report_read);
  // PRC-13: the parent keeps no copy of the child's end, so the child's death is end-of-file.
  if (worker_end_.valid()) detail::pending_pipe_remove(worker_end_.get());
  worker_end_.reset();
  if (worker_chan_) {
    if (options_.pipe_type == PipeType::uds_batch) detail::pending_pipe_remove(worker_chan_->readable_target().fd);
    worker_chan_.reset();
  }
  if (Status s = start_channel_pipe(child); !s) log_warn("Process " + std::to_string(id_) + ": " + s.error().message);
  return child;
}

Status Process::exec_report() {
  if (exec_errno_ == 0 && exec_report_.valid()) {
    int err = 0;
    ssize_t n;
    do {
      n = ::read(exec_report_.get(), &err, sizeof err);
    } while (n == -1 && errno == EINTR);
    // Kept: read() at end-of-file and join() both report it.
    if (n == static_cast<ssize_t>(sizeof err)) exec_errno_ = err;
  }
  if (exec_errno_ == 0) return {};
  Status s = sys_fail(exec_errno_, "exec in child " + std::to_string(pid_));
  return fail(errc::exec_failed, s.error().message);
}

Result<ExitStatus> Process::join() {
  if (in_child_) return fail(errc::wrong_role, "join: called inside the child");
  if (pid_ <= 0) return fail(errc::not_started, "join: no child was started");
  if (reaped_) return fail(errc::not_started, "join: the child was already joined");
  if (detached_) return fail(errc::not_started, "join: the child was detached");
  ExitStatus st;
  if (auto reaped = detail::registry_reaped(pid_)) {
    st = *reaped;
  } else {
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &status, 0)) == -1 && errno == EINTR) {
    }
    if (r == -1) return sys_fail(errno, "waitpid(" + std::to_string(pid_) + ")");
    st = detail::decode_wait_status(pid_, status);
  }
  detail::registry_remove(pid_);
  reaped_ = true;
  // The write end closed at exec or exit, so this read cannot block; its answer is cached.
  Status report = exec_report();
  exec_report_.reset();
  if (Status s = std::move(report); !s) {
    return fail(errc::exec_failed, s.error().message + "; child " + st.to_string());
  }
  return st;
}

void Process::detach() {
  if (pid_ > 0 && !in_child_) detail::registry_remove(pid_);
  detached_ = true;
}

}  // namespace procspec

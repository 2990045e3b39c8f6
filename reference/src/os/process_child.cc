// What runs in the child: the clean slate after fork, exec, name, exit and shutdown callbacks.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/after_fork.h"
#include "os/pipe_registry.h"
#include "procspec/process.h"

namespace procspec {
namespace {

constexpr int kExecFailedStatus = 127;  // what shells and posix_spawn report for "could not run"

std::vector<std::function<void()>>& shutdown_callbacks() {
  // Never destroyed: a child may exit after static destructors ran in an odd order.
  static auto* callbacks = new std::vector<std::function<void()>>();
  return *callbacks;
}

[[noreturn]] void finish(int code) {
  // Callbacks may register more callbacks; run each once, in registration order.
  auto& cbs = shutdown_callbacks();
  for (std::size_t i = 0; i < cbs.size(); ++i) {
    auto cb = cbs[i];
    cb();
  }
  cbs.clear();
  std::fflush(nullptr);
  ::_exit(code);  // never exit(): the parent's atexit handlers and static destructors are not ours
}

// PRC-2: handlers the parent installed are not the child's; ignored signals stay ignored, as
// across execve. The mask is emptied so the callback starts able to receive every signal.
void reset_signals() noexcept {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    const bool caught = (old.sa_flags & SA_SIGINFO) != 0 || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN);
    if (!caught) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// The [arg_start, arg_end) span of this process's argv strings (fields 48 and 49 of
// /proc/self/stat), which is what /proc/PID/cmdline and ps show.
bool argv_area(unsigned long& start, unsigned long& end) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int n = 3; n <= 49 && rest >> field; ++n) {
    if (n == 48) start = std::stoul(field);
    if (n == 49) end = std::stoul(field);
  }
  return start != 0 && end > start;
}

}  // namespace

void Process::add_shutdown_callback(std::function<void()> fn) { shutdown_callbacks().push_back(std::move(fn)); }

void Process::run_child(pid_t parent_pid) {
  in_child_ = true;
  pid_ = ::getpid();
  parent_pid_ = parent_pid;
  master_end_.reset();
  master_chan_.reset();
  detail::run_after_fork_child_hooks();
  const int keep = options_.pipe_type == PipeType::uds_batch && worker_chan_ ? worker_chan_->readable_target().fd
                                                                              : worker_end_.get();
  detail::pending_pipes_close_all_except(keep, parent_pid);
  (void)start_channel_pipe(parent_pid);  // without the watch, the parent's death is never seen
  reset_signals();
  shutdown_callbacks().clear();
  if (options_.exit_with_parent) {
    (void)::prctl(PR_SET_PDEATHSIG, SIGTERM);
    // PRC-12: if the parent died between fork and prctl, no SIGTERM will ever come: we were
    // already reparented, which getppid shows. Act as if the signal had arrived.
    if (::getppid() != parent_pid) ::raise(SIGTERM);
  }
  if (options_.redirect_stdio) {
    // PRC-4: dup2 clears FD_CLOEXEC on the copies, so an exec'd program keeps them.
    for (int fd = 0; fd <= 2; ++fd) {
      if (::dup2(worker_end_.get(), fd) == -1) finish(kExecFailedStatus);
    }
  }
  callback_(*this);
  flush_bounded();  // uds_batch/shm_ring: messages still buffered go before the child exits
  finish(0);
}

Status Process::exec(const std::string& path, const std::vector<std::string>& args) {
  if (!in_child_ || pid_ != ::getpid()) return fail(errc::wrong_role, "exec: only the child of this Process may exec");
  if (path.empty()) return fail(errc::invalid_argument, "exec: empty path");
  if (options_.pipe_type == PipeType::shm_ring) {
    return fail(errc::invalid_argument,
                "exec: pipe_type shm_ring cannot be handed to a new program (the ring is a memory mapping "
                "that exec discards); use uds_stream with redirect_stdio to talk to a program");
  }
  flush_bounded();  // uds_batch: the buffered messages are this process's, not the program's
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  ::execv(path.c_str(), argv.data());
  // PRC-8: the parent learns why through the CLOEXEC pipe (a successful exec closes it
  // unwritten), and the status is 127, never a success.
  const int err = errno;
  if (exec_report_.valid()) {
    ssize_t ignored = ::write(exec_report_.get(), &err, sizeof err);
    (void)ignored;
  }
  ::_exit(kExecFailedStatus);
}

Status Process::name(std::string_view title) {
  if (title.empty()) return fail(errc::invalid_argument, "name: empty title");
  std::string comm(title.substr(0, 15));  // TASK_COMM_LEN - 1
  if (::prctl(PR_SET_NAME, comm.c_str()) == -1) return sys_fail(errno, "prctl(PR_SET_NAME)");
  unsigned long start = 0, end = 0;
  if (argv_area(start, end)) {
    // The argv strings live in our own stack mapping; writing inside their span is what
    // setproctitle does. Longer titles are cut to the span (the kernel cannot grow it).
    char* area = reinterpret_cast<char*>(start);
    const std::size_t room = end - start;
    std::memset(area, 0, room);
    std::memcpy(area, title.data(), std::min(title.size(), room - 1));
  }
  return {};
}

Status Process::exit(int code) {
  if (!in_child_ || pid_ != ::getpid()) return fail(errc::wrong_role, "exit: only the child of this Process may exit");
  if (code < 0 || code > 255) return fail(errc::invalid_argument, "exit: code " + std::to_string(code) + " is not in 0..255");
  flush_bounded();
  finish(code);
}

}  // namespace procspec

#include "support/child.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>

namespace procspec::test {

Result<pid_t> spawn_child(const std::function<int()>& fn) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == -1) return sys_fail(errno, "fork");
  if (pid == 0) {
    int code = fn();
    std::fflush(nullptr);
    ::_exit(code);
  }
  return pid;
}

Result<ExitStatus> wait_child(pid_t pid, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r == -1 && errno != EINTR) return sys_fail(errno, "waitpid");
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return fail(std::make_error_code(std::errc::timed_out), "child " + std::to_string(pid) + " did not end in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ExitStatus st;
  st.pid = pid;
  if (WIFEXITED(status)) st.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) st.signal = WTERMSIG(status);
  return st;
}

Result<ExitStatus> run_in_child(const std::function<int()>& fn) {
  auto pid = spawn_child(fn);
  if (!pid) return forward_error(std::move(pid).error());
  return wait_child(*pid);
}

Result<std::string> read_with_deadline(int fd, std::size_t max, std::chrono::milliseconds deadline) {
  pollfd pfd{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&pfd, 1, static_cast<int>(deadline.count()));
  } while (r == -1 && errno == EINTR);
  if (r == 0) return fail(std::make_error_code(std::errc::timed_out), "no data within the deadline");
  if (r < 0) return sys_fail(errno, "poll");
  std::string buf(max, '\0');
  ssize_t n = ::read(fd, buf.data(), max);
  if (n < 0) return sys_fail(errno, "read");
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

}  // namespace procspec::test

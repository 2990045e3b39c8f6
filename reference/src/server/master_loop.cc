#include "server/master_loop.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "loop/signal_internal.h"
#include "procspec/log.h"

namespace procspec::detail {

Result<std::unique_ptr<MasterLoop>> MasterLoop::create(ServerCore& core) {
  auto loop = EventLoop::create();
  if (!loop) return forward_error(std::move(loop).error());
  auto mailbox = Mailbox::create();
  if (!mailbox) return forward_error(std::move(mailbox).error());
  if (auto st = (*mailbox)->attach(**loop); !st) return forward_error(std::move(st).error());
  return std::unique_ptr<MasterLoop>(new MasterLoop(core, std::move(*loop), std::move(*mailbox)));
}

MasterLoop::~MasterLoop() {
  for (auto& fd : pidfds_) (void)loop_->remove(fd.get());
  mailbox_->detach();
}

Status MasterLoop::watch_child(pid_t pid, std::function<void()> on_exit) {
  // syscall(): glibc's pidfd_open wrapper is newer than some systems we build on.
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) return sys_fail(errno, "pidfd_open(" + std::to_string(pid) + ")");
  const int raw = fd.get();
  if (auto st = loop_->add(raw, [this, raw, on_exit = std::move(on_exit)] {
        (void)loop_->remove(raw);
        on_exit();
      });
      !st) {
    return st;
  }
  pidfds_.push_back(std::move(fd));
  return {};
}

void MasterLoop::reap_child(pid_t pid) {
  int status = 0;
  // ECHILD: already reaped by whoever reported how it ended.
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

Status MasterLoop::run() {
  auto stop = [this](int) {
    if (stopping_) return;
    stopping_ = true;
    log_info("master: SIGTERM received; shutting down");
    if (on_stop_) on_stop_();
    else loop_->stop();
  };
  auto reload = [this](int signo) {
    if (stopping_) return;
    if (on_reload_) on_reload_(signo);
    else log_warn("master: reload requested, but this server mode does not reload its workers");
  };
  Status st = set_signal_internal(SIGTERM, stop);
  if (st) st = set_signal_internal(SIGUSR1, reload);
  if (st) st = set_signal_internal(SIGUSR2, reload);
  if (st) {
    if (core_.events.on_start) core_.events.on_start(*core_.facade);
    st = loop_->run();
  }
  (void)remove_signal_internal(SIGTERM);
  (void)remove_signal_internal(SIGUSR1);
  (void)remove_signal_internal(SIGUSR2);
  return st;
}

}  // namespace procspec::detail

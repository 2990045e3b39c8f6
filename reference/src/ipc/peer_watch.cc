#include "ipc/peer_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace procspec::detail {

Status PeerWatch::watch(pid_t pid) {
  clear();
  // syscall(): glibc's pidfd_open wrapper is newer than some systems we build on.
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    if (errno != ESRCH) return sys_fail(errno, "pidfd_open(" + std::to_string(pid) + ")");
    gone_ = true;  // already exited (and reaped): nothing more will come from it
    // Callers that sleep in poll() on fd() (Sleeper::sleep, wait_ready) learn of a death only
    // from it: an always-readable eventfd stands in for the pidfd of a process already gone,
    // or a blocking receive would sleep forever (a child whose parent was reaped before it
    // started watching).
    fd_.reset(::eventfd(1, EFD_CLOEXEC));
  } else {
    fd_.reset(static_cast<int>(fd));  // pidfds are close-on-exec from birth
  }
  watching_ = true;
  return {};
}

bool PeerWatch::exited() const noexcept {
  if (!watching_) return false;
  if (gone_) return true;
  pollfd p{fd_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

Status wait_ready(int fd, short events, const PeerWatch& peer) {
  pollfd p[2] = {{fd, events, 0}, {peer.fd(), POLLIN, 0}};
  const nfds_t n = peer.fd() >= 0 ? 2 : 1;
  for (;;) {
    if (::poll(p, n, -1) >= 0) return {};
    if (errno != EINTR) return sys_fail(errno, "poll");
  }
}

}  // namespace procspec::detail

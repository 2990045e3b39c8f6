#pragma once
// PeerWatch: a pidfd for the process on the other end of a channel. Datagram sockets and SysV
// queues never report that their peer died; a pidfd becomes readable when that process exits,
// and it can sit in poll()/epoll next to the channel's own fd.
#include <sys/types.h>

#include "procspec/result.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

class PeerWatch {
 public:
  // Watches `pid`; a pid that is already gone counts as exited.
  Status watch(pid_t pid);
  void clear() noexcept { fd_.reset(); gone_ = false; watching_ = false; }
  bool watching() const noexcept { return watching_; }
  int fd() const noexcept { return fd_.get(); }
  // Non-blocking: has the watched process exited?
  bool exited() const noexcept;

 private:
  UniqueFd fd_;
  bool watching_ = false;
  bool gone_ = false;
};

// Waits until `fd` shows `events` or the watched peer exits (forever if neither happens).
// EINTR is retried.
Status wait_ready(int fd, short events, const PeerWatch& peer);

}  // namespace procspec::detail

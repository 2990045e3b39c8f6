#include "os/pipe_registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "base/after_fork.h"
#include "base/fork_safe_lock.h"

namespace procspec::detail {
namespace {

struct Pending {
  pid_t owner;
  int fd;
  ino_t ino;
};

// Same discipline as the child registry: a spinlock the after-fork hook can reset.
ForkSafeSpinLock g_lock;
std::vector<Pending>* g_pending = nullptr;

void reset_lock_after_fork() noexcept { g_lock.reset_after_fork(); }

std::vector<Pending>& pending() {
  if (!g_pending) {
    add_after_fork_child_hook(&reset_lock_after_fork);
    g_pending = new std::vector<Pending>();  // never freed: used in children after fork
  }
  return *g_pending;
}

ino_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

void pending_pipe_add(int fd) {
  const ino_t ino = inode_of(fd);
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  const pid_t self = ::getpid();
  auto& v = pending();
  std::erase_if(v, [self, fd](const Pending& p) { return p.owner != self || p.fd == fd; });
  v.push_back(Pending{self, fd, ino});
}

void pending_pipe_remove(int fd) {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  const pid_t self = ::getpid();
  std::erase_if(pending(), [self, fd](const Pending& p) { return p.owner == self && p.fd == fd; });
}

void pending_pipes_close_all_except(int keep, pid_t parent) noexcept {
  std::lock_guard<ForkSafeSpinLock> g(g_lock);
  if (!g_pending) return;
  for (const Pending& p : *g_pending) {
    // Entries are the parent's (we were just forked); close only what is still that socket.
    if (p.owner == parent && p.fd != keep && inode_of(p.fd) == p.ino) ::close(p.fd);
  }
}

}  // namespace procspec::detail

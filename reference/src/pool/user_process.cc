// The child side of a user process (POOL-9): build the object from the factory in the child (so
// a restart runs the current code), run(), then serve its pipe until SIGTERM, then on_shutdown().
#include "procspec/user_process.h"

#include <sys/socket.h>

#include <string>

#include "pool/pool_impl.h"
#include "pool/worker_stop.h"
#include "procspec/log.h"

namespace procspec {

bool UserProcess::running() const noexcept { return !detail::stop_requested(); }

struct UserProcessRunner {
  static int run(Pool::Impl& impl, int id, const UserProcessFactory& factory) {
    std::unique_ptr<UserProcess> proc = factory();
    if (!proc) {
      log_error("user process #" + std::to_string(id) + ": the factory returned no object");
      return 1;
    }
    proc->id_ = id;
    try {
      proc->run();
    } catch (const std::exception& e) {
      proc->on_exception(e);
      return 1;
    }
    // From here SIGTERM is only taken while waiting, never in the middle of on_pipe_readable.
    detail::block_stop_signal();
    const int fd = impl.pipes[static_cast<std::size_t>(id)].second.get();
    std::string buf(impl.options.max_package_size, '\0');
    while (detail::wait_readable_or_stop(fd)) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) continue;
      if (static_cast<std::size_t>(n) > buf.size()) {
        log_error("user process #" + std::to_string(id) + ": dropped a " + std::to_string(n) +
                  "-byte message above max_package_size");
        continue;
      }
      try {
        proc->on_pipe_readable(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      } catch (const std::exception& e) {
        proc->on_exception(e);
        return 1;
      }
    }
    proc->on_shutdown();
    return 0;
  }
};

namespace detail {

int run_user_process(Pool& /*pool*/, Pool::Impl& impl, int id, const UserProcessFactory& factory) {
  impl.worker_id = id;
  keep_child_pipe_ends(impl, id);
  impl.listen_fd.reset();
  install_stop_handler();
  unblock_stop_signal();  // run() may loop on running(), so SIGTERM must reach the flag
  return UserProcessRunner::run(impl, id, factory);
}

}  // namespace detail
}  // namespace procspec

// The child side of a user process (POOL-9): build the object from the factory in the child (so
// a restart runs the current code), run() it inside the process's own event loop (timers and fds
// it registers are served there, the EasySwoole pattern), deliver pipe messages to
// on_pipe_readable, and on SIGTERM stop the loop, run on_shutdown() and exit 0.
#include "procspec/user_process.h"

#include <sys/socket.h>

#include <functional>
#include <string>

#include "pool/pool_impl.h"
#include "pool/user_process_body.h"
#include "pool/worker_stop.h"
#include "procspec/event_loop.h"
#include "procspec/log.h"
#include "procspec/role.h"
#include "procspec/signals.h"

namespace procspec {

bool UserProcess::running() const noexcept {
  // A run() that loops without returning to the event loop still sees its SIGTERM.
  Signals::dispatch();
  return !detail::stop_requested();
}

struct UserProcessRunner {
  // pipe_fd: the process's inbox (a datagram socket), or -1 for none (a Server's user processes
  // cannot be sent to, as in Swoole). before_run: runs in the child once the loop exists.
  static int run(int id, const UserProcessFactory& factory, int pipe_fd, std::size_t max_package_size,
                 const std::function<void(EventLoop&)>& before_run) {
    const std::string who = "user process #" + std::to_string(id);
    auto loop = EventLoop::create();
    if (!loop) {
      log_error(who + ": " + loop.error().message);
      return 1;
    }
    EventLoop& l = **loop;
    // The default stop, registered before run() so that a run() registering its own SIGTERM
    // handler replaces it (SIG-5); such a handler ends the process with EventLoop::stop().
    Status st = Signals::set(SIGTERM, [&l](int) {
      detail::request_stop();
      l.stop();
    });
    if (!st) {
      log_error(who + ": " + st.error().message);
      return 1;
    }
    detail::unblock_stop_signal();  // held since fork so an early SIGTERM waited for the handler
    if (before_run) before_run(l);

    std::unique_ptr<UserProcess> proc = factory();
    if (!proc) {
      log_error(who + ": the factory returned no object");
      return 1;
    }
    proc->id_ = id;
    try {
      proc->run();
    } catch (const std::exception& e) {
      proc->on_exception(e);
      return 1;
    }
    const int fd = pipe_fd;
    std::string buf(fd >= 0 ? max_package_size : 0, '\0');
    bool failed = false;
    Status watched = fd < 0 ? Status{} : l.add(fd, [&] {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) return;
      if (static_cast<std::size_t>(n) > buf.size()) {
        log_error(who + ": dropped a " + std::to_string(n) + "-byte message above max_package_size");
        return;
      }
      try {
        proc->on_pipe_readable(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      } catch (const std::exception& e) {
        proc->on_exception(e);
        failed = true;
        l.stop();
      }
    });
    if (!watched) {
      log_error(who + ": " + watched.error().message);
      return 1;
    }
    // Without an inbox the SIGTERM handler is what keeps the loop alive until the stop.
    if (fd < 0) l.set_wait_signal(true);
    Signals::dispatch();  // a SIGTERM that arrived during run()
    if (!detail::stop_requested()) {
      if (Status ran = l.run(); !ran) log_error(who + ": " + ran.error().message);
    }
    if (fd >= 0) (void)l.remove(fd);
    if (failed) return 1;
    proc->on_shutdown();
    return 0;
  }
};

namespace detail {

int run_user_process(Pool& /*pool*/, Pool::Impl& impl, int id, const UserProcessFactory& factory) {
  set_current_role(Role::user);
  impl.worker_id = id;
  keep_child_pipe_ends(impl, id);
  impl.listen_fd.reset();
  return UserProcessRunner::run(id, factory, impl.pipes[static_cast<std::size_t>(id)].second.get(),
                                impl.options.max_package_size, {});
}

int run_user_process_body(int id, const UserProcessFactory& factory, const std::function<void(EventLoop&)>& before_run) {
  set_current_role(Role::user);
  return UserProcessRunner::run(id, factory, -1, 0, before_run);
}

}  // namespace detail
}  // namespace procspec

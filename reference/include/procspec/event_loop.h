#pragma once
// EventLoop: an epoll reactor owned by one thread (muduo's loop-per-thread rule). It watches fds
// with read/write callbacks, runs deferred callbacks, drives the thread's timers (timer.h) through
// the epoll_wait timeout, and runs signal handlers (signals.h) on the thread that registered the
// first one. It does NOT own the fds it watches: the caller closes them (after remove()).
//
// Threads: create() makes the loop of the calling thread (a second loop in the same thread is an
// error); every method except stop() must be called on that thread (checked: a call from another
// thread is a programmer error and aborts). stop() may be called from any thread and from a
// signal handler's callback: it wakes the loop through an eventfd.
//
// run() returns when stop() was called or nothing is left to do: no watched fd, no deferred
// callback, no pending timer of this thread (and, with wait_signal, no signal handler).
// Fork: a forked child starts without a loop (the after-fork hook closes the child's copies of the
// parent's epoll and eventfd without touching the parent's registrations) and may create its own.
#include <cstdint>
#include <functional>
#include <memory>

#include "procspec/result.h"

namespace procspec {
namespace detail {
struct LoopAccess;  // src/loop/loop_access.h: internal fds (signal pipe), timers, fork reset
}

class EventLoop {
 public:
  using Callback = std::function<void()>;

  static Result<std::unique_ptr<EventLoop>> create();
  // The loop of the calling thread, or nullptr.
  static EventLoop* current() noexcept;

  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches fd for readability (on_readable) and/or writability (on_writable); at least one
  // callback. Errors and hang-ups are delivered to on_readable if set (a read then sees EOF or the
  // error), else to on_writable. Adding an fd already watched is EEXIST; use modify().
  Status add(int fd, Callback on_readable, Callback on_writable = {});
  // Replaces both callbacks (and with them the events watched). ENOENT if fd is not watched.
  Status modify(int fd, Callback on_readable, Callback on_writable = {});
  // Stops watching fd; a callback may remove any fd, itself included. ENOENT if not watched.
  Status remove(int fd);
  bool contains(int fd) const;
  std::size_t watched() const noexcept;

  // Runs cb at the start of the next iteration (before polling), in the order deferred. A callback
  // deferred while deferred callbacks run waits for the next iteration.
  void defer(Callback cb);

  // Swoole's `wait_signal`: when true, registered signal handlers keep run() from returning.
  void set_wait_signal(bool wait) noexcept { wait_signal_ = wait; }

  // Runs until stop() or until nothing is left (see above). Not reentrant. A stop() that arrives
  // before run() makes the next run() return at once. Errors only if epoll itself fails.
  Status run();
  // Any thread, any time; async-signal-safe only in the sense that it writes to an eventfd.
  void stop() noexcept;
  bool running() const noexcept;

 private:
  struct State;
  explicit EventLoop(std::unique_ptr<State> state);
  friend struct detail::LoopAccess;

  std::unique_ptr<State> state_;
  bool wait_signal_ = false;
};

}  // namespace procspec

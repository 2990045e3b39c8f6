#pragma once
// Internal doors into EventLoop for the signal module: an internal fd (the signal pipe) is
// watched like any other but does not keep run() alive.
#include "procspec/event_loop.h"

namespace procspec::detail {

struct LoopAccess {
  static Status watch_internal(EventLoop& loop, int fd, EventLoop::Callback on_readable);
  static bool on_owner_thread(const EventLoop& loop) noexcept;
  // After fork, in the child: close the inherited fds, leak the callbacks, refuse run().
  static void abandon(EventLoop& loop) noexcept;
};

}  // namespace procspec::detail

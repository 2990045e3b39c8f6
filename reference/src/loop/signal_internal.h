#pragma once
// Internal signal registrations: the Pool and Server managers reserve signals for themselves
// (SIGTERM, SIGCHLD, SIGUSR1...) that the role rules refuse to users. These calls bypass the role
// check and nothing else: the handler still runs in the event loop (SIG-6).
#include "procspec/event_loop.h"
#include "procspec/signals.h"

namespace procspec::detail {

Status set_signal_internal(int signo, SignalHandler handler);
Status ignore_signal_internal(int signo);
Status remove_signal_internal(int signo);

// Creates the process's signal pipe now (it lives until exit); tests call it before taking
// their fd snapshot.
Status ensure_signal_state();

// Called by EventLoop: watch the signal pipe if this loop's thread is the signal thread; forget
// the loop when it is destroyed.
void attach_signals(EventLoop& loop);
void detach_signals(EventLoop& loop) noexcept;

}  // namespace procspec::detail

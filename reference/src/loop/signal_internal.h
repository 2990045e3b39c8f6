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

// The read end of the signal pipe (readable when a handled signal arrived), or -1 if no handler
// was ever registered. For loops that are not an EventLoop — the Pool/Server manager polls it
// beside its signalfd so a user handler never waits for the next unrelated wake-up.
int signal_pipe_read_fd() noexcept;

// Creates the process's signal pipe now (it lives until exit); tests call it before taking
// their fd snapshot.
Status ensure_signal_state();

// Called by EventLoop: watch the signal pipe if this loop's thread is the signal thread; forget
// the loop when it is destroyed.
void attach_signals(EventLoop& loop);
void detach_signals(EventLoop& loop) noexcept;

}  // namespace procspec::detail

#pragma once
// The stop request of a pool worker or user process: SIGTERM sets a flag (the handler does
// nothing else) and the child's receive loop notices it between messages.
//
// SIGTERM stays blocked while a message is being handled and is unblocked only inside the
// wait for the next one (ppoll's atomic mask swap), so a stop never interrupts a message half
// way and never slips in between the flag check and the wait. msgrcv has no such mask argument:
// it is entered with SIGTERM unblocked right after the check, leaving a window of a few
// instructions in which a SIGTERM is noted but does not wake the call; the manager's SIGKILL at
// max_wait_time bounds that case (no message is in progress then, so none is lost).
#include <signal.h>

namespace procspec::detail {

void install_stop_handler() noexcept;   // SIGTERM → flag, SA_RESTART
bool stop_requested() noexcept;
void block_stop_signal() noexcept;
void unblock_stop_signal() noexcept;
// Waits until fd is readable or a stop was requested; SIGTERM is unblocked only while waiting.
// Returns true if readable.
bool wait_readable_or_stop(int fd) noexcept;

}  // namespace procspec::detail

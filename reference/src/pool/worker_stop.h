#pragma once
// The stop request of a pool worker or user process: SIGTERM sets a flag (the handler does
// nothing else) and the child's receive loop notices it between messages.
//
// unixsock and socket workers keep SIGTERM blocked while a message is being handled and
// unblock it only inside the wait for the next one (ppoll's atomic mask swap), so a stop never
// lands in the middle of a message and never slips in between the flag check and the wait.
// msgrcv has no mask argument, and flipping the mask around each msgrcv costs more than the
// message itself (measured: 12.0 vs 4.3 us per 64-byte message), so msgqueue workers keep
// SIGTERM unblocked: the handler only sets the flag (SA_RESTART resumes restartable calls inside
// a Message callback; non-restartable ones such as poll or nanosleep see one EINTR). A SIGTERM
// landing between the flag check and msgrcv's entry does not wake the call; the next message,
// or the manager's SIGKILL at max_wait_time, ends that worker (no message is in progress then).
#include <signal.h>

namespace procspec::detail {

void install_stop_handler() noexcept;   // SIGTERM → flag, SA_RESTART
bool stop_requested() noexcept;
void request_stop() noexcept;  // Pool::stop(): the same flag, set from the child's own code
void block_stop_signal() noexcept;
void unblock_stop_signal() noexcept;
// Waits until fd is readable or a stop was requested; SIGTERM is unblocked only while waiting.
// Returns true if readable.
// Handlers registered through signals.h (e.g. a worker's own SIGTERM handler, which replaces
// the default stop — SIG-5) run here when their signal interrupts the wait.
bool wait_readable_or_stop(int fd) noexcept;

}  // namespace procspec::detail

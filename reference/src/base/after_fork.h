#pragma once
// PRC-2/TMR-4: a forked child must not inherit the parent's timers, signal handlers, event loop
// or role. Each module that holds such process-wide state registers a reset hook the first time
// its state is created; Process::start (and the Pool/Server managers) run them in the child
// right after fork, before any user code. Hooks must be async-signal-safe in spirit: the child of
// a threaded parent may only touch memory, not locks held by other (now vanished) threads.
namespace procspec::detail {

using AfterForkHook = void (*)() noexcept;

// Idempotent per hook; at most kMaxAfterForkHooks distinct hooks.
void add_after_fork_child_hook(AfterForkHook hook) noexcept;
void run_after_fork_child_hooks() noexcept;

}  // namespace procspec::detail

#pragma once
// Which children are owned by Process objects, and whether the static Process::wait() already
// reaped them. This is what keeps a wait()ed child from being reaped (or, worse, its recycled
// pid from being killed) a second time by its Process's join() or destructor.
#include <sys/types.h>

#include <optional>

#include "procspec/process.h"

namespace procspec::detail {

void registry_add(pid_t pid);
void registry_remove(pid_t pid);
// Called by Process::wait() after reaping `status.pid`; ignored if no Process owns that pid.
void registry_record(const ExitStatus& status);
// The status wait() recorded for an owned pid, if it reaped it.
std::optional<ExitStatus> registry_reaped(pid_t pid);

// Turns a waitpid status word into {pid, code, signal}.
ExitStatus decode_wait_status(pid_t pid, int status);

}  // namespace procspec::detail

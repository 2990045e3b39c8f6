#pragma once
// Children in tests go through here: the function runs in a forked child whose exit status is
// its return value, and the child always ends with _exit (never returning into GoogleTest).
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include "procspec/process.h"
#include "procspec/result.h"

namespace procspec::test {

// Forks, runs fn in the child and _exits with its return value; the parent waits for it.
Result<ExitStatus> run_in_child(const std::function<int()>& fn);
// Forks, runs fn in the child (which _exits with its value); returns the pid without waiting.
Result<pid_t> spawn_child(const std::function<int()>& fn);
// waitpid(pid) bounded by a deadline (SIGKILL and an error if it passes).
Result<ExitStatus> wait_child(pid_t pid, std::chrono::milliseconds deadline = std::chrono::seconds(20));
// Reads up to `max` bytes from fd, waiting at most `deadline`; "" on EOF, error on timeout.
Result<std::string> read_with_deadline(int fd, std::size_t max = 4096,
                                       std::chrono::milliseconds deadline = std::chrono::seconds(20));

}  // namespace procspec::test

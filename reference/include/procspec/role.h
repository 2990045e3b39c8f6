#pragma once
// The role of this process (SPEC Roles): one process-wide value read by the role-dependent rules
// (SIG-2..SIG-5, PRC-1). It starts as `plain`; the Pool and the Server set it when they make a
// process into a master, manager or worker.
//
// Fork: the role is KEPT across fork (no after-fork reset). A manager that forks a worker sets the
// worker role in the child right after fork, before any user code; a plain process that forks a
// plain child needs no step at all. Resetting to `plain` would open a window in which a child of
// a manager could register a signal its parent reserves.
#include <optional>
#include <string_view>

namespace procspec {

enum class Role { plain, master, manager, worker, task_worker, user, pool_worker };

// Safe from any thread; the value is process-wide (an atomic), not per thread.
Role current_role() noexcept;
void set_current_role(Role role) noexcept;

// "plain", "master", "manager", "worker", "task_worker", "user", "pool_worker" (the driver's names).
std::string_view role_name(Role role) noexcept;
std::optional<Role> role_from_name(std::string_view name) noexcept;

}  // namespace procspec

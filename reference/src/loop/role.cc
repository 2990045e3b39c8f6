#include "procspec/role.h"

#include <array>
#include <atomic>

namespace procspec {
namespace {
std::atomic<Role> g_role{Role::plain};

constexpr std::array<std::pair<Role, std::string_view>, 7> kRoleNames{{
    {Role::plain, "plain"},
    {Role::master, "master"},
    {Role::manager, "manager"},
    {Role::worker, "worker"},
    {Role::task_worker, "task_worker"},
    {Role::user, "user"},
    {Role::pool_worker, "pool_worker"},
}};
}  // namespace

Role current_role() noexcept { return g_role.load(std::memory_order_acquire); }
void set_current_role(Role role) noexcept { g_role.store(role, std::memory_order_release); }

std::string_view role_name(Role role) noexcept {
  for (const auto& [r, name] : kRoleNames) {
    if (r == role) return name;
  }
  return "unknown";
}

std::optional<Role> role_from_name(std::string_view name) noexcept {
  for (const auto& [r, n] : kRoleNames) {
    if (n == name) return r;
  }
  return std::nullopt;
}

}  // namespace procspec

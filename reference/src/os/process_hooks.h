#pragma once
// Hooks other modules install into Process without os/ depending on them.
#include "procspec/result.h"

namespace procspec::detail {

// PRC-1: consulted by Process::create before anything is allocated. The role module installs a
// guard that refuses creation in a `master` after its server started (forking a threaded
// process). ROLE HOOK: wired by the lead once role.h lands; null means "always allowed".
using ProcessCreateGuard = Status (*)();
void set_process_create_guard(ProcessCreateGuard guard) noexcept;

}  // namespace procspec::detail

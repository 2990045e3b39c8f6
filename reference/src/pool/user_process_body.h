#pragma once
// The child side of a user process, for owners other than the Pool (the Server's add_process):
// role `user`, its own event loop, SIGTERM → on_shutdown and exit 0 (user_process.h). Such a
// process has no inbox. before_run runs in the child once the loop exists (the Server attaches
// its send_message/task sender there).
#include <functional>

#include "procspec/event_loop.h"
#include "procspec/user_process.h"

namespace procspec::detail {

int run_user_process_body(int id, const UserProcessFactory& factory, const std::function<void(EventLoop&)>& before_run);

}  // namespace procspec::detail

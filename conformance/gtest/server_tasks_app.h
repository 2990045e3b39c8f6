#pragma once
// The test server of server_tasks_test (server_tasks_app.cc). Commands, one line each:
//   id | mgr | users | task DATA | taskto DST DATA | big N | bigwait N | wait MS DATA | msg DST TEXT
// on_task: "sleep:MS" sleeps first, "nofinish" returns without finish(), data > 1000 bytes is
// echoed, anything else answers "done:DATA:by:ID:from:SRC:id:TASK". on_finish answers the
// client ("finish TASK RESULT" / "bigok N") and writes the same line to g_report_fd if >= 0.
// Pipe messages: "ping:X" answers "pong:X:ID" to the sender; "pong:X" goes to the last client;
// "user:..." is kept for the "users" command.
#include <functional>

#include "procspec/server.h"

namespace procspec::test {

// Set in the server child (inherited by its workers) before start().
extern int g_report_fd;

// Sets worker_num, task_worker_num, task_ipc_mode and the events above.
std::function<void(Server&)> configure(int workers, int task_workers, int ipc_mode = 1);

}  // namespace procspec::test

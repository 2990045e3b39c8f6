#pragma once
// CPU time of a whole process tree (a server's master, manager, workers and their threads),
// read from /proc. Workers that died and were reaped inside the tree are counted through their
// reaper's cutime/cstime, so restarts do not hide CPU.
#include <sys/types.h>

namespace procspec::bench {

struct TreeCpu {
  double seconds = 0;
  bool valid = false;  // false when pid <= 0 or the root is gone
};

TreeCpu tree_cpu(pid_t root);

}  // namespace procspec::bench

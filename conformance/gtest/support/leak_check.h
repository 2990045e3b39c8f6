#pragma once
// LeakCheckedTest: the base fixture of every suite that touches the OS. It snapshots this
// process's open fds, child processes (live or zombie) and the SysV queues it created, and fails
// the test in TearDown if any of them grew (WAIT-6: no zombie after any test).
#include <gtest/gtest.h>
#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

namespace procspec::test {

std::set<int> open_fds();
// Children of this process (any thread), zombies included, read from /proc/*/stat.
std::vector<pid_t> child_pids();
// Ids of all SysV message queues on the machine (from /proc/sysvipc/msg). The kernel does not
// record a queue's creator, so suites that create queues run under the ctest resource lock
// "sysvmsg" and opt in to the queue check: any queue that appears during their test is theirs.
std::set<int> msg_queue_ids();
// Reaps what a failed test left behind so the next check starts clean; returns a description.
std::string reap_leftover_children();

class LeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

 protected:
  // Set in the constructor of fixtures whose test program is registered with the sysvmsg lock.
  bool check_msg_queues_ = false;

 private:
  std::set<int> fds_before_;
  std::set<int> queues_before_;
};

}  // namespace procspec::test

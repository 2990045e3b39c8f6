#include "support/leak_check.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace procspec::test {

std::set<int> open_fds() {
  std::set<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return fds;
  const int own = ::dirfd(dir);
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != own) fds.insert(fd);
  }
  ::closedir(dir);
  return fds;
}

std::vector<pid_t> child_pids() {
  std::vector<pid_t> kids;
  const pid_t self = ::getpid();
  DIR* dir = ::opendir("/proc");
  if (!dir) return kids;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // The comm field may contain spaces and parentheses; fields resume after the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) kids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return kids;
}

std::set<int> msg_queue_ids() {
  std::set<int> ids;
  std::ifstream in("/proc/sysvipc/msg");
  std::string line;
  std::getline(in, line);  // header
  long key = 0, msqid = 0;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    if (row >> key >> msqid) ids.insert(static_cast<int>(msqid));
  }
  return ids;
}

std::string reap_leftover_children() {
  std::string report;
  for (pid_t pid : child_pids()) {
    report += " " + std::to_string(pid);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  return report;
}

void LeakCheckedTest::SetUp() {
  fds_before_ = open_fds();
  queues_before_ = msg_queue_ids();
}

void LeakCheckedTest::TearDown() {
  // A child that was just killed may need a moment to become a zombie visible to waitpid;
  // children still present after a bounded wait are leaks.
  std::vector<pid_t> kids = child_pids();
  for (int i = 0; i < 50 && !kids.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kids = child_pids();
  }
  if (!kids.empty()) {
    ADD_FAILURE() << "test left child processes (zombie or running):" << reap_leftover_children();
  }

  std::set<int> fds_after = open_fds();
  std::string leaked;
  for (int fd : fds_after) {
    if (!fds_before_.count(fd)) {
      char path[64];
      char target[256] = {};
      std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
      ssize_t n = ::readlink(path, target, sizeof target - 1);
      leaked += " " + std::to_string(fd) + "->" + (n > 0 ? std::string(target, static_cast<size_t>(n)) : "?");
    }
  }
  EXPECT_TRUE(leaked.empty()) << "test leaked file descriptors:" << leaked;

  if (check_msg_queues_) {
    std::string queues;
    for (int id : msg_queue_ids()) {
      if (!queues_before_.count(id)) queues += " " + std::to_string(id);
    }
    EXPECT_TRUE(queues.empty()) << "test left SysV message queues behind (ipcrm -q):" << queues;
  }
}

}  // namespace procspec::test

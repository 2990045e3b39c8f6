#include "support/proc_cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace procspec::bench {
namespace {

struct StatLine {
  pid_t ppid = 0;
  double own_and_reaped_s = 0;  // utime + stime + cutime + cstime
};

bool read_stat(pid_t pid, StatLine& out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  // Fields after comm: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime
  std::string state;
  long long ppid = 0, skip = 0, utime = 0, stime = 0, cutime = 0, cstime = 0;
  rest >> state >> ppid;
  for (int i = 0; i < 9; ++i) rest >> skip;
  rest >> utime >> stime >> cutime >> cstime;
  if (!rest) return false;
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  out.ppid = static_cast<pid_t>(ppid);
  out.own_and_reaped_s = static_cast<double>(utime + stime + cutime + cstime) / tick;
  return true;
}

}  // namespace

TreeCpu tree_cpu(pid_t root) {
  TreeCpu result;
  if (root <= 0) return result;
  std::map<pid_t, StatLine> all;
  if (DIR* dir = ::opendir("/proc")) {
    while (dirent* e = ::readdir(dir)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (*end != '\0' || pid <= 0) continue;
      StatLine s;
      if (read_stat(static_cast<pid_t>(pid), s)) all[static_cast<pid_t>(pid)] = s;
    }
    ::closedir(dir);
  }
  if (!all.count(root)) return result;
  std::multimap<pid_t, pid_t> children;
  for (const auto& [pid, s] : all) children.emplace(s.ppid, pid);
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    result.seconds += all[p].own_and_reaped_s;
    auto [lo, hi] = children.equal_range(p);
    for (auto it = lo; it != hi; ++it) todo.push_back(it->second);
  }
  result.valid = true;
  return result;
}

}  // namespace procspec::bench

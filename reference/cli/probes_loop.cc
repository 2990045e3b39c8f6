// Probes for SPEC SIG and TMR: signal-register, signal-unregister, alarm-after-timer,
// timer-after-alarm, alarm-clear-after-timer, timer-order, and signal-wait (a process the Bats
// suite signals from the shell).
//
// alarm-carry USEC [TYPE]: arms alarm(USEC, TYPE), prints {"ok","interval_sec","interval_usec",
// "signal"} read back with getitimer, then disarms (TMR-2).
// fork-clean: a parent with a tick timer and a SIGUSR1 handler, then with an armed alarm, forks;
// prints {"child_timers","child_handlers","child_alarm"} as the children saw themselves (TMR-4).
//
// signal-wait SIG: registers a handler for SIG, prints {"ready":true,"pid":N}, runs the event loop
// until the handler ran (or 30 s passed), then prints {"handler_ran":BOOL,"signal":SIG}; exit 0
// if the handler ran, else 1.
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/after_fork.h"
#include "json.h"
#include "loop/signal_internal.h"
#include "probe.h"
#include "procspec/event_loop.h"
#include "procspec/log.h"
#include "procspec/role.h"
#include "procspec/signals.h"
#include "procspec/timer.h"
#include "procspec/unique_fd.h"

namespace procspec::cli {
namespace {

// A number is taken as is (0 or 99 exercise the range check); a name must be a known signal.
bool parse_signal(const std::string& text, int& out) {
  long long n = 0;
  if (parse_int(text, n)) {
    out = static_cast<int>(n);
    return true;
  }
  out = signal_from_name(text);
  return out != 0;
}

bool parse_role(const std::string& text, Role& out) {
  auto role = role_from_name(text);
  if (role) out = *role;
  return role.has_value();
}

void add_error(JsonLine& j, const Status& s) {
  if (s) return;
  j.add("errno", error_name(s.error().code)).add("message", s.error().message);
}

struct RoleRun {
  bool ok = false;
  std::string errno_name;
  std::string message;
  bool warned = false;
  bool role_alive = false;
};

// Runs `op` in a forked child that has taken `role`, lets its event loop turn a few times (a
// crash caused by the registration would show there), and reports whether the child lived.
template <class Op>
RoleRun run_in_role(Role role, Op op) {
  RoleRun out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return out;
  UniqueFd rd(fds[0]), wr(fds[1]);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return out;
  if (pid == 0) {
    detail::run_after_fork_child_hooks();
    rd.reset();
    set_current_role(role);
    auto loop = EventLoop::create();
    LogCapture cap;
    Status s = op();
    std::string report = std::string(s ? "1" : "0") + (cap.warned() ? "1" : "0") + "\n";
    if (!s) report += error_name(s.error().code) + "\n" + s.error().message;
    if (loop) {
      static_cast<void>(Timer::after(20, [] {}));
      static_cast<void>((*loop)->run());
    }
    static_cast<void>(::write(wr.get(), report.data(), report.size()));
    ::_exit(0);
  }
  wr.reset();
  std::string report;
  char buf[512];
  for (;;) {
    pollfd p{rd.get(), POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) break;  // bounded: a hung child counts as not alive
    const ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n <= 0) break;
    report.append(buf, static_cast<std::size_t>(n));
  }
  // EOF comes while the child is exiting, a moment before it can be reaped: wait, bounded.
  int status = 0;
  pid_t reaped = 0;
  for (int i = 0; i < 10'000 && (reaped = ::waitpid(pid, &status, WNOHANG)) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (reaped != pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    status = -1;
  }
  out.role_alive = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && report.size() >= 2;
  if (report.size() >= 2) {
    out.ok = report[0] == '1';
    out.warned = report[1] == '1';
    const auto nl = report.find('\n', 3);
    if (!out.ok && nl != std::string::npos) {
      out.errno_name = report.substr(3, nl - 3);
      out.message = report.substr(nl + 1);
    }
  }
  return out;
}

void print_role_run(const std::string& role, int signo, const RoleRun& r, bool with_warned) {
  JsonLine j;
  j.add("role", role).add("signal", signo).add("ok", r.ok);
  if (with_warned) j.add("warned", r.warned);
  j.add("role_alive", r.role_alive);
  if (!r.ok) j.add("errno", r.errno_name).add("message", r.message);
  j.print();
}

int signal_register(const Args& args) {
  Role role{};
  int signo = 0;
  if (args.size() != 2 || !parse_role(args[0], role) || !parse_signal(args[1], signo)) {
    return usage("probe signal-register ROLE SIG");
  }
  auto r = run_in_role(role, [signo] { return Signals::set(signo, [](int) {}); });
  print_role_run(args[0], signo, r, true);
  return 0;
}

int signal_unregister(const Args& args) {
  Role role{};
  int signo = 0;
  if (args.size() < 2 || args.size() > 3 || !parse_role(args[0], role) || !parse_signal(args[1], signo) ||
      (args.size() == 3 && args[2] != "registered")) {
    return usage("probe signal-unregister ROLE SIG [registered]");
  }
  const bool registered = args.size() == 3;
  auto r = run_in_role(role, [signo, role, registered]() -> Status {
    if (registered) {
      // A signal the role reserves is registered the way the Pool/Server would hold it.
      Status s = signal_reserved_for(signo, role) ? detail::set_signal_internal(signo, [](int) {})
                                                  : Signals::set(signo, [](int) {});
      if (!s) return s;
    }
    return Signals::remove(signo);
  });
  print_role_run(args[0], signo, r, true);
  return 0;
}

int alarm_after_timer(const Args&) {
  LogCapture cap;
  auto id = Timer::after(60'000, [] {});
  if (!id) return 1;
  Status s = Timer::alarm(100'000);
  JsonLine j;
  j.add("ok", s.has_value()).add("warned", cap.warned());
  add_error(j, s);
  static_cast<void>(Timer::alarm(0));
  static_cast<void>(Timer::clear(*id));
  j.print();
  return 0;
}

int timer_after_alarm(const Args&) {
  LogCapture cap;
  // The alarm is 10 s and disarmed below; ignoring SIGALRM keeps a slow machine safe.
  if (!Signals::ignore(SIGALRM) || !Timer::alarm(10'000'000)) return 1;
  auto id = Timer::after(10, [] {});
  JsonLine j;
  j.add("ok", id.has_value()).add("warned", cap.warned());
  if (!id) j.add("errno", error_name(id.error().code)).add("message", id.error().message);
  static_cast<void>(Timer::alarm(0));
  if (id) static_cast<void>(Timer::clear(*id));
  j.print();
  return 0;
}

int alarm_clear_after_timer(const Args&) {
  LogCapture cap;
  auto id = Timer::after(60'000, [] {});
  if (!id) return 1;
  Status s = Timer::alarm(0);
  JsonLine j;
  j.add("ok", s.has_value()).add("warned", cap.warned());
  add_error(j, s);
  static_cast<void>(Timer::clear(*id));
  j.print();
  return 0;
}

int timer_order(const Args& args) {
  if (args.empty()) return usage("probe timer-order MS...");
  auto loop = EventLoop::create();
  if (!loop) return 1;
  std::vector<long long> fired, rejected;
  for (const auto& a : args) {
    long long ms = 0;
    if (!parse_int(a, ms)) return usage("probe timer-order MS...");
    auto id = Timer::after(ms, [&fired, ms] { fired.push_back(ms); });
    if (!id) rejected.push_back(ms);
  }
  if (!(*loop)->run()) return 1;
  JsonLine j;
  j.add("fired", fired);
  if (!rejected.empty()) j.add("rejected", rejected);
  j.print();
  return 0;
}

int alarm_carry(const Args& args) {
  long long usec = 0, type = ITIMER_REAL;
  if (args.empty() || args.size() > 2 || !parse_int(args[0], usec) || (args.size() == 2 && !parse_int(args[1], type))) {
    return usage("probe alarm-carry USEC [TYPE]");
  }
  const int which = static_cast<int>(type);
  const int signo = Timer::alarm_signal(which);
  if (signo != 0 && !Signals::ignore(signo)) return 1;  // a slow machine must not die of it
  Status s = Timer::alarm(usec, which);
  itimerval tv{};
  if (signo != 0) ::getitimer(which, &tv);
  static_cast<void>(Timer::alarm(0, signo != 0 ? which : ITIMER_REAL));
  JsonLine j;
  j.add("ok", s.has_value())
      .add("interval_sec", static_cast<long long>(tv.it_interval.tv_sec))
      .add("interval_usec", static_cast<long long>(tv.it_interval.tv_usec))
      .add("signal", signo);
  add_error(j, s);
  j.print();
  return 0;
}

// Forks; the child (after the reset hooks) writes what `probe` returns; -1 if it failed.
template <class Fn>
long long ask_child(Fn probe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  UniqueFd rd(fds[0]), wr(fds[1]);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    detail::run_after_fork_child_hooks();
    const long long v = probe();
    static_cast<void>(::write(wr.get(), &v, sizeof v));
    ::_exit(0);
  }
  wr.reset();
  long long v = -1;
  pollfd p{rd.get(), POLLIN, 0};
  if (::poll(&p, 1, 10'000) <= 0 || ::read(rd.get(), &v, sizeof v) != sizeof v) v = -1;
  int status = 0;
  ::kill(pid, SIGKILL);  // harmless if it already exited; bounded either way
  ::waitpid(pid, &status, 0);
  return v;
}

int fork_clean(const Args&) {
  auto tick = Timer::tick(60'000, [](TimerId) {});
  if (!tick || !Signals::set(SIGUSR1, [](int) {})) return 1;
  const long long timers = ask_child([] { return static_cast<long long>(Timer::process_count()); });
  const long long handlers = ask_child([] { return static_cast<long long>(Signals::count()); });
  static_cast<void>(Timer::clear(*tick));
  if (!Signals::ignore(SIGALRM) || !Timer::alarm(10'000'000)) return 1;
  const long long alarm = ask_child([] {
    itimerval tv{};
    ::getitimer(ITIMER_REAL, &tv);
    return static_cast<long long>(Timer::alarm_armed() || tv.it_value.tv_sec != 0 || tv.it_value.tv_usec != 0);
  });
  static_cast<void>(Timer::alarm(0));
  JsonLine j;
  j.add("child_timers", timers).add("child_handlers", handlers);
  if (alarm < 0) {
    j.add_null("child_alarm");
  } else {
    j.add("child_alarm", alarm != 0);
  }
  j.print();
  return 0;
}

int signal_wait(const Args& args) {
  int signo = 0;
  if (args.size() != 1 || !parse_signal(args[0], signo)) return usage("probe signal-wait SIG");
  auto loop = EventLoop::create();
  if (!loop) return 1;
  EventLoop& l = **loop;
  bool ran = false;
  Status s = Signals::set(signo, [&](int) {
    ran = true;
    l.stop();
  });
  if (!s) {
    JsonLine j;
    j.add("ready", false);
    add_error(j, s);
    j.print();
    return 1;
  }
  auto deadline = Timer::after(30'000, [&l] { l.stop(); });
  if (!deadline) return 1;
  JsonLine().add("ready", true).add("pid", static_cast<long long>(::getpid())).print();
  l.set_wait_signal(true);
  if (!l.run()) return 1;
  JsonLine().add("handler_ran", ran).add("signal", signo).print();
  return ran ? 0 : 1;
}

const ProbeRegistrar reg_signal_register{"signal-register", &signal_register};
const ProbeRegistrar reg_signal_unregister{"signal-unregister", &signal_unregister};
const ProbeRegistrar reg_alarm_after_timer{"alarm-after-timer", &alarm_after_timer};
const ProbeRegistrar reg_timer_after_alarm{"timer-after-alarm", &timer_after_alarm};
const ProbeRegistrar reg_alarm_clear_after_timer{"alarm-clear-after-timer", &alarm_clear_after_timer};
const ProbeRegistrar reg_timer_order{"timer-order", &timer_order};
const ProbeRegistrar reg_signal_wait{"signal-wait", &signal_wait};
const ProbeRegistrar reg_alarm_carry{"alarm-carry", &alarm_carry};
const ProbeRegistrar reg_fork_clean{"fork-clean", &fork_clean};

}  // namespace
}  // namespace procspec::cli

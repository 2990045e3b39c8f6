// SPEC IUT probes for PRC and WAIT: each forks real children through procspec::Process and
// prints one JSON line. `warned` comes from a LogCapture around the call under test.
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "json.h"
#include "probe.h"
#include "procspec/log.h"
#include "procspec/process.h"

namespace procspec::cli {
namespace {

using namespace std::chrono_literals;

Result<Process> make(Process::Callback cb, PipeType t, bool redirect = false) {
  ProcessOptions o;
  o.pipe_type = t;
  o.redirect_stdio = redirect;
  return Process::create(std::move(cb), o);
}

int report_error(const Error& e) {
  std::fprintf(stderr, "probe: %s\n", e.message.c_str());
  return 1;
}

int wait_exit(const Args& args) {
  long long code = 0;
  if (args.size() != 1 || !parse_int(args[0], code) || code < 0 || code > 255) return usage("probe wait-exit CODE");
  auto p = make([code](Process& self) { (void)self.exit(static_cast<int>(code)); }, PipeType::none);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  WaitResult w = Process::wait(true);
  if (w.none()) return report_error(Error{w.none_reason, "wait returned none"});
  JsonLine().add("pid", static_cast<long long>(w.status->pid)).add("code", w.status->code).add("signal", w.status->signal).print();
  return 0;
}

int wait_signal(const Args& args) {
  long long sig = 0;
  if (args.size() != 1 || !parse_int(args[0], sig) || sig <= 0 || sig >= NSIG) return usage("probe wait-signal SIG");
  auto p = make([](Process& self) {
    (void)self.write("ready");
    for (;;) ::pause();
  }, PipeType::uds_dgram);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  (void)p->read();  // the child is past its setup: the signal meets the default disposition
  if (auto k = Process::kill(p->pid(), static_cast<int>(sig)); !k) return report_error(k.error());
  WaitResult w = Process::wait(true);
  if (w.none()) return report_error(Error{w.none_reason, "wait returned none"});
  JsonLine().add("pid", static_cast<long long>(w.status->pid)).add("code", w.status->code).add("signal", w.status->signal).print();
  return 0;
}

int wait_nohang(const Args&) {
  auto p = make([](Process& self) { (void)self.read(); }, PipeType::uds_dgram);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  bool warned = false;
  bool none = false;
  {
    LogCapture capture;
    WaitResult w = Process::wait(false);
    none = w.none();
    warned = capture.warned();
  }
  (void)p->write("exit");
  (void)p->join();
  JsonLine().add("result", none ? "none" : "status").add("warned", warned).print();
  return 0;
}

int wait_nochild(const Args&) {
  LogCapture capture;
  WaitResult w = Process::wait(true);
  JsonLine line;
  line.add("result", w.none() ? "none" : "status");
  if (w.none_reason) {
    line.add("errno", error_name(w.none_reason));
  } else {
    line.add_null("errno");
  }
  line.add("warned", capture.warned()).print();
  return 0;
}

volatile sig_atomic_t g_handler_ran = 0;
int g_poke_fd = -1;
void on_alarm(int) {
  g_handler_ran = 1;
  // Wakes the child, which exits: its exit can only come after the handler interrupted us.
  ssize_t ignored = ::write(g_poke_fd, "x", 1);
  (void)ignored;
}

int wait_eintr(const Args&) {
  auto p = make([](Process& self) { (void)self.read(); }, PipeType::uds_dgram);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  g_poke_fd = p->pipe_fd();
  struct sigaction sa {};
  sa.sa_handler = on_alarm;  // no SA_RESTART: waitpid returns EINTR and wait() must retry
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGALRM, &sa, nullptr);
  itimerval t{};
  t.it_value.tv_usec = 50000;
  ::setitimer(ITIMER_REAL, &t, nullptr);
  WaitResult w = Process::wait(true);
  JsonLine line;
  if (w.none()) {
    line.add("result", "none").add("errno", error_name(w.none_reason));
  } else {
    line.add("pid", static_cast<long long>(w.status->pid)).add("code", w.status->code).add("signal", w.status->signal);
  }
  line.add("handler_ran", g_handler_ran != 0).print();
  return 0;
}

int kill_missing(const Args& args) {
  long long sig = 0;
  if (args.size() != 1 || !parse_int(args[0], sig)) return usage("probe kill-missing SIG");
  // A pid that existed a moment ago: our own reaped child's.
  auto p = make([](Process&) {}, PipeType::none);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  auto st = p->join();
  if (!st) return report_error(st.error());
  LogCapture capture;
  Status k = Process::kill(st->pid, static_cast<int>(sig));
  JsonLine line;
  line.add("ok", k.has_value());
  if (k) {
    line.add_null("errno");
  } else {
    line.add("errno", error_name(k.error().code));
  }
  line.add("warned", capture.warned()).print();
  return 0;
}

// 1 uds_stream, 2 uds_dgram (SPEC PRC-1); beyond Swoole: 3 uds_batch, 4 shm_ring (or their names).
int pipe_type_arg(const std::string& s, PipeType& t) {
  auto parsed = parse_pipe_type(s);
  if (!parsed || *parsed == PipeType::none) return 0;
  t = *parsed;
  return 1;
}

int pipe_boundaries(const Args& args) {
  PipeType t{};
  if (args.size() != 1 || !pipe_type_arg(args[0], t)) return usage("probe pipe-boundaries 1|2|3|4");
  auto p = make([](Process& self) {
    for (const char* m : {"AAAAA", "BBBBB", "CCCCC"}) (void)self.write(m);
  }, t);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  if (auto j = p->join(); !j) return report_error(j.error());  // all three writes are queued
  std::vector<std::string> reads;
  for (int i = 0; i < 16; ++i) {
    auto r = p->read();
    if (!r || r->empty()) break;
    reads.push_back(*r);
  }
  JsonLine().add("reads", reads).print();
  return 0;
}

int pipe_oversize(const Args& args) {
  PipeType t{};
  long long bytes = 0;
  if (args.size() != 2 || !pipe_type_arg(args[0], t) || !parse_int(args[1], bytes) || bytes <= 0) {
    return usage("probe pipe-oversize 1|2|3|4 BYTES");
  }
  const auto total = static_cast<std::size_t>(bytes);
  // The child reads once with the default size, then drains what else arrives; it answers
  // "FIRST TOTAL ERRNO" so the parent can tell a silent loss from a reported one.
  auto p = make([total](Process& self) {
    auto first = self.read();
    std::string err = first ? "-" : error_name(first.error().code);
    std::size_t first_len = first ? first->size() : 0, got = first_len;
    (void)self.set_timeout(500ms);
    while (got < total) {
      auto more = self.read(1 << 20);
      if (!more || more->empty()) break;
      got += more->size();
    }
    (void)self.set_timeout(0ms);
    (void)self.write(std::to_string(first_len) + " " + std::to_string(got) + " " + err);
  }, t);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  auto w = p->write(std::string(total, 'o'));
  JsonLine line;
  line.add("write_ok", w.has_value());
  if (!w) {
    (void)p->close(PipeSide::write);
    (void)p->join();
    line.add("read_bytes", 0).add("lost_bytes", 0).add("errno", error_name(w.error().code)).print();
    return 0;
  }
  auto answer = p->read();
  (void)p->join();
  if (!answer) return report_error(answer.error());
  unsigned long long first = 0, got = 0;
  char err[64] = {};
  if (std::sscanf(answer->c_str(), "%llu %llu %63s", &first, &got, err) != 3) return report_error(Error{{}, "bad answer"});
  const bool reported = std::string(err) != "-";
  line.add("read_bytes", static_cast<long long>(first));
  // Bytes that vanished without any error being reported to the reader.
  line.add("lost_bytes", reported ? 0LL : static_cast<long long>(total - got));
  if (reported) {
    line.add("errno", err);
  } else {
    line.add_null("errno");
  }
  line.print();
  return 0;
}

int redirect_stdio(const Args&) {
  auto p = make([](Process&) { std::printf("hello\n"); }, PipeType::uds_stream, true);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  std::string all;
  for (auto r = p->read(); r && !r->empty(); r = p->read()) all += *r;
  (void)p->join();
  JsonLine().add("read", all).print();
  return 0;
}

int exec_probe(const Args& args) {
  if (args.empty()) return usage("probe exec PATH [ARG...]");
  const std::string path = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  auto p = make([&](Process& self) { (void)self.exec(path, rest); }, PipeType::uds_stream, true);
  if (!p) return report_error(p.error());
  if (auto s = p->start(); !s) return report_error(s.error());
  std::string output;
  std::optional<Error> error;
  for (;;) {
    auto r = p->read();
    if (!r) {
      error = r.error();
      break;
    }
    if (r->empty()) break;
    output += *r;
  }
  auto st = p->join();
  if (!st && !error) error = st.error();
  JsonLine line;
  line.add("ok", !error && st && st->code == 0).add("output", output);
  if (error) {
    line.add("errno", error_name(error->code)).add("message", error->message);
  } else {
    line.add("code", st ? st->code : -1);
  }
  line.print();
  return 0;
}

const ProbeRegistrar reg_wait_exit{"wait-exit", &wait_exit};
const ProbeRegistrar reg_wait_signal{"wait-signal", &wait_signal};
const ProbeRegistrar reg_wait_nohang{"wait-nohang", &wait_nohang};
const ProbeRegistrar reg_wait_nochild{"wait-nochild", &wait_nochild};
const ProbeRegistrar reg_wait_eintr{"wait-eintr", &wait_eintr};
const ProbeRegistrar reg_kill_missing{"kill-missing", &kill_missing};
const ProbeRegistrar reg_pipe_boundaries{"pipe-boundaries", &pipe_boundaries};
const ProbeRegistrar reg_pipe_oversize{"pipe-oversize", &pipe_oversize};
const ProbeRegistrar reg_redirect_stdio{"redirect-stdio", &redirect_stdio};
const ProbeRegistrar reg_exec{"exec", &exec_probe};

}  // namespace
}  // namespace procspec::cli

// SPEC IUT probes for MQ: SysV queue limits, NOWAIT behaviour and the two pop modes. Every
// queue a probe creates is removed before it prints.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "json.h"
#include "probe.h"
#include "procspec/log.h"
#include "procspec/msg_queue.h"
#include "procspec/process.h"

namespace procspec::cli {
namespace {

int report_error(const Error& e) {
  std::fprintf(stderr, "probe: %s\n", e.message.c_str());
  return 1;
}

void add_errno(JsonLine& line, const Status& s) {
  if (s) {
    line.add_null("errno");
  } else {
    line.add("errno", error_name(s.error().code));
  }
}

int queue_push(const Args& args) {
  long long bytes = 0;
  if (args.size() != 1 || !parse_int(args[0], bytes) || bytes < 0) return usage("probe queue-push BYTES");
  auto q = MsgQueue::open_private(2 | kQueueNoWait);
  if (!q) return report_error(q.error());
  LogCapture capture;
  auto r = q->push(std::string(static_cast<std::size_t>(bytes), 'q'));
  Status s = r ? Status{} : Status{forward_error(r.error())};
  JsonLine line;
  line.add("ok", r.has_value());
  add_errno(line, s);
  line.add("warned", capture.warned()).add("msgmax", static_cast<long long>(q->msgmax())).print();
  return 0;
}

int queue_nowait(const Args& args) {
  if (args.size() != 1 || (args[0] != "full" && args[0] != "empty")) return usage("probe queue-nowait full|empty");
  // A small capacity (lowering msg_qbytes needs no privilege) fills in a few pushes.
  auto q = MsgQueue::open_private(2 | kQueueNoWait, args[0] == "full" ? 1024 : 0);
  if (!q) return report_error(q.error());
  LogCapture capture;
  Status last;
  if (args[0] == "full") {
    for (int i = 0; i < 1000; ++i) {
      auto r = q->push(std::string(100, 'f'));
      if (!r) {
        last = forward_error(r.error());
        break;
      }
    }
  } else {
    auto r = q->pop();
    if (!r) last = forward_error(r.error());
  }
  JsonLine line;
  line.add("ok", last.has_value());
  add_errno(line, last);
  line.add("warned", capture.warned()).print();
  return 0;
}

int queue_modes(const Args& args) {
  if (args.size() != 1 || (args[0] != "1" && args[0] != "2")) return usage("probe queue-modes 1|2");
  const int mode = args[0] == "1" ? 1 : 2;
  const auto key = static_cast<key_t>(0x50510000 | (::getpid() & 0xffff));
  auto a = Process::create([](Process&) {});
  auto b = Process::create([](Process&) {});
  if (!a || !b) return report_error(a ? b.error() : a.error());
  if (auto s = a->use_queue(key, mode | kQueueNoWait); !s) return report_error(s.error());
  if (auto s = b->use_queue(key, mode | kQueueNoWait); !s) {
    (void)a->free_queue();
    return report_error(s.error());
  }
  bool popped = false;
  if (auto pushed = a->push("from-first"); pushed) {
    auto r = b->pop();
    popped = r && *r == "from-first";
  }
  (void)a->free_queue();  // keyed queues persist by design: remove it explicitly
  JsonLine().add("popped_by_other", popped).print();
  return 0;
}

const ProbeRegistrar reg_queue_push{"queue-push", &queue_push};
const ProbeRegistrar reg_queue_nowait{"queue-nowait", &queue_nowait};
const ProbeRegistrar reg_queue_modes{"queue-modes", &queue_modes};

}  // namespace
}  // namespace procspec::cli

// SPEC MQ: SysV message queues through MsgQueue and the Process wrappers, with real producer and
// consumer processes. Registered with the "sysvmsg" resource lock: every queue that appears
// during a test is this test's, and must be gone at its end.
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "procspec/log.h"
#include "procspec/msg_queue.h"
#include "procspec/process.h"
#include "support/child.h"
#include "support/leak_check.h"

namespace procspec {
namespace {

class MsgQueueTest : public test::LeakCheckedTest {
 public:
  MsgQueueTest() { check_msg_queues_ = true; }

 protected:
  void SetUp() override {
    // Other programs on the machine create and remove queues at any time, which would make
    // "no queue appeared" checks flaky. Where permitted, each test gets a fresh IPC namespace:
    // same kernel queues, but `ipcs -q` (and /proc/sysvipc/msg) then shows ours alone.
    // Without the privilege the test runs in the shared namespace under the sysvmsg lock.
    (void)::unshare(CLONE_NEWIPC);
    LeakCheckedTest::SetUp();
  }
};

// A key unlikely to collide with anyone else's queue; the test process's pid, also in its
// children (which compute keys after fork).
const pid_t g_test_pid = ::getpid();
key_t test_key(int n) { return static_cast<key_t>(0x50530000 | ((g_test_pid & 0xfff) << 4) | n); }

MsgQueue open_keyed(key_t key, int mode = 2, std::size_t capacity = 0) {
  QueueOptions o;
  o.key = key;
  o.mode = mode;
  o.capacity = capacity;
  auto q = MsgQueue::open(o);
  PROCSPEC_CHECK(q.has_value(), "MsgQueue::open failed in a test");
  return std::move(q).value();
}

Process make(Process::Callback cb) {
  auto p = Process::create(std::move(cb));
  PROCSPEC_CHECK(p.has_value(), "Process::create failed in a test");
  return std::move(p).value();
}

TEST_F(MsgQueueTest, MQ1_KeyZeroIsFtokOfTheProgram) {
  Process p = make([](Process&) {});
  ASSERT_TRUE(p.use_queue());
  auto expected = MsgQueue::default_key();
  ASSERT_TRUE(expected);
  EXPECT_EQ(p.queue()->key(), *expected);
  EXPECT_EQ(p.queue()->tag(), p.id() + 1);
  EXPECT_FALSE(p.queue()->nowait());
  ASSERT_TRUE(p.free_queue());
  EXPECT_EQ(p.use_queue(test_key(1), 3).error().code, errc::invalid_argument);
}

TEST_F(MsgQueueTest, MQ1_PerProcessModeTagsMessagesSharedModeDoesNot) {
  for (int mode : {1, 2}) {
    Process a = make([](Process&) {});
    Process b = make([](Process&) {});
    ASSERT_TRUE(a.use_queue(test_key(2), mode | kQueueNoWait));
    ASSERT_TRUE(b.use_queue(test_key(2), mode | kQueueNoWait));
    EXPECT_TRUE(b.queue()->nowait());
    ASSERT_TRUE(a.push("from-a"));
    auto by_b = b.pop();
    if (mode == 1) {
      ASSERT_FALSE(by_b);
      EXPECT_EQ(by_b.error().code, std::errc::no_message);
      EXPECT_EQ(a.pop().value_or(""), "from-a");  // its own tag
    } else {
      EXPECT_EQ(by_b.value_or(""), "from-a");
    }
    ASSERT_TRUE(a.free_queue());
  }
}

TEST_F(MsgQueueTest, MQ2_EmptyAndOversizeAreRejectedBeforeTheSyscall) {
  MsgQueue q = open_keyed(test_key(3));
  const std::size_t msgmax = MsgQueue::kernel_msgmax();
  EXPECT_EQ(q.msgmax(), msgmax);
  EXPECT_EQ(q.push("").error().code, errc::payload_empty);
  LogCapture log;
  auto big = q.push(std::string(msgmax + 1, 'x'));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, errc::payload_too_large);  // not the kernel's EINVAL
  EXPECT_NE(big.error().message.find("msgmax " + std::to_string(msgmax)), std::string::npos) << big.error().message;
  EXPECT_EQ(q.stat().value().messages, 0u);
  auto exact = q.push(std::string(msgmax, 'y'));
  ASSERT_TRUE(exact) << exact.error().message;
  EXPECT_EQ(q.pop(static_cast<std::ptrdiff_t>(msgmax)).value_or("").size(), msgmax);
  ASSERT_TRUE(q.free());
}

TEST_F(MsgQueueTest, MQ3_NonBlockingFullAndEmptyAreNotWarnings) {
  MsgQueue q = open_keyed(test_key(4), 2 | kQueueNoWait, 1024);  // lowering msg_qbytes needs no privilege
  LogCapture log;
  auto empty = q.pop();
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, std::errc::no_message);  // ENOMSG
  int pushed = 0;
  Result<std::size_t> r = std::size_t{0};
  while ((r = q.push(std::string(100, 'f'))) && pushed < 100) ++pushed;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::resource_unavailable_try_again);  // EAGAIN
  EXPECT_EQ(pushed, 10);
  EXPECT_FALSE(log.warned());
  ASSERT_TRUE(q.free());
}

TEST_F(MsgQueueTest, MQ4_PopSmallerThanTheMessageFailsAndTheMessageStays) {
  MsgQueue q = open_keyed(test_key(5), 2 | kQueueNoWait);
  ASSERT_TRUE(q.push(std::string(100, 'm')));
  auto small = q.pop(10);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().code, std::errc::argument_list_too_long);  // E2BIG
  EXPECT_EQ(q.stat().value().messages, 1u);
  EXPECT_EQ(q.pop(100).value_or("").size(), 100u);
  EXPECT_EQ(q.pop(0).error().code, errc::invalid_argument);
  ASSERT_TRUE(q.free());
}

// spec: MQ-3 MQ-5
TEST_F(MsgQueueTest, MQ4_PopIntoReusesTheCallersStringAndKeepsEveryError) {
  MsgQueue q = open_keyed(test_key(9), 2 | kQueueNoWait);
  std::string out;
  out.reserve(4096);
  const char* storage = out.data();
  for (std::size_t len : {100u, 7u, 1000u}) {
    ASSERT_TRUE(q.push(std::string(len, static_cast<char>('a' + len % 26))));
    auto r = q.pop_into(out, 4096);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, len);
    EXPECT_EQ(out, std::string(len, static_cast<char>('a' + len % 26)));
    EXPECT_EQ(out.data(), storage);  // the capacity was reused, nothing reallocated
  }
  // MQ-4: too long for maxsize is E2BIG, the message stays, out is left empty.
  ASSERT_TRUE(q.push(std::string(100, 'm')));
  auto small = q.pop_into(out, 10);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().code, std::errc::argument_list_too_long);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(q.stat().value().messages, 1u);
  EXPECT_EQ(q.pop_into(out, 100).value_or(0), 100u);
  EXPECT_EQ(q.pop_into(out, 0).error().code, errc::invalid_argument);
  // MQ-3: empty and non-blocking is ENOMSG, not a warning.
  LogCapture log;
  auto none = q.pop_into(out);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, std::errc::no_message);
  EXPECT_FALSE(log.warned());
  // An empty message (only a raw msgsnd can queue one) is popped as an empty string.
  const long mtype = 1;
  ASSERT_EQ(::msgsnd(q.id(), &mtype, 0, 0), 0);
  out = "stale";
  EXPECT_EQ(q.pop_into(out).value_or(99), 0u);
  EXPECT_TRUE(out.empty());
  // pop_view: the message without a copy, valid until the next call.
  ASSERT_TRUE(q.push("view-1"));
  ASSERT_TRUE(q.push("view-2"));
  EXPECT_EQ(q.pop_view().value_or(""), "view-1");
  EXPECT_EQ(q.pop_view().value_or(""), "view-2");
  ASSERT_TRUE(q.free());
  EXPECT_EQ(q.pop_into(out).error().code, errc::not_started);
  EXPECT_EQ(q.pop_view().error().code, errc::not_started);

  Process p = make([](Process&) {});
  EXPECT_EQ(p.pop_into(out).error().code, errc::not_started);  // no use_queue yet
  ASSERT_TRUE(p.use_queue(test_key(9), 1 | kQueueNoWait));
  ASSERT_TRUE(p.push("tagged"));
  EXPECT_EQ(p.pop_into(out).value_or(0), 6u);
  EXPECT_EQ(out, "tagged");
  ASSERT_TRUE(p.free_queue());
}

// spec: MQ-1
TEST_F(MsgQueueTest, MQ2_PrepareAndPushPreparedSendInPlaceWithPushsLimits) {
  MsgQueue q = open_keyed(test_key(10), 2 | kQueueNoWait);
  const std::size_t msgmax = q.msgmax();
  EXPECT_EQ(q.prepare(0).error().code, errc::payload_empty);
  auto big = q.prepare(msgmax + 1);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, errc::payload_too_large);
  EXPECT_NE(big.error().message.find("msgmax " + std::to_string(msgmax)), std::string::npos) << big.error().message;
  EXPECT_EQ(q.push_prepared(1).error().code, errc::invalid_argument);  // nothing prepared
  auto area = q.prepare(8);
  ASSERT_TRUE(area) << area.error().message;
  ASSERT_EQ(area->size(), 8u);
  std::memcpy(area->data(), "in-place", 8);
  ASSERT_TRUE(q.push("other"));  // a push takes the send buffer back
  EXPECT_EQ(q.push_prepared(8).error().code, errc::invalid_argument);
  area = q.prepare(8);
  ASSERT_TRUE(area);
  std::memcpy(area->data(), "in-place", 8);
  EXPECT_EQ(q.pop().value_or(""), "other");  // a pop leaves the prepared message alone
  EXPECT_EQ(q.push_prepared(9).error().code, errc::invalid_argument);  // more than was lent
  EXPECT_EQ(q.push_prepared(2).value_or(0), 2u);  // a prefix
  EXPECT_EQ(q.push_prepared(8).value_or(0), 8u);
  EXPECT_EQ(q.pop().value_or(""), "in");
  EXPECT_EQ(q.pop().value_or(""), "in-place");
  // The mtype is the queue's tag, as for push (mode 1 pops only its own tag).
  MsgQueue tagged = open_keyed(test_key(11), 1 | kQueueNoWait);
  area = tagged.prepare(3);
  ASSERT_TRUE(area);
  std::memcpy(area->data(), "tag", 3);
  ASSERT_TRUE(tagged.push_prepared(3));
  EXPECT_EQ(tagged.pop().value_or(""), "tag");
  ASSERT_TRUE(tagged.free());
  // MQ-3: a full NOWAIT queue is EAGAIN without a warning, as for push.
  MsgQueue small = open_keyed(test_key(12), 2 | kQueueNoWait, 100);
  area = small.prepare(100);
  ASSERT_TRUE(area);
  ASSERT_TRUE(small.push_prepared(100));
  LogCapture log;
  auto full = small.push_prepared(100);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, std::errc::resource_unavailable_try_again);
  EXPECT_FALSE(log.warned());
  ASSERT_TRUE(small.free());
  ASSERT_TRUE(q.free());
  EXPECT_EQ(q.push_prepared(8).error().code, errc::not_started);
  EXPECT_EQ(q.prepare(8).error().code, errc::not_started);
}

TEST_F(MsgQueueTest, MQ5_MessagesSurviveAConsumerCrashAndStatCountsThem) {
  Process producer = make([](Process&) {});
  ASSERT_TRUE(producer.use_queue(test_key(6)));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(producer.push("job-" + std::to_string(i)));
  auto st = producer.stat_queue();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->messages, 5u);
  EXPECT_EQ(st->bytes, 25u);
  // The first consumer takes one job and crashes before the rest.
  Process crasher = make([](Process& self) {
    if (!self.use_queue(test_key(6)) || !self.pop()) ::_exit(9);
    ::raise(SIGKILL);
  });
  ASSERT_TRUE(crasher.start());
  EXPECT_EQ(crasher.join().value().signal, SIGKILL);
  EXPECT_EQ(producer.stat_queue().value().messages, 4u);
  Process successor = make([](Process& self) {
    if (!self.use_queue(test_key(6), 2 | kQueueNoWait)) ::_exit(9);
    std::string got;
    for (auto r = self.pop(); r; r = self.pop()) got += *r + ",";
    (void)self.write(got);
  });
  ASSERT_TRUE(successor.start());
  EXPECT_EQ(successor.read().value_or(""), "job-1,job-2,job-3,job-4,");
  ASSERT_TRUE(successor.join());
  const int id = producer.queue()->id();
  ASSERT_TRUE(producer.free_queue());
  msqid_ds ds{};
  EXPECT_EQ(::msgctl(id, IPC_STAT, &ds), -1);  // removed
  EXPECT_EQ(producer.stat_queue().error().code, errc::not_started);
}

TEST_F(MsgQueueTest, MQ6_QueuesAreCreated0600) {
  MsgQueue keyed = open_keyed(test_key(7));
  auto priv = MsgQueue::open_private();
  ASSERT_TRUE(priv);
  for (int id : {keyed.id(), priv->id()}) {
    msqid_ds ds{};
    ASSERT_EQ(::msgctl(id, IPC_STAT, &ds), 0);
    EXPECT_EQ(ds.msg_perm.mode & 0777, 0600);
  }
  ASSERT_TRUE(keyed.free());
}

TEST_F(MsgQueueTest, MQ7_APoisonMessageYieldsOneErrorAndTheConsumerGoesOn) {
  auto q = MsgQueue::open_private(2 | kQueueNoWait);
  ASSERT_TRUE(q);
  for (std::string m : {std::string("a"), std::string(500, 'P'), std::string("b")}) ASSERT_TRUE(q->push(m));
  std::string got;
  int errors = 0;
  for (int i = 0; i < 10; ++i) {  // bounded: an endless error loop fails the count below
    auto r = q->pop(100);
    if (r) {
      got += *r;
      continue;
    }
    if (r.error().code == std::errc::no_message) break;
    ++errors;
    ASSERT_EQ(r.error().code, std::errc::argument_list_too_long);
    ASSERT_TRUE(q->discard());
  }
  EXPECT_EQ(got, "ab");
  EXPECT_EQ(errors, 1);
}

TEST_F(MsgQueueTest, MQ7_PrivateQueueRemovedOnCleanExitOfItsCreator) {
  const auto before = test::msg_queue_ids();
  Process p = make([](Process& self) {
    auto q = MsgQueue::open_private();
    if (!q || !q->push("x")) ::_exit(9);
    (void)self.write(std::to_string(q->id()));
    (void)self.read();
  });  // q is destroyed when the callback returns: the clean exit removes it
  ASSERT_TRUE(p.start());
  auto id = p.read();
  ASSERT_TRUE(id);
  EXPECT_TRUE(test::msg_queue_ids().count(std::stoi(*id)));
  ASSERT_TRUE(p.write("exit"));
  EXPECT_EQ(p.join().value().code, 0);
  EXPECT_EQ(test::msg_queue_ids(), before);
}

TEST_F(MsgQueueTest, MQ7_FiftyKillNineRestartCyclesLeakNoQueue) {
  const auto before = test::msg_queue_ids();
  {
    auto shared = MsgQueue::open_private();  // owned by the surviving parent
    ASSERT_TRUE(shared);
    for (int cycle = 0; cycle < 50; ++cycle) {
      Process consumer = make([](Process& self) {
        // The restarted consumer reopens its keyed queue (same key: the same queue).
        if (!self.use_queue(test_key(8))) ::_exit(9);
        (void)self.write("ready");
        (void)self.pop();  // blocks until killed
      });
      ASSERT_TRUE(consumer.start());
      ASSERT_EQ(consumer.read().value_or(""), "ready") << "cycle " << cycle;
      ASSERT_TRUE(Process::kill(consumer.pid(), SIGKILL));
      ASSERT_EQ(consumer.join().value().signal, SIGKILL);
    }
    // One keyed queue (persistent by design) and the parent's private one; nothing per cycle.
    EXPECT_EQ(test::msg_queue_ids().size(), before.size() + 2);
    MsgQueue keyed = open_keyed(test_key(8));
    ASSERT_TRUE(keyed.free());
  }
  EXPECT_EQ(test::msg_queue_ids(), before);  // `ipcs -q` unchanged
}

}  // namespace
}  // namespace procspec

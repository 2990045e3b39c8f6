// Process pipes on the fast channels (issue #9): PipeType::uds_batch and PipeType::shm_ring keep
// every Process rule a message pipe has (PRC-5..7, PRC-11..13) — on real forked children — plus
// their own: uds_batch's flush rule, the refusal of stdio redirection and (shm_ring) exec.
// Every case runs on both types unless its name says otherwise; child code reports through the
// pipe, a side pipe(2) or its exit status, and GoogleTest assertions run only in the parent.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "procspec/event_loop.h"
#include "procspec/log.h"
#include "procspec/process.h"
#include "procspec/timer.h"
#include "support/child.h"
#include "support/leak_check.h"
#include "support/process_fixture.h"
#include "support/seed.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;

constexpr PipeType kFastTypes[] = {PipeType::uds_batch, PipeType::shm_ring};
constexpr std::size_t kSmallRing = 4096;  // so that "larger than the ring" is cheap to test

Process make(Process::Callback cb, PipeType t) {
  ProcessOptions o;
  o.pipe_type = t;
  o.ring_size = kSmallRing;
  auto p = Process::create(std::move(cb), o);
  PROCSPEC_CHECK(p.has_value(), "Process::create failed in a test");
  return std::move(p).value();
}

// Message `seq` of `n` bytes: its number up front, a pattern that differs per message after it.
std::string payload(std::uint64_t seq, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((seq * 131 + i * 7 + (i >> 8)) & 0xff);
  for (std::size_t i = 0; i < 8 && i < n; ++i) s[i] = static_cast<char>((seq >> (8 * i)) & 0xff);
  return s;
}

// Sizes around the read size (8192), the ring (4096) and its half, and far beyond both.
std::vector<std::size_t> sizes(std::uint64_t seed, std::size_t count) {
  const std::vector<std::size_t> edges{1, 2047, 2048, 2049, 4095, 4096, 4097, 8191, 8192, 8193, 70000, 300000};
  std::vector<std::size_t> out(edges);
  std::mt19937_64 rng(seed);
  while (out.size() < count) out.push_back(1 + rng() % ((rng() % 8 == 0) ? 50000 : 1500));
  return out;
}

class ProcessFastPipe : public test::LeakCheckedTest {};

// spec: PRC-6 PRC-7 IPC-1
TEST_F(ProcessFastPipe, PRC6_ManyMessagesKeepOrderAndBoundariesLargerThanRingAndReadSize) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const std::vector<std::size_t> n = sizes(seed, 600);
  for (PipeType t : kFastTypes) {
    SCOPED_TRACE(std::string(pipe_type_name(t)));
    // The child echoes each message (read with a tiny `size`: a hint, never a cut), then sends the
    // whole list again in one burst while the parent is still busy.
    Process p = make([&n](Process& self) {
      for (std::size_t i = 0; i < n.size(); ++i) {
        auto m = self.read(16);
        if (!m || m->size() != n[i] || !self.write(*m)) (void)self.exit(10);
      }
      for (std::size_t i = 0; i < n.size(); ++i) {
        if (!self.write(payload(i + 1000, n[i]))) (void)self.exit(11);
      }
    }, t);
    ASSERT_TRUE(p.start());
    ASSERT_TRUE(p.set_timeout(20s));  // bounds, not figures
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string m = payload(i, n[i]);
      ASSERT_TRUE(p.write(m)) << "message " << i;
      auto back = p.read(16);
      ASSERT_TRUE(back) << back.error().message;
      ASSERT_TRUE(*back == m) << "echo " << i << " of " << n[i] << " bytes came back as " << back->size();
    }
    std::string buf;
    for (std::size_t i = 0; i < n.size(); ++i) {
      auto r = p.read_into(buf, 100);
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(*r, n[i]) << "burst message " << i;
      ASSERT_TRUE(buf == payload(i + 1000, n[i])) << "burst message " << i << " differs";
    }
    EXPECT_EQ(p.read().value_or("?"), "");  // the child is done: end-of-file
    EXPECT_EQ(p.join().value().code, 0);
  }
}

// spec: PRC-5
TEST_F(ProcessFastPipe, PRC7_OversizeAndEmptyWritesAreErrorsNamingTheLimit) {
  for (PipeType t : kFastTypes) {
    SCOPED_TRACE(std::string(pipe_type_name(t)));
    Process p = make([](Process&) {}, t);
    EXPECT_EQ(p.max_message_size(), Process::kMaxMessage);
    auto big = p.write(std::string(Process::kMaxMessage + 1, 'x'));
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code, errc::payload_too_large);
    EXPECT_NE(big.error().message.find(std::to_string(Process::kMaxMessage)), std::string::npos) << big.error().message;
    EXPECT_NE(big.error().message.find(pipe_type_name(t)), std::string::npos) << big.error().message;
    EXPECT_EQ(p.write("").error().code, errc::payload_empty);
    EXPECT_EQ(p.read(0).error().code, errc::invalid_argument);
  }
}

// spec: PRC-13
TEST_F(ProcessFastPipe, PRC13_NonBlockingEagainAndTimeoutsWithoutWarnings) {
  for (PipeType t : kFastTypes) {
    SCOPED_TRACE(std::string(pipe_type_name(t)));
    Process p = make([](Process& self) {
      (void)self.set_timeout(20s);
      (void)self.read();  // waits for "go" without reading anything before it
    }, t);
    ASSERT_TRUE(p.start());
    LogCapture log;
    ASSERT_TRUE(p.set_blocking(false));
    auto r = p.read();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::resource_unavailable_try_again);
    ASSERT_TRUE(p.set_blocking(true));
    ASSERT_TRUE(p.set_timeout(150ms));
    r = p.read();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::timed_out);
    EXPECT_FALSE(log.warned());
    ASSERT_TRUE(p.write("go"));
    ASSERT_TRUE(p.set_timeout(20s));
    EXPECT_EQ(p.read().value_or("?"), "");
    EXPECT_EQ(p.join().value().code, 0);
  }
  for (PipeType t : kFastTypes) {
    SCOPED_TRACE(std::string(pipe_type_name(t)) + ": write timeout");
    Process p = make([](Process&) { ::pause(); }, t);  // never reads
    ASSERT_TRUE(p.start());
    ASSERT_TRUE(p.set_timeout(100ms));
    const std::string chunk(60000, 'w');
    Result<std::size_t> w = std::size_t{0};
    int n = 0;
    for (; n < 2000 && w; ++n) w = p.write(chunk);  // 120 MB at most: socket buffers are far smaller
    ASSERT_FALSE(w) << "wrote " << n << " messages without the reader";
    EXPECT_EQ(w.error().code, std::errc::timed_out) << w.error().message;
    ASSERT_TRUE(p.set_blocking(false));  // still full: a non-blocking write is refused whole
    auto nb = p.write(chunk);
    ASSERT_FALSE(nb);
    EXPECT_EQ(nb.error().code, std::errc::resource_unavailable_try_again) << nb.error().message;
    ASSERT_TRUE(Process::kill(p.pid(), SIGKILL));
    EXPECT_EQ(p.join().value().signal, SIGKILL);
    LogCapture lost;
    { Process gone = std::move(p); }  // what the dead reader never took is reported, not hidden
    EXPECT_TRUE(lost.warned());
  }
}

// spec: PRC-13 IPC-1
TEST_F(ProcessFastPipe, PRC13_SigkilledChildIsEofAfterItsWholeMessages) {
  for (PipeType t : kFastTypes) {
    for (bool timed : {false, true}) {
      SCOPED_TRACE(std::string(pipe_type_name(t)) + (timed ? " (timed reads)" : " (blocking reads)"));
      Process p = make([](Process& self) {
        for (std::uint64_t seq = 0;; ++seq) {  // until killed; sizes cross the ring often
          if (!self.write(payload(seq, 1 + (seq * 977) % 9000))) (void)self.exit(12);
        }
      }, t);
      ASSERT_TRUE(p.start());
      if (timed) {
        ASSERT_TRUE(p.set_timeout(20s));
      }
      std::uint64_t seq = 0;
      for (; seq < 300; ++seq) {
        auto m = p.read();
        ASSERT_TRUE(m && *m == payload(seq, 1 + (seq * 977) % 9000)) << "message " << seq;
      }
      ASSERT_TRUE(Process::kill(p.pid(), SIGKILL));
      for (;; ++seq) {  // whatever whole messages it wrote before it died, then the end
        auto m = p.read();
        ASSERT_TRUE(m) << m.error().message;
        if (m->empty()) break;
        ASSERT_TRUE(*m == payload(seq, 1 + (seq * 977) % 9000)) << "message " << seq;
        ASSERT_LT(seq, 100000000u);
      }
      EXPECT_EQ(p.read().value_or("?"), "") << "end-of-file again";
      EXPECT_EQ(p.join().value().signal, SIGKILL);
    }
  }
}

// spec: PRC-11
TEST_F(ProcessFastPipe, PRC11_CloseWriteIsEofAfterTheMessagesAndReadStillWorks) {
  for (PipeType t : kFastTypes) {
    SCOPED_TRACE(std::string(pipe_type_name(t)));
    Process p = make([](Process& self) {
      std::string got;
      for (int i = 0; i < 5; ++i) {
        auto m = self.read();
        if (!m) (void)self.exit(13);
        got += m->empty() ? std::string("|eof") : "|" + *m;
        if (m->empty() && i == 3) break;
      }
      (void)self.write(got);
    }, t);
    ASSERT_TRUE(p.start());
    ASSERT_TRUE(p.set_blocking(false));  // uds_batch: buffered, close() writes them first
    ASSERT_TRUE(p.write("a"));
    ASSERT_TRUE(p.write("b"));
    ASSERT_TRUE(p.close(PipeSide::write));
    EXPECT_EQ(p.write("c").error().code, std::errc::broken_pipe);
    ASSERT_TRUE(p.set_blocking(true));
    ASSERT_TRUE(p.set_timeout(20s));
    EXPECT_EQ(p.read().value_or("?"), "|a|b|eof|eof");
    ASSERT_TRUE(p.close(PipeSide::read));
    EXPECT_EQ(p.read().value_or("?"), "");
    ASSERT_TRUE(p.close(PipeSide::both));
    EXPECT_EQ(p.write("y").error().code, errc::no_pipe);
    EXPECT_EQ(p.close().error().code, errc::no_pipe);
    EXPECT_EQ(p.join().value().code, 0);
  }
}

// Subreaper: the orphaned grandchild is reparented to us and reaped here.
class ProcessFastPipeOrphan : public test::SubreaperFixture {};

// spec: PRC-13
TEST_F(ProcessFastPipeOrphan, PRC12_ChildSeesItsSigkilledParentGoAfterItsMessages) {
  for (PipeType t : kFastTypes) {
    SCOPED_TRACE(std::string(pipe_type_name(t)));
    int side[2];
    ASSERT_EQ(::pipe2(side, O_CLOEXEC), 0);
    auto mid = test::spawn_child([&]() {
      auto p = Process::create([out = side[1]](Process& self) {
        ::alarm(30);  // a hang is a failure, not a stuck test
        std::string got;
        for (int i = 0; i < 3; ++i) {
          auto m = self.read();
          got += !m ? "|error" : m->empty() ? "|eof" : "|" + *m;
          if (!m || m->empty()) break;
        }
        (void)!::write(out, got.data(), got.size());
      }, ProcessOptions{.pipe_type = t, .ring_size = kSmallRing});
      if (!p || !p->start() || !p->write("last words")) return 1;
      ::kill(::getpid(), SIGKILL);  // no destructor, no goodbye: only the pid watch can tell
      return 2;
    });
    ::close(side[1]);
    ASSERT_TRUE(mid);
    EXPECT_EQ(test::wait_child(*mid).value().signal, SIGKILL);
    EXPECT_EQ(test::read_with_deadline(side[0]).value_or("timeout"), "|last words|eof");
    ::close(side[0]);
    auto w = Process::wait();
    ASSERT_TRUE(w) << w.none_reason.message();
    EXPECT_EQ(w.status->code, 0);
  }
}

// spec: PRC-8
TEST_F(ProcessFastPipe, PRC4_RedirectStdioIsRefusedAndExecOnlyOnUdsBatch) {
  for (PipeType t : kFastTypes) {
    ProcessOptions o;
    o.pipe_type = t;
    o.redirect_stdio = true;
    auto p = Process::create([](Process&) {}, o);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, errc::invalid_argument);
    EXPECT_NE(p.error().message.find(pipe_type_name(t)), std::string::npos) << p.error().message;
    EXPECT_NE(p.error().message.find("redirect_stdio"), std::string::npos) << p.error().message;
  }
  Process ring = make([](Process& self) {
    Status s = self.exec("/bin/true");
    const bool named = !s && s.error().message.find("shm_ring") != std::string::npos;
    (void)self.write(named ? "refused" : "?");
  }, PipeType::shm_ring);
  ASSERT_TRUE(ring.start());
  ASSERT_TRUE(ring.set_timeout(20s));
  EXPECT_EQ(ring.read().value_or("timeout"), "refused");
  EXPECT_EQ(ring.join().value().code, 0);
  // uds_batch: the program does not inherit the pipe (as without redirect_stdio on any type); a
  // message buffered before exec is written first.
  Process batch = make([](Process& self) {
    (void)self.set_blocking(false);
    (void)self.write("before exec");
    (void)self.exec("/bin/true");
    (void)self.exit(14);
  }, PipeType::uds_batch);
  ASSERT_TRUE(batch.start());
  ASSERT_TRUE(batch.set_timeout(20s));
  EXPECT_EQ(batch.read().value_or("timeout"), "before exec");
  EXPECT_EQ(batch.read().value_or("timeout"), "");
  EXPECT_EQ(batch.join().value().code, 0);
}

// spec: IPC-1
TEST_F(ProcessFastPipe, PRC5_UdsBatchNonBlockingWritesWaitForTheFlushRule) {
  int side[2];
  ASSERT_EQ(::pipe2(side, O_CLOEXEC), 0);
  // The child reports on the side pipe whether each message was visible before and after.
  Process p = make([out = side[1]](Process& self) {
    auto say = [out](const std::string& s) { (void)!::write(out, s.data(), s.size()); };
    (void)self.set_timeout(300ms);
    auto early = self.read();
    say(!early && early.error().code == std::errc::timed_out ? "not yet" : "visible too early");
    (void)self.set_timeout(20s);
    for (const char* want : {"flushed", "end of turn", "batch", "destroyed"}) {
      auto m = self.read();
      say(m && *m == want ? std::string("got ") + want : "wrong: " + m.value_or("error"));
      for (int i = 0; std::string(want) == "batch" && i < 63; ++i) (void)self.read();
    }
  }, PipeType::uds_batch);
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.set_blocking(false));
  ASSERT_TRUE(p.write("flushed"));
  EXPECT_TRUE(p.has_pending());
  EXPECT_EQ(test::read_with_deadline(side[0]).value_or("timeout"), "not yet");
  ASSERT_TRUE(p.flush());
  EXPECT_FALSE(p.has_pending());
  EXPECT_EQ(test::read_with_deadline(side[0]).value_or("timeout"), "got flushed");

  {  // a write in an EventLoop callback goes out when the turn ends, with no call of ours
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop);
    std::string report;
    ASSERT_TRUE((*loop)->add(side[0], [&] {
      report = test::read_with_deadline(side[0]).value_or("timeout");
      (*loop)->stop();
    }));
    (*loop)->defer([&] { EXPECT_TRUE(p.write("end of turn")); });
    auto guard = Timer::after(20000, [&] { (*loop)->stop(); });
    ASSERT_TRUE(guard);
    ASSERT_TRUE((*loop)->run());
    (void)Timer::clear(*guard);
    ASSERT_TRUE((*loop)->remove(side[0]));
    EXPECT_EQ(report, "got end of turn");
  }

  // 64 KiB buffered go out without waiting for anything else (frames: 24 bytes + the message).
  ASSERT_TRUE(p.write("batch"));
  for (int i = 0; i < 62; ++i) ASSERT_TRUE(p.write(std::string(1024, 'b')));  // 65005 bytes
  EXPECT_TRUE(p.has_pending());
  ASSERT_TRUE(p.write(std::string(1024, 'b')));
  EXPECT_FALSE(p.has_pending()) << "64 KiB were buffered and the socket had room";
  EXPECT_EQ(test::read_with_deadline(side[0]).value_or("timeout"), "got batch");

  ASSERT_TRUE(p.write("destroyed"));
  const pid_t pid = p.pid();
  p.detach();
  { Process gone = std::move(p); }  // the destructor writes the buffered message
  EXPECT_EQ(test::read_with_deadline(side[0]).value_or("timeout"), "got destroyed");
  ::close(side[0]);
  ::close(side[1]);
  EXPECT_EQ(test::wait_child(pid).value().code, 0);
}

}  // namespace
}  // namespace procspec

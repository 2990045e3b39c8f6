// SPEC PRC: a Process's pipe — write and read sizes, message boundaries per pipe type, read_into,
// truncation, closing directions, and end-of-file when the child dies — with real forked children.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "procspec/log.h"
#include "procspec/process.h"
#include "support/leak_check.h"
#include "support/process_fixture.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using test::make;
using test::must;
using test::ProcessTest;
using test::with_pipe;

TEST_F(ProcessTest, PRC5_WriteReturnsBytesAndRejectsEmptyOrPipeless) {
  Process p = make([](Process& self) {
    std::size_t total = 0;
    while (total < (1u << 20)) {
      auto r = self.read(65536);
      if (!r || r->empty()) break;
      total += r->size();
    }
    (void)self.write(std::to_string(total));
  }, with_pipe(PipeType::uds_stream));
  ASSERT_TRUE(p.start());
  auto empty = p.write("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, errc::payload_empty);
  auto n = p.write(std::string(1u << 20, 'x'));  // larger than the socket buffer: blocks until all is out
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1u << 20);
  EXPECT_EQ(p.read().value_or(""), std::to_string(1u << 20));
  ASSERT_TRUE(p.join());

  Process none = make([](Process&) {}, with_pipe(PipeType::none));
  auto w = none.write("data");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::no_pipe);
  EXPECT_EQ(none.read().error().code, errc::no_pipe);
}

TEST_F(ProcessTest, PRC6_ReadSizeAndMessageBoundaries) {
  for (PipeType t : {PipeType::uds_dgram, PipeType::uds_stream}) {
    Process p = make([](Process& self) {
      for (const char* m : {"AAAAA", "BBBBB", "CCCCC"}) must(self.write(m).has_value(), self, 9);
    }, with_pipe(t));
    EXPECT_EQ(p.read(0).error().code, errc::invalid_argument);
    EXPECT_EQ(p.read(-1).error().code, errc::invalid_argument);
    ASSERT_TRUE(p.start());
    ASSERT_TRUE(p.join());  // all three writes are queued before the first read
    std::vector<std::string> reads;
    for (auto r = p.read(); r && !r->empty(); r = p.read()) reads.push_back(*r);
    if (t == PipeType::uds_dgram) {
      EXPECT_EQ(reads, (std::vector<std::string>{"AAAAA", "BBBBB", "CCCCC"}));
    } else {
      std::string joined;
      for (auto& r : reads) joined += r;
      EXPECT_EQ(joined, "AAAAABBBBBCCCCC");  // boundaries are not kept (may be one read)
      EXPECT_LE(reads.size(), 3u);
    }
  }
}

TEST_F(ProcessTest, PRC7_DgramNeverTruncatesAndOversizeWriteNamesTheLimit) {
  Process p = make([](Process& self) {
    std::string big(70000, 'z');
    big[69999] = 'E';
    must(self.write(big).has_value(), self, 9);
  });
  ASSERT_TRUE(p.start());
  auto r = p.read();  // default size 8192
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->size(), 70000u);
  EXPECT_EQ(r->back(), 'E');
  ASSERT_TRUE(p.join());

  Process q = make([](Process&) {});
  ASSERT_GT(q.max_message_size(), 0u);
  auto w = q.write(std::string(q.max_message_size() + 1, 'x'));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, errc::payload_too_large);
  EXPECT_NE(w.error().message.find(std::to_string(q.max_message_size())), std::string::npos) << w.error().message;
}

// spec: PRC-11
TEST_F(ProcessTest, PRC6_ReadIntoReusesTheCallersStringWithTheSameBoundaries) {
  for (PipeType t : {PipeType::uds_dgram, PipeType::uds_stream}) {
    Process p = make([](Process& self) {
      for (const char* m : {"AAAAA", "BB", "CCCCCCC"}) must(self.write(m).has_value(), self, 9);
    }, with_pipe(t));
    std::string out = "stale";
    EXPECT_EQ(p.read_into(out, 0).error().code, errc::invalid_argument);
    EXPECT_TRUE(out.empty());
    ASSERT_TRUE(p.start());
    ASSERT_TRUE(p.join());  // all three writes are queued before the first read
    out.reserve(256);
    const char* storage = out.data();
    std::string joined;
    std::vector<std::string> reads;
    for (int i = 0; i < 10; ++i) {
      auto r = p.read_into(out, 64);
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_EQ(*r, out.size());
      if (*r == 0) break;  // end-of-file: out is empty
      EXPECT_EQ(out.data(), storage);
      reads.push_back(out);
      joined += out;
    }
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(p.read_into(out).value_or(99), 0u);  // end-of-file every time it is asked
    if (t == PipeType::uds_dgram) {
      EXPECT_EQ(reads, (std::vector<std::string>{"AAAAA", "BB", "CCCCCCC"}));
    } else {
      EXPECT_EQ(joined, "AAAAABBCCCCCCC");
    }
  }
  Process none = make([](Process&) {}, with_pipe(PipeType::none));
  std::string out = "stale";
  EXPECT_EQ(none.read_into(out).error().code, errc::no_pipe);
  EXPECT_TRUE(out.empty());
}

TEST_F(ProcessTest, PRC7_ReadIntoTakesALongDgramWholeAndReportsTruncation) {
  Process p = make([](Process& self) {
    std::string big(70000, 'z');
    big[69999] = 'E';
    must(self.write(big).has_value(), self, 9);
    must(self.write("short").has_value(), self, 9);
    // A message longer than the largest one the parent's read offers room for: the child
    // raises its own send buffer past what the parent measured (or says it cannot).
    int size = static_cast<int>(self.max_message_size()) + 4096;
    (void)::setsockopt(self.pipe_fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    const std::size_t over = self.max_message_size() + 1024;
    must(::send(self.pipe_fd(), std::string(over, 'o').data(), over, 0) == static_cast<ssize_t>(over) ||
             self.write("cannot").has_value(), self, 9);
  });
  ASSERT_TRUE(p.start());
  std::string out;
  auto r = p.read_into(out, 16);  // far smaller than the message: its tail is appended
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, 70000u);
  ASSERT_EQ(out.size(), 70000u);
  EXPECT_EQ(out.front(), 'z');
  EXPECT_EQ(out.back(), 'E');
  EXPECT_EQ(out.find_first_not_of('z'), 69999u);
  EXPECT_EQ(p.read_into(out, 16).value_or(0), 5u);
  EXPECT_EQ(out, "short");
  auto cut = p.read_into(out, 16);
  if (cut && out == "cannot") GTEST_SKIP() << "the child could not raise SO_SNDBUF past the parent's limit";
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, errc::message_truncated);
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(p.join());
}

TEST_F(ProcessTest, PRC11_CloseDirectionsAndEofAfterPeerClosed) {
  for (PipeType t : {PipeType::uds_dgram, PipeType::uds_stream}) {
    Process p = make([](Process& self) {
      must(self.write("last").has_value(), self, 9);
      must(self.close(PipeSide::write).has_value(), self, 8);
      auto r = self.read();  // still readable after shutting down our write side
      must(r && *r == "x", self, 7);
    }, with_pipe(t));
    ASSERT_TRUE(p.start());
    EXPECT_EQ(p.read().value_or("?"), "last");
    LogCapture log;
    for (int i = 0; i < 100; ++i) {
      auto r = p.read();
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_EQ(*r, "");  // end-of-file, every time
    }
    EXPECT_FALSE(log.warned());
    ASSERT_TRUE(p.write("x"));
    EXPECT_EQ(p.join().value().code, 0);
    ASSERT_TRUE(p.close(PipeSide::read));
    EXPECT_EQ(p.read().value_or("?"), "");
    ASSERT_TRUE(p.close(PipeSide::both));
    EXPECT_EQ(p.write("y").error().code, errc::no_pipe);
    EXPECT_EQ(p.close().error().code, errc::no_pipe);
  }
}

TEST_F(ProcessTest, PRC13_ChildDeathIsEofAndATimeoutIsNotAWarning) {
  for (PipeType t : {PipeType::uds_dgram, PipeType::uds_stream}) {
    Process p = make([](Process& self) { (void)self.read(); }, with_pipe(t));
    ASSERT_TRUE(p.start());
    ASSERT_TRUE(p.set_timeout(200ms));
    LogCapture log;
    auto r = p.read();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::timed_out);
    EXPECT_FALSE(log.warned());
    ASSERT_TRUE(Process::kill(p.pid(), SIGKILL));
    ASSERT_TRUE(p.set_timeout(20s));  // a bound, not a figure: EOF arrives when the child dies
    auto eof = p.read();
    ASSERT_TRUE(eof) << eof.error().message;
    EXPECT_EQ(*eof, "");
    EXPECT_EQ(p.join().value().signal, SIGKILL);
  }
}

TEST_F(ProcessTest, PRC13_EofEvenWhenASiblingWasForkedBeforeTheChildStarted) {
  Process a = make([](Process&) {});  // its pipe exists before b forks
  Process b = make([](Process& self) { (void)self.read(); });
  ASSERT_TRUE(b.start());  // b's child must not keep a copy of a's child end
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(a.set_timeout(20s));
  auto eof = a.read();
  ASSERT_TRUE(eof) << eof.error().message;
  EXPECT_EQ(*eof, "");
  ASSERT_TRUE(b.write("go"));
  EXPECT_EQ(b.join().value().code, 0);
  EXPECT_EQ(a.join().value().code, 0);
}

TEST_F(ProcessTest, PRC13_NonBlockingReadSaysEagain) {
  Process p = make([](Process& self) { (void)self.read(); });
  ASSERT_TRUE(p.start());
  ASSERT_TRUE(p.set_blocking(false));
  auto r = p.read();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::resource_unavailable_try_again);
  ASSERT_TRUE(p.set_blocking(true));
  ASSERT_TRUE(p.write("go"));
  EXPECT_EQ(p.join().value().code, 0);
}

}  // namespace
}  // namespace procspec

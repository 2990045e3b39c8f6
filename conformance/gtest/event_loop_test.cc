// EventLoop: fds, deferred callbacks, stop from another thread, loop-per-thread, and the async
// pipe pattern (a parent watching many children's pipes; a child running its own loop).
#include "procspec/event_loop.h"

#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "procspec/timer.h"
#include "procspec/unique_fd.h"
#include "support/forked.h"
#include "support/leak_check.h"
#include "support/loop.h"

namespace procspec {
namespace {

using test::fork_child;
using test::make_loop;
using test::wait_child;

struct SocketPair {
  UniqueFd a, b;
};

SocketPair socket_pair() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

class EventLoopTest : public test::LeakCheckedTest {};

TEST_F(EventLoopTest, RunReturnsWhenNothingIsRegistered) {
  auto loop = make_loop();
  EXPECT_TRUE(loop->run());
  EXPECT_FALSE(loop->running());
}

TEST_F(EventLoopTest, DeferredCallbacksRunInOrderAndLaterOnesWaitForTheNextIteration) {
  auto loop = make_loop();
  std::vector<int> order;
  loop->defer([&] {
    order.push_back(1);
    loop->defer([&] { order.push_back(3); });
  });
  loop->defer([&] { order.push_back(2); });
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(EventLoopTest, ReadableCallbackRunsAndMayRemoveItsOwnFd) {
  auto loop = make_loop();
  auto sp = socket_pair();
  ASSERT_EQ(::write(sp.b.get(), "x", 1), 1);
  int calls = 0;
  ASSERT_TRUE(loop->add(sp.a.get(), [&] {
    char c = 0;
    EXPECT_EQ(::read(sp.a.get(), &c, 1), 1);
    ++calls;
    EXPECT_TRUE(loop->remove(sp.a.get()));
  }));
  EXPECT_TRUE(loop->contains(sp.a.get()));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loop->watched(), 0u);
}

TEST_F(EventLoopTest, WritableCallbackAndModifySwitchesEvents) {
  auto loop = make_loop();
  auto sp = socket_pair();
  std::string log;
  ASSERT_TRUE(loop->add(sp.a.get(), {}, [&] {
    log += "w";
    ASSERT_EQ(::write(sp.a.get(), "p", 1), 1);
    // From now on: only readable, which happens once the peer answers.
    ASSERT_TRUE(loop->modify(sp.a.get(), [&] {
      char c = 0;
      ASSERT_EQ(::read(sp.a.get(), &c, 1), 1);
      log += c;
      ASSERT_TRUE(loop->remove(sp.a.get()));
      ASSERT_TRUE(loop->remove(sp.b.get()));
    }));
  }));
  ASSERT_TRUE(loop->add(sp.b.get(), [&] {
    char c = 0;
    if (::read(sp.b.get(), &c, 1) == 1) {
      ASSERT_EQ(::write(sp.b.get(), "r", 1), 1);
    }
  }));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(log, "wr");
}

TEST_F(EventLoopTest, ErrorsForDuplicateUnknownAndEmptyRegistrations) {
  auto loop = make_loop();
  auto sp = socket_pair();
  ASSERT_TRUE(loop->add(sp.a.get(), [] {}));
  auto dup = loop->add(sp.a.get(), [] {});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, std::errc::file_exists);
  auto unknown = loop->remove(sp.b.get());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, std::errc::no_such_file_or_directory);
  EXPECT_FALSE(loop->modify(sp.b.get(), [] {}));
  auto empty = loop->add(sp.b.get(), {}, {});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, errc::invalid_argument);
  EXPECT_TRUE(loop->remove(sp.a.get()));
}

TEST_F(EventLoopTest, CallbackRemovingAnotherReadyFdPreventsItsCallback) {
  auto loop = make_loop();
  auto one = socket_pair();
  auto two = socket_pair();
  ASSERT_EQ(::write(one.b.get(), "x", 1), 1);
  ASSERT_EQ(::write(two.b.get(), "x", 1), 1);
  int calls = 0;
  // Whichever runs first removes both: the other must not run in the same pass.
  auto both_gone = [&] {
    ++calls;
    EXPECT_TRUE(loop->remove(one.a.get()));
    EXPECT_TRUE(loop->remove(two.a.get()));
  };
  ASSERT_TRUE(loop->add(one.a.get(), both_gone));
  ASSERT_TRUE(loop->add(two.a.get(), both_gone));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(calls, 1);
}

TEST_F(EventLoopTest, PeerCloseIsDeliveredToTheReadCallback) {
  auto loop = make_loop();
  auto sp = socket_pair();
  sp.b.reset();
  bool eof = false;
  ASSERT_TRUE(loop->add(sp.a.get(), [&] {
    char c = 0;
    eof = ::read(sp.a.get(), &c, 1) == 0;
    ASSERT_TRUE(loop->remove(sp.a.get()));
  }));
  ASSERT_TRUE(loop->run());
  EXPECT_TRUE(eof);
}

TEST_F(EventLoopTest, StopFromAnotherThreadWakesABlockedLoop) {
  auto loop = make_loop();
  auto sp = socket_pair();  // never readable: only stop() can end run()
  ASSERT_TRUE(loop->add(sp.a.get(), [] {}));
  std::jthread stopper([&] {
    while (!loop->running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    loop->stop();
  });
  ASSERT_TRUE(loop->run());
  stopper.join();
  EXPECT_TRUE(loop->remove(sp.a.get()));
}

TEST_F(EventLoopTest, StopBeforeRunMakesRunReturnAtOnce) {
  auto loop = make_loop();
  auto sp = socket_pair();
  ASSERT_TRUE(loop->add(sp.a.get(), [] {}));
  loop->stop();
  ASSERT_TRUE(loop->run());
  EXPECT_TRUE(loop->remove(sp.a.get()));
}

TEST_F(EventLoopTest, OneLoopPerThread) {
  auto loop = make_loop();
  EXPECT_EQ(EventLoop::current(), loop.get());
  auto second = EventLoop::create();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::already_started);
  bool other_ok = false;
  std::jthread([&] {
    auto other = EventLoop::create();
    other_ok = other.has_value() && EventLoop::current() == other->get();
  }).join();
  EXPECT_TRUE(other_ok);
  loop.reset();
  EXPECT_EQ(EventLoop::current(), nullptr);
}

TEST(EventLoopDeathTest, CallingFromAnotherThreadAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto loop = make_loop();
        std::jthread([&] { loop->defer([] {}); }).join();
      },
      "another thread");
}

TEST_F(EventLoopTest, TimersKeepTheLoopAliveAndFire) {
  auto loop = make_loop();
  int fired = 0;
  ASSERT_TRUE(Timer::after(2, [&] { ++fired; }));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(Timer::count(), 0u);
}

// The EasySwoole onPipeReadable pattern: one parent loop, many child pipes, a callback per
// readable pipe; each pipe is removed at EOF and the loop ends when all children are done.
TEST_F(EventLoopTest, AsyncPipes_ParentWatchesManyChildrenInOneLoop) {
  constexpr int kChildren = 6;
  auto loop = make_loop();
  std::vector<SocketPair> pairs;
  std::vector<pid_t> pids;
  for (int i = 0; i < kChildren; ++i) {
    pairs.push_back(socket_pair());
    const int fd = pairs.back().b.get();
    pids.push_back(fork_child([fd, i] {
      // Children answer in reverse order of creation so readiness order differs from fd order.
      ::usleep(static_cast<useconds_t>((kChildren - i) * 2000));
      const std::string msg = "child" + std::to_string(i);
      return ::write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()) ? 0 : 1;
    }));
    ASSERT_GT(pids.back(), 0);
    pairs.back().b.reset();  // the parent keeps only its end: EOF arrives when the child exits
  }
  std::map<int, std::string> got;
  for (int i = 0; i < kChildren; ++i) {
    const int fd = pairs[static_cast<std::size_t>(i)].a.get();
    ASSERT_TRUE(loop->add(fd, [&, fd, i] {
      char buf[64];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        got[i].append(buf, static_cast<std::size_t>(n));
      } else {
        EXPECT_TRUE(loop->remove(fd));
      }
    }));
  }
  test::LoopWatchdog watchdog(*loop, std::chrono::seconds(20));
  ASSERT_TRUE(loop->run());
  EXPECT_FALSE(watchdog.fired());
  for (pid_t pid : pids) EXPECT_EQ(wait_child(pid).code, 0);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kChildren));
  for (int i = 0; i < kChildren; ++i) EXPECT_EQ(got[i], "child" + std::to_string(i));
}

// A child forked from inside a running loop's callback starts with no loop (TMR-4's sibling for
// the loop), creates its own and serves the parent through it; the parent's loop is unaffected.
TEST_F(EventLoopTest, AsyncPipes_ChildRunsItsOwnLoop) {
  auto loop = make_loop();
  auto sp = socket_pair();
  pid_t pid = -1;
  std::string reply;
  loop->defer([&] {
    const int child_fd = sp.b.get();
    const int parent_fd = sp.a.get();
    pid = fork_child([child_fd, parent_fd] {
      ::close(parent_fd);  // else the child's own copy keeps its end from ever seeing EOF
      if (EventLoop::current() != nullptr) return 10;
      auto child_loop = EventLoop::create();
      if (!child_loop) return 11;
      EventLoop& l = **child_loop;
      int echoed = 0;
      auto st = l.add(child_fd, [&] {
        char buf[16];
        const ssize_t n = ::read(child_fd, buf, sizeof buf);
        if (n <= 0) {
          static_cast<void>(l.remove(child_fd));
          return;
        }
        for (ssize_t i = 0; i < n; ++i) buf[i] = static_cast<char>(buf[i] - 'a' + 'A');
        if (::write(child_fd, buf, static_cast<std::size_t>(n)) == n) ++echoed;
      });
      if (!st) return 12;
      if (!l.run()) return 13;
      return echoed > 0 ? 0 : 14;
    });
    ASSERT_GT(pid, 0);
    sp.b.reset();
    ASSERT_EQ(::write(sp.a.get(), "ping", 4), 4);
  });
  ASSERT_TRUE(loop->add(sp.a.get(), [&] {
    char buf[16];
    const ssize_t n = ::read(sp.a.get(), buf, sizeof buf);
    if (n > 0) reply.append(buf, static_cast<std::size_t>(n));
    if (n <= 0 || reply.size() >= 4) {  // done, or the child died: either way the loop ends
      ASSERT_TRUE(loop->remove(sp.a.get()));
      sp.a.reset();  // the child sees EOF and its loop ends
    }
  }));
  // No watchdog thread here: the fork happens inside run(), and forking a threaded process is
  // what TSan objects to. The loop ends on the reply or on EOF if the child dies.
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(reply, "PING");
  EXPECT_EQ(wait_child(pid).code, 0);
}

}  // namespace
}  // namespace procspec

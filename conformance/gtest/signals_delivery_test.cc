// Where a signal handler runs (SIG-6): in the event loop, on the loop's thread, outside signal
// context (any API may be called), whichever thread the kernel picked; without a loop a blocking
// call sees EINTR and Signals::dispatch() runs the handler.
#include "procspec/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "procspec/event_loop.h"
#include "procspec/timer.h"
#include "procspec/unique_fd.h"
#include "support/forked.h"
#include "support/loop.h"
#include "support/signals_fixture.h"

namespace procspec {
namespace {

using namespace std::chrono_literals;
using test::fork_child;
using test::make_loop;
using test::send_from_child;
using test::SignalsTest;
using test::wait_child;

TEST_F(SignalsTest, SIG6_HandlerRunsInTheLoopNotInSignalContext) {
  auto loop = make_loop();
  const auto loop_thread = std::this_thread::get_id();
  bool in_loop = false, on_loop_thread = false, not_in_handler = false, apis_ok = false;
  ASSERT_TRUE(Signals::set(SIGUSR1, [&](int) {
    in_loop = loop->running();
    on_loop_thread = std::this_thread::get_id() == loop_thread;
    // Inside a real async handler the kernel blocks the signal being handled.
    sigset_t mask;
    ::pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    not_in_handler = sigismember(&mask, SIGUSR1) == 0;
    // Any API: allocate, take locks, register and remove handlers, add and clear timers.
    auto timer = Timer::after(1000, [] {});
    apis_ok = timer.has_value() && Timer::clear(*timer).has_value() &&
              Signals::set(SIGUSR2, [](int) {}).has_value() && Signals::remove(SIGUSR2).has_value() &&
              Signals::remove(SIGUSR1).has_value();  // itself, while running
    loop->stop();
  }));
  const pid_t sender = send_from_child(SIGUSR1);
  run_until_stopped(*loop);
  EXPECT_TRUE(in_loop);
  EXPECT_TRUE(on_loop_thread);
  EXPECT_TRUE(not_in_handler);
  EXPECT_TRUE(apis_ok);
  EXPECT_EQ(wait_child(sender).code, 0);
}

// Without a running loop: a blocking call interrupted by a handled signal fails with EINTR (no
// SA_RESTART), and Signals::dispatch() then runs the handler on the caller (what WAIT-4 builds on).
TEST_F(SignalsTest, SIG6_BlockingCallSeesEintrAndDispatchRunsTheHandler) {
  int ran = 0;
  ASSERT_TRUE(Signals::set(SIGUSR1, [&](int) { ++ran; }));
  int idle[2], stop[2];
  ASSERT_EQ(::pipe2(idle, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  UniqueFd idle_read(idle[0]), idle_write(idle[1]), stop_read(stop[0]), stop_write(stop[1]);
  const pid_t target = ::getpid();
  // The sender repeats until told to stop: a signal that lands before read() blocks is not lost
  // (its flag waits for dispatch), but read() itself only returns on a later one.
  const pid_t sender = fork_child([&stop_read, &stop_write, target] {
    stop_write.reset();
    for (int i = 0; i < 4000; ++i) {
      if (::kill(target, SIGUSR1) != 0) return 1;
      pollfd p{stop_read.get(), POLLIN, 0};
      if (::poll(&p, 1, 5) > 0) return 0;  // EOF: the parent has seen EINTR
    }
    return 2;
  });
  ASSERT_GT(sender, 0);
  stop_read.reset();
  char c = 0;
  const ssize_t n = ::read(idle_read.get(), &c, 1);
  const int err = errno;
  stop_write.reset();
  EXPECT_EQ(n, -1);
  EXPECT_EQ(err, EINTR);
  EXPECT_EQ(ran, 0) << "never inside the async handler";
  EXPECT_GE(Signals::dispatch(), 1u);
  EXPECT_GE(ran, 1);
  EXPECT_EQ(wait_child(sender).code, 0);
}

// A self-pipe works whichever thread the kernel picks; signalfd would not (it needs the signal
// blocked in every thread). The loop thread blocks SIGUSR1, so only the helper thread can take it.
TEST_F(SignalsTest, SIG6_HandlerRunsOnTheLoopThreadWhicheverThreadTookTheSignal) {
  auto loop = make_loop();
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  UniqueFd go_read(go[0]), go_write(go[1]);
  const pid_t target = ::getpid();
  // Fork before any thread exists (forking a threaded process is what TSan warns about).
  const pid_t sender = fork_child([&go_read, &go_write, target] {
    go_write.reset();
    char c = 0;
    if (::read(go_read.get(), &c, 1) != 1) return 1;
    return ::kill(target, SIGUSR1) == 0 ? 0 : 2;
  });
  ASSERT_GT(sender, 0);
  go_read.reset();
  const auto loop_thread = std::this_thread::get_id();
  bool on_loop_thread = false;
  ASSERT_TRUE(Signals::set(SIGUSR1, [&](int) {
    on_loop_thread = std::this_thread::get_id() == loop_thread;
    loop->stop();
  }));
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
  {
    std::jthread taker([&usr1](std::stop_token st) {
      ::pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);  // threads inherit the creator's mask
      while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
    });
    ASSERT_EQ(::write(go_write.get(), "g", 1), 1);
    run_until_stopped(*loop);
  }
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  EXPECT_TRUE(on_loop_thread);
  EXPECT_EQ(wait_child(sender).code, 0);
}

}  // namespace
}  // namespace procspec

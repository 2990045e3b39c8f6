// The foundation every other component relies on: Result, error names, UniqueFd, the log sink.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "procspec/log.h"
#include "procspec/result.h"
#include "procspec/unique_fd.h"
#include "support/leak_check.h"

namespace procspec {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(errc::invalid_argument, "value " + std::to_string(v) + " is not positive");
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_EQ(bad.error().message, "value -1 is not positive");
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(Result, StatusSuccessAndFailure) {
  Status ok;
  EXPECT_TRUE(ok);
  Status bad = sys_fail(ESRCH, "kill(999999)");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, std::errc::no_such_process);
  EXPECT_NE(bad.error().message.find("ESRCH"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("kill(999999)"), std::string::npos);
}

TEST(Result, ErrorNamesAreSymbolic) {
  EXPECT_EQ(error_name(std::error_code(EAGAIN, std::system_category())), "EAGAIN");
  EXPECT_EQ(error_name(std::error_code(ENOMSG, std::system_category())), "ENOMSG");
  EXPECT_EQ(error_name(make_error_code(errc::timer_alarm_conflict)), "timer_alarm_conflict");
  EXPECT_NE(make_error_code(errc::payload_empty), std::errc::invalid_argument);
}

TEST(Result, MoveOnlyValues) {
  auto make = []() -> Result<UniqueFd> {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return sys_fail(errno, "pipe2");
    ::close(fds[1]);
    return UniqueFd(fds[0]);
  };
  auto r = make();
  ASSERT_TRUE(r);
  UniqueFd fd = std::move(r).value();
  EXPECT_TRUE(fd.valid());
}

TEST(ResultDeathTest, ValueOfAnErrorAborts) {
  EXPECT_DEATH(
      {
        auto bad = parse_positive(0);
        (void)bad.value();
      },
      "value 0 is not positive");
}

class UniqueFdTest : public test::LeakCheckedTest {};

TEST_F(UniqueFdTest, ClosesOnDestructionAndMove) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  {
    UniqueFd a(fds[0]);
    UniqueFd b(fds[1]);
    UniqueFd c = std::move(a);
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(c.get(), fds[0]);
    b = std::move(c);  // closes fds[1], now owns fds[0]
    EXPECT_EQ(::fcntl(fds[1], F_GETFD), -1);
    EXPECT_EQ(b.get(), fds[0]);
  }
  EXPECT_EQ(::fcntl(fds[0], F_GETFD), -1);
}

TEST_F(UniqueFdTest, ReleaseGivesUpOwnership) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  int raw = -1;
  {
    UniqueFd a(fds[0]);
    raw = a.release();
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), FD_CLOEXEC);
  ::close(raw);
  ::close(fds[1]);
}

TEST(Log, CaptureSeesWarningsAndRestoresSink) {
  {
    LogCapture capture;
    log_info("starting");
    EXPECT_FALSE(capture.warned());
    log_warn("queue 42 is full");
    EXPECT_TRUE(capture.warned());
    EXPECT_TRUE(capture.contains("queue 42"));
    EXPECT_EQ(capture.count_at_least(LogLevel::info), 2u);
    capture.clear();
    EXPECT_FALSE(capture.warned());
  }
  LogCapture outer;
  {
    LogCapture inner;
    log_error("inner only");
    EXPECT_TRUE(inner.warned());
  }
  EXPECT_FALSE(outer.warned());
  log_warn("outer again");
  EXPECT_TRUE(outer.warned());
}

}  // namespace
}  // namespace procspec

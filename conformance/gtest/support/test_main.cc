// Shared main: tests that fork must never return into GoogleTest's main from a child, so the
// child helpers end with _exit; here we only make stdio unbuffered-safe before any fork.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>

int main(int argc, char** argv) {
  // A test that writes to a closed pipe must see EPIPE, not die.
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

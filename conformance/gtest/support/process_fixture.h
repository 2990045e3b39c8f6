#pragma once
// What the Process test files share: a Process built or the test aborts, options with a pipe
// type, a child-side step check, reading a pipe to end-of-file, and the leak-checked fixture.
#include <sys/prctl.h>

#include "procspec/check.h"
#include "procspec/process.h"
#include "support/leak_check.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace procspec::test {

inline Process make(Process::Callback cb, ProcessOptions o = {}) {
  auto p = Process::create(std::move(cb), o);
  PROCSPEC_CHECK(p.has_value(), "Process::create failed in a test");
  return std::move(p).value();
}

inline ProcessOptions with_pipe(PipeType t) {
  ProcessOptions o;
  o.pipe_type = t;
  return o;
}

// Child-side: a failed step ends the child with a distinctive status the parent checks.
inline void must(bool ok, Process& p, int code) {
  if (!ok) (void)p.exit(code);
}

inline std::string read_all(Process& p) {
  std::string all;
  for (int i = 0; i < 10000; ++i) {
    auto r = p.read();
    if (!r || r->empty()) break;
    all += *r;
  }
  return all;
}

class ProcessTest : public LeakCheckedTest {};

// Subreaper: an orphaned grandchild is reparented to the test, so it can see how it died (and
// reap it).
class SubreaperFixture : public LeakCheckedTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    LeakCheckedTest::SetUp();
  }
  void TearDown() override {
    LeakCheckedTest::TearDown();
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
};

}  // namespace procspec::test

#pragma once
// A fresh EventLoop for a test, or the test program aborts (creating one only fails when the
// process is out of fds or memory, which no test expects).
#include <memory>
#include <utility>

#include "procspec/check.h"
#include "procspec/event_loop.h"

namespace procspec::test {

inline std::unique_ptr<EventLoop> make_loop() {
  auto loop = EventLoop::create();
  PROCSPEC_CHECK(loop.has_value(), "EventLoop::create");
  return std::move(loop).value();
}

}  // namespace procspec::test

#pragma once
// A connection's unsent bytes, capped (SRV-4, SRV-12): a slow reader cannot make the server
// grow without bound. An append that would pass the cap is refused whole — the caller learns it
// at once, and nothing already accepted is dropped or cut.
#include <sys/uio.h>

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "procspec/result.h"

namespace procspec::detail {

class OutputBuffer {
 public:
  explicit OutputBuffer(std::size_t limit) : limit_(limit) {}

  // errc::output_buffer_full (naming the sizes) if size() + data.size() would exceed the limit.
  Status append(std::string_view data);
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t limit() const { return limit_; }

  // Fills up to `max` iovecs with the pending bytes, in order; returns how many were filled.
  int gather(iovec* iov, int max) const;
  // Drops the first n bytes (after a write of n bytes).
  void consume(std::size_t n);

 private:
  std::size_t limit_;
  std::size_t size_ = 0;
  std::size_t front_offset_ = 0;  // bytes of chunks_.front() already written
  std::deque<std::string> chunks_;
};

}  // namespace procspec::detail

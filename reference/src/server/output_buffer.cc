#include "server/output_buffer.h"

#include <algorithm>

namespace procspec::detail {

Status OutputBuffer::append(std::string_view data) {
  if (data.size() > limit_ - std::min(size_, limit_)) {
    return fail(errc::output_buffer_full, "send of " + std::to_string(data.size()) + " bytes refused: " +
                                              std::to_string(size_) + " bytes are still unsent and the output buffer limit is " +
                                              std::to_string(limit_));
  }
  if (data.empty()) return {};
  // Small appends join the last chunk so a chatty handler does not build a long iovec list.
  if (!chunks_.empty() && chunks_.back().size() < 4096 && data.size() < 4096) {
    chunks_.back().append(data);
  } else {
    chunks_.emplace_back(data);
  }
  size_ += data.size();
  return {};
}

int OutputBuffer::gather(iovec* iov, int max) const {
  int n = 0;
  std::size_t offset = front_offset_;
  for (auto it = chunks_.begin(); it != chunks_.end() && n < max; ++it, offset = 0) {
    iov[n].iov_base = const_cast<char*>(it->data() + offset);  // writev's API is not const-correct
    iov[n].iov_len = it->size() - offset;
    ++n;
  }
  return n;
}

void OutputBuffer::consume(std::size_t n) {
  PROCSPEC_CHECK(n <= size_, "consume past the buffered bytes");
  size_ -= n;
  while (n > 0) {
    std::size_t left_in_front = chunks_.front().size() - front_offset_;
    if (n < left_in_front) {
      front_offset_ += n;
      return;
    }
    n -= left_in_front;
    chunks_.pop_front();
    front_offset_ = 0;
  }
}

}  // namespace procspec::detail

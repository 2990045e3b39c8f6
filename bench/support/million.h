#pragma once
// The million-message benchmark (issue #9, target 1): 1,000,000 messages of `size` bytes from a
// parent to its forked child, which verifies every payload (IPC-3, payload.h) and answers one
// verdict. The time runs from the first write to the verdict, so it covers the receiver's work.
// Shared by channel_bench (over Channel) and process_ipc_bench (over Process pipes); both
// compare with the floor here: a raw socketpair, one syscall per message on each side, which is
// what Swoole's Process pipe does.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "procspec/result.h"
#include "support/payload.h"

namespace procspec::bench {

inline constexpr std::uint64_t kMillion = 1000000;

// The receiver's side: feeds every message to a PayloadChecker and remembers the first that
// was wrong; verdict() is what the child sends back ("ok" or "payload mismatch at msg N").
class MillionVerdict {
 public:
  explicit MillionVerdict(std::size_t size) : checker_(size) {}
  void add(std::span<const std::byte> got) noexcept;
  void add(std::string_view got) noexcept { add(std::as_bytes(std::span(got.data(), got.size()))); }
  std::uint64_t count() const noexcept { return next_; }
  std::string verdict() const;

 private:
  PayloadChecker checker_;
  std::uint64_t next_ = 0;
  std::uint64_t first_bad_ = ~std::uint64_t{0};
};

inline bool verdict_ok(std::string_view v) { return v == "ok"; }

// kMillion messages over a socketpair(AF_UNIX, type) (SOCK_DGRAM, SOCK_SEQPACKET or SOCK_STREAM,
// read back in exact message-sized pieces), SO_SNDBUF/SO_RCVBUF = socket_buffer when > 0.
// Returns the seconds from the first send to the verdict, or an error naming what went wrong.
Result<double> million_raw_socketpair(int type, std::size_t size, int socket_buffer);

}  // namespace procspec::bench

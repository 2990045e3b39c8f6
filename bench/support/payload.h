#pragma once
// IPC-3: every benchmark receiver verifies every payload, so a channel that silently sends less
// (short, duplicated, reordered or corrupted messages) cannot look faster.
//
// Layout of an N-byte message (N >= kMinPayload):
//   [0,8)    sequence number          [8,12)  N            [12,16) magic
//   [16,24)  mix(seq, N): header check
//   [24,N-8) a deterministic pattern, shifted by (seq % kRotations) so neighbouring messages
//            differ in every byte of the body as well
//   [N-8,N)  ~seq: a tail stamp, so truncation and splicing of two messages are caught
// The sender keeps kRotations prebuilt bodies and stamps only header and tail (O(1) per
// message); the receiver compares the body with memcmp (as cheap as the copy it just received).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace procspec::bench {

inline constexpr std::size_t kMinPayload = 32;
// Sequence number of the message that ends a stream (sent after the timed loop).
inline constexpr std::uint64_t kEndSeq = ~std::uint64_t{0} - 1;

class PayloadWriter {
 public:
  explicit PayloadWriter(std::size_t size);
  std::size_t size() const noexcept { return size_; }
  // The message with sequence number `seq`, stamped in place; valid until the next call.
  std::span<const std::byte> next(std::uint64_t seq) noexcept;
  // Writes message `seq` into dst (dst.size() == size()): for shared-memory producers.
  void write_into(std::span<std::byte> dst, std::uint64_t seq) const noexcept;
  // The prebuilt buffer for `seq`; only bytes [24, size-8) (the body) are meaningful.
  std::span<const std::byte> pattern(std::uint64_t seq) const noexcept;

 private:
  std::size_t size_;
  std::vector<std::vector<std::byte>> bodies_;
};

enum class PayloadVerdict { ok, end, mismatch };

class PayloadChecker {
 public:
  explicit PayloadChecker(std::size_t size);
  // Checks that `got` is exactly message `seq` (or the end marker).
  PayloadVerdict check(std::span<const std::byte> got, std::uint64_t seq) const noexcept;

 private:
  PayloadWriter reference_;
};

// "payload mismatch at msg N" (the SkipWithError text).
std::string mismatch_message(std::uint64_t seq);

}  // namespace procspec::bench

#include "support/payload.h"

#include <cstring>

#include "procspec/check.h"

namespace procspec::bench {
namespace {

constexpr std::size_t kRotations = 8;
constexpr std::uint32_t kMagic = 0x50534243;  // "PSBC"

std::uint64_t mix(std::uint64_t seq, std::uint64_t size) noexcept {
  // splitmix64 finaliser: every input bit affects every output bit.
  std::uint64_t z = seq * 0x9e3779b97f4a7c15ULL + size;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

template <class T>
void store(std::byte* at, T v) noexcept { std::memcpy(at, &v, sizeof v); }
template <class T>
T load(const std::byte* at) noexcept {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

void stamp(std::byte* msg, std::size_t size, std::uint64_t seq) noexcept {
  store<std::uint64_t>(msg, seq);
  store<std::uint32_t>(msg + 8, static_cast<std::uint32_t>(size));
  store<std::uint32_t>(msg + 12, kMagic);
  store<std::uint64_t>(msg + 16, mix(seq, size));
  store<std::uint64_t>(msg + size - 8, ~seq);
}

}  // namespace

PayloadWriter::PayloadWriter(std::size_t size) : size_(size), bodies_(kRotations) {
  PROCSPEC_CHECK(size >= kMinPayload, "payload smaller than its header and tail");
  for (std::size_t r = 0; r < kRotations; ++r) {
    bodies_[r].resize(size);
    for (std::size_t i = 0; i < size; ++i)
      bodies_[r][i] = static_cast<std::byte>(mix(i + r, 7) & 0xff);
  }
}

std::span<const std::byte> PayloadWriter::next(std::uint64_t seq) noexcept {
  auto& body = bodies_[seq % kRotations];
  stamp(body.data(), size_, seq);
  return body;
}

void PayloadWriter::write_into(std::span<std::byte> dst, std::uint64_t seq) const noexcept {
  std::memcpy(dst.data(), bodies_[seq % kRotations].data(), size_);
  stamp(dst.data(), size_, seq);
}

std::span<const std::byte> PayloadWriter::pattern(std::uint64_t seq) const noexcept {
  return bodies_[seq % kRotations];
}

PayloadChecker::PayloadChecker(std::size_t size) : reference_(size) {}

PayloadVerdict PayloadChecker::check(std::span<const std::byte> got, std::uint64_t seq) const noexcept {
  const std::size_t size = reference_.size();
  if (got.size() != size) return PayloadVerdict::mismatch;
  const std::byte* p = got.data();
  const auto got_seq = load<std::uint64_t>(p);
  if (load<std::uint32_t>(p + 8) != size || load<std::uint32_t>(p + 12) != kMagic ||
      load<std::uint64_t>(p + 16) != mix(got_seq, size) || load<std::uint64_t>(p + size - 8) != ~got_seq)
    return PayloadVerdict::mismatch;
  if (got_seq == kEndSeq) return PayloadVerdict::end;
  if (got_seq != seq) return PayloadVerdict::mismatch;
  // The body between header and tail must be this sequence number's rotation of the pattern.
  const std::byte* want = reference_.pattern(seq).data();
  return std::memcmp(p + 24, want + 24, size - 32) == 0 ? PayloadVerdict::ok : PayloadVerdict::mismatch;
}

std::string mismatch_message(std::uint64_t seq) {
  return "payload mismatch at msg " + std::to_string(seq);
}

}  // namespace procspec::bench

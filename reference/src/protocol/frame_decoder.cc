#include <algorithm>
#include <cstring>
#include <string>

#include "procspec/framing.h"
#include "procspec/log.h"
#include "protocol/pack_code.h"

namespace procspec {
namespace {

// A connection that once carried a large packet gives the memory back instead of holding
// package_max_length bytes for its whole life.
constexpr std::size_t kKeptCapacity = 64 * 1024;

const unsigned char* bytes_of(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

// End (exclusive) of the first occurrence of eof lying wholly in p[0, len), or 0 if none.
// memchr on the first EOF byte keeps the common case (an EOF byte rare in the body) at memchr
// speed; the worst case (a body of EOF first-bytes) is bounded by 8 compares per byte.
std::size_t find_eof_end(const char* p, std::size_t len, std::string_view eof) {
  const std::size_t k = eof.size();
  if (len < k) return 0;
  const char* s = p;
  const char* last_start = p + (len - k);
  while (s <= last_start) {
    const auto* hit = static_cast<const char*>(std::memchr(s, eof[0], static_cast<std::size_t>(last_start - s) + 1));
    if (hit == nullptr) return 0;
    // At most 7 bytes: an inline loop beats a memcmp call at small packet sizes.
    std::size_t i = 1;
    while (i < k && hit[i] == eof[i]) ++i;
    if (i == k) return static_cast<std::size_t>(hit - p) + k;
    s = hit + 1;
  }
  return 0;
}

bool ends_with(const char* p, std::size_t len, std::string_view eof) {
  return len >= eof.size() && std::memcmp(p + len - eof.size(), eof.data(), eof.size()) == 0;
}

}  // namespace

FrameDecoder::FrameDecoder(FramingSettings settings) noexcept : settings_(settings) {
  if (settings_.mode() == FramingMode::length) pack_code_ = detail::find_pack_code(settings_.length_type());
}

void FrameDecoder::reset() noexcept {
  std::string().swap(buffer_);
  need_ = 0;
  close_reason_.reset();
}

Status FrameDecoder::feed_impl(std::string_view bytes, PacketSink sink) {
  PROCSPEC_CHECK(!in_feed_, "FrameDecoder::feed called from its own packet callback");
  if (close_reason_) return forward_error(*close_reason_);
  struct InFeed {
    bool& flag;
    explicit InFeed(bool& f) : flag(f) { flag = true; }
    ~InFeed() { flag = false; }
  } guard(in_feed_);
  switch (settings_.mode()) {
    case FramingMode::none:
      // FRM-9: stream semantics, each read as it came.
      if (!bytes.empty()) sink(bytes);
      return {};
    case FramingMode::length:
      return feed_length(bytes, sink);
    case FramingMode::eof_split:
      return feed_eof_split(bytes, sink);
    case FramingMode::eof_check:
      return feed_eof_check(bytes, sink);
  }
  return {};
}

Status FrameDecoder::close(std::string reason) {
  log_warn("frame decoder closed the connection: " + reason);
  std::string().swap(buffer_);
  need_ = 0;
  close_reason_ = Error{make_error_code(errc::frame_invalid), std::move(reason)};
  return forward_error(*close_reason_);
}

// FRM-1/FRM-4. Returns the packet size, or 0 after closing.
std::size_t FrameDecoder::packet_size(const unsigned char* header) {
  const detail::PackCode& pc = *pack_code_;
  const auto field = detail::read_length_field(pc, header + settings_.length_offset());
  const std::uint64_t body_offset = settings_.body_offset();
  if (field.value >= 0) {
    const std::uint64_t size = body_offset + static_cast<std::uint64_t>(field.value);
    if (size <= settings_.max_length() && size >= settings_.header_end()) return static_cast<std::size_t>(size);
  }
  // Cold path: say which length, in which field, broke which rule.
  const std::string where = std::string(" in the '") + pc.code + "' field at offset " +
                            std::to_string(settings_.length_offset());
  if (field.value < 0) {
    if (pc.is_signed) {
      (void)close("length " + std::to_string(field.value) + where + " is negative");
    } else {
      (void)close("length " + std::to_string(field.raw) + where + " is >= 2^63 (negative as a 64-bit signed length)");
    }
    return 0;
  }
  const std::uint64_t size = body_offset + static_cast<std::uint64_t>(field.value);
  const std::string announced = "length " + std::to_string(field.raw) + where + " makes a " + std::to_string(size) + "-byte packet";
  if (size > settings_.max_length()) {
    (void)close(announced + ", above package_max_length " + std::to_string(settings_.max_length()));
  } else if (size == 0) {
    (void)close(announced + " (package_body_offset 0): an empty packet cannot be framed");
  } else {
    (void)close(announced + ", shorter than its own " + std::to_string(settings_.header_end()) + "-byte header");
  }
  return 0;
}

Status FrameDecoder::feed_length(std::string_view in, PacketSink sink) {
  const std::size_t header_end = settings_.header_end();
  const char* p = in.data();
  std::size_t n = in.size();
  if (!buffer_.empty()) {
    // Finish the packet begun in an earlier read: first its header, then its body.
    if (need_ == 0) {
      const std::size_t take = std::min(header_end - buffer_.size(), n);
      buffer_.append(p, take);
      p += take;
      n -= take;
      if (buffer_.size() < header_end) return {};
      need_ = packet_size(bytes_of(buffer_.data()));
      if (need_ == 0) return forward_error(*close_reason_);
      buffer_.reserve(std::min(need_, kKeptCapacity));
    }
    const std::size_t take = std::min(need_ - buffer_.size(), n);
    buffer_.append(p, take);
    p += take;
    n -= take;
    if (buffer_.size() < need_) return {};
    sink(buffer_);
    buffer_.clear();
    need_ = 0;
    if (buffer_.capacity() > kKeptCapacity) std::string().swap(buffer_);
  }
  // Packets wholly inside this read go out as views of it (FRM-3, no copy).
  while (n >= header_end) {
    const std::size_t size = packet_size(bytes_of(p));
    if (size == 0) return forward_error(*close_reason_);
    if (n < size) {
      // Reserve what has arrived or 64 KiB, not the announced size: a 4-byte header must not
      // pin package_max_length bytes per idle connection.
      buffer_.reserve(std::max(n, std::min(size, kKeptCapacity)));
      need_ = size;
      break;
    }
    sink(std::string_view(p, size));
    p += size;
    n -= size;
  }
  buffer_.append(p, n);
  return {};
}

Status FrameDecoder::feed_eof_split(std::string_view in, PacketSink sink) {
  const std::string_view eof = settings_.package_eof();
  const std::size_t max = settings_.max_length();
  const char* p = in.data();
  std::size_t n = in.size();
  if (!buffer_.empty()) {
    // The buffer never holds a whole EOF, but its tail may start one that this read completes.
    const std::size_t b = buffer_.size();
    std::size_t end = 0;
    for (std::size_t e = 1; e < eof.size() && e <= n && end == 0; ++e) {
      if (b + e < eof.size()) continue;
      const std::size_t in_buffer = eof.size() - e;
      if (std::memcmp(buffer_.data() + b - in_buffer, eof.data(), in_buffer) == 0 &&
          std::memcmp(p, eof.data() + in_buffer, e) == 0) {
        end = e;
      }
    }
    if (end == 0) end = find_eof_end(p, std::min(n, max - b), eof);
    if (end == 0 || b + end > max) {
      if (b + n >= max || end != 0) {
        return close("packet reached package_max_length " + std::to_string(max) + " bytes without package_eof");
      }
      buffer_.append(p, n);
      return {};
    }
    buffer_.append(p, end);
    p += end;
    n -= end;
    sink(buffer_);
    buffer_.clear();
    if (buffer_.capacity() > kKeptCapacity) std::string().swap(buffer_);
  }
  while (n > 0) {
    const std::size_t end = find_eof_end(p, std::min(n, max), eof);
    if (end == 0) {
      // FRM-8: max_length bytes and still no EOF; that packet can never be delivered.
      if (n >= max) {
        return close("packet reached package_max_length " + std::to_string(max) + " bytes without package_eof");
      }
      buffer_.assign(p, n);
      return {};
    }
    sink(std::string_view(p, end));  // FRM-6: one packet per EOF, EOF included
    p += end;
    n -= end;
  }
  return {};
}

// FRM-7: deliver whatever is buffered once it ends with the EOF. The buffer holds at most
// max_length bytes, so a read longer than the room left is taken a room at a time, as Swoole's
// recv() into a package_max_length buffer does.
Status FrameDecoder::feed_eof_check(std::string_view in, PacketSink sink) {
  const std::string_view eof = settings_.package_eof();
  const std::size_t max = settings_.max_length();
  const char* p = in.data();
  std::size_t n = in.size();
  while (n > 0) {
    const std::size_t take = std::min(max - buffer_.size(), n);
    if (buffer_.empty()) {
      if (ends_with(p, take, eof)) {
        sink(std::string_view(p, take));
      } else if (take == max) {
        return close("buffer reached package_max_length " + std::to_string(max) + " bytes without ending in package_eof");
      } else {
        buffer_.assign(p, take);
      }
    } else {
      buffer_.append(p, take);
      if (ends_with(buffer_.data(), buffer_.size(), eof)) {
        sink(buffer_);
        buffer_.clear();
        if (buffer_.capacity() > kKeptCapacity) std::string().swap(buffer_);
      } else if (buffer_.size() == max) {
        return close("buffer reached package_max_length " + std::to_string(max) + " bytes without ending in package_eof");
      }
    }
    p += take;
    n -= take;
  }
  return {};
}

}  // namespace procspec

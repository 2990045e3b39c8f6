#pragma once
// SRV-PROC-4: messages larger than one datagram travel as chunks and are reassembled in order.
// Shared by uds_dgram and sysvmsg. Every datagram starts with a 24-byte WireHeader:
//
//   0        8          12        16          18          20    21     22     23
//   +--------+----------+---------+-----------+-----------+-----+------+------+----+
//   | session| length   | msg_id  | reactor_id| worker_id | kind| flags| chunk| 0  |
//   +--------+----------+---------+-----------+-----------+-----+------+------+----+
//   length = the whole message's payload (not the slice); chunk = 0 for a one-datagram message,
//   else kChunk|kBegin, kChunk, ..., kChunk|kEnd. Chunks of one message share
//   (reactor_id, session_id, msg_id), so chunks of several messages — several connections, or
//   several senders on one socket — may interleave and still reassemble per message.
// Both ends run on one machine, so the header is host byte order.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "procspec/channel.h"

namespace procspec::detail {

struct WireHeader {
  std::uint64_t session_id;
  std::uint32_t length;
  std::uint32_t msg_id;
  std::uint16_t reactor_id;
  std::uint16_t worker_id;
  std::uint8_t kind;
  std::uint8_t flags;
  std::uint8_t chunk;
  std::uint8_t reserved;
};
static_assert(sizeof(WireHeader) == 24, "the wire header is 24 bytes");

inline constexpr std::uint8_t kChunk = 1;
inline constexpr std::uint8_t kChunkBegin = 2;
inline constexpr std::uint8_t kChunkEnd = 4;
inline constexpr std::uint8_t kWake = 8;  // sysvmsg: internal wake-up of a receiver thread
inline constexpr std::size_t kWireHeaderSize = sizeof(WireHeader);
// SRV-PROC-4's fallback datagram size when the kernel refuses the configured one.
inline constexpr std::size_t kFallbackChunkSize = 2048;

WireHeader make_wire_header(const MessageHeader& header, std::size_t length, std::uint32_t msg_id);
MessageHeader to_message_header(const WireHeader& wire);
WireHeader read_wire_header(const char* data);

// Checks a payload against max_length; the error names the channel and the limit.
Status check_length(std::string_view channel, std::size_t size, std::size_t max_length);

// A message being sent chunk by chunk. Holds a view of the caller's payload until it must
// outlive the call (own()), which only happens when a non-blocking send stops half-way.
class OutgoingMessage {
 public:
  OutgoingMessage(WireHeader header, std::string_view payload, std::size_t chunk_size);
  // The next datagram: header (with chunk flags) and the payload slice.
  WireHeader next_header() const;
  std::string_view next_slice() const;
  void advance() noexcept;                  // the datagram was written
  bool done() const noexcept { return done_; }
  bool started() const noexcept { return offset_ > 0 || done_; }
  // Restart with a smaller datagram (EMSGSIZE before anything was written).
  void set_chunk_size(std::size_t chunk_size) noexcept;
  void own();

 private:
  bool chunked() const noexcept;
  WireHeader header_;
  std::string owned_;
  std::string_view payload_;
  std::size_t chunk_payload_;
  std::size_t offset_ = 0;
  bool done_ = false;
};

// Turns datagrams back into messages.
class Reassembler {
 public:
  explicit Reassembler(std::string channel, std::size_t max_length)
      : channel_(std::move(channel)), max_length_(max_length) {}
  // A completed message, nullopt (more chunks needed, or an orphan chunk dropped with a
  // warning), or an error: frame_invalid for malformed datagrams, payload_too_large for a
  // message above max_length (its remaining chunks are dropped silently).
  Result<std::optional<Message>> feed(std::string_view datagram);
  void clear() noexcept { partial_.clear(); }
  std::size_t in_progress() const noexcept { return partial_.size(); }

 private:
  using Key = std::tuple<std::uint16_t, std::uint64_t, std::uint32_t>;
  struct Partial {
    std::string payload;
    bool discard = false;
  };
  std::string channel_;
  std::size_t max_length_;
  std::map<Key, Partial> partial_;
};

}  // namespace procspec::detail

#pragma once
// Packet framing (SPEC FRM): turning a byte stream into the packets a server's onReceive sees.
//
//   FramingSettings  a validated protocol: none, length, eof_split or eof_check. Made only by
//                    factories returning Result (errc::invalid_setting, the message names the
//                    setting and the limit), so a decoder never meets a bad setting at run time.
//   FramingOptions   Swoole's setting keys (open_length_check, package_length_type, ...) as a
//                    user writes them in Server::set(); build() turns them into FramingSettings.
//   FrameDecoder     one connection's incremental decoder: feed() it each read, it calls you back
//                    with every complete packet, or closes with a reason naming the length.
//
// Length protocol (FRM-1), one packet:
//
//   |<------------- body_offset ------------->|<---------- L bytes ---------->|
//   | ... | length field (pack code) | ...      | body                          |
//         ^ length_offset
//   packet size = body_offset + L <= max_length; delivered including the header bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "procspec/result.h"

namespace procspec {
namespace detail {
struct PackCode;
}

enum class FramingMode { none, length, eof_split, eof_check };

class FramingSettings {
 public:
  static constexpr std::int64_t kMaxOffset = 65535;        // FRM-2: offsets are 0..65535
  static constexpr std::size_t kMaxEofBytes = 8;           // FRM-6: package_eof is 1..8 bytes
  static constexpr std::int64_t kDefaultMaxLength = 2 * 1024 * 1024;  // Swoole's package_max_length

  // FRM-9: every read is a packet, as it came.
  static FramingSettings none() noexcept { return FramingSettings(); }
  // FRM-1/FRM-2/FRM-5. length_type is a pack code letter (c C s S n v l L N V q Q J P);
  // max_length is enforced exactly and may not be below body_offset nor below the end of the
  // length field (length_offset + width), since no packet could then ever be accepted.
  static Result<FramingSettings> length(char length_type, std::int64_t length_offset,
                                        std::int64_t body_offset, std::int64_t max_length);
  // FRM-6 / FRM-7. package_eof is 1..8 bytes; max_length at least its size.
  static Result<FramingSettings> eof_split(std::string_view package_eof, std::int64_t max_length);
  static Result<FramingSettings> eof_check(std::string_view package_eof, std::int64_t max_length);
  // The IUT framing SPEC: `none`, `length:TYPE:LENGTH_OFFSET:BODY_OFFSET:MAX`, `eof-split:HEX:MAX`,
  // `eof-check:HEX:MAX` (HEX = the EOF bytes in hex, e.g. 0d0a). MAX takes K/M/G suffixes.
  static Result<FramingSettings> parse(std::string_view spec);

  FramingMode mode() const noexcept { return mode_; }
  char length_type() const noexcept { return length_type_; }
  std::size_t length_offset() const noexcept { return length_offset_; }
  std::size_t body_offset() const noexcept { return body_offset_; }
  // Where the length field ends: the bytes needed before a packet's size is known.
  std::size_t header_end() const noexcept { return header_end_; }
  std::size_t max_length() const noexcept { return max_length_; }
  std::string_view package_eof() const noexcept { return {eof_, eof_size_}; }
  // The canonical SPEC string; parse(to_spec()) gives back equal settings.
  std::string to_spec() const;

  friend bool operator==(const FramingSettings& a, const FramingSettings& b) noexcept {
    return a.mode_ == b.mode_ && a.length_type_ == b.length_type_ && a.length_offset_ == b.length_offset_ &&
           a.body_offset_ == b.body_offset_ && a.max_length_ == b.max_length_ &&
           a.package_eof() == b.package_eof();
  }

 private:
  FramingSettings() = default;
  static Result<FramingSettings> eof(FramingMode mode, std::string_view package_eof, std::int64_t max_length);

  FramingMode mode_ = FramingMode::none;
  char length_type_ = 'N';
  std::size_t length_offset_ = 0;
  std::size_t body_offset_ = 0;
  std::size_t header_end_ = 0;
  std::size_t max_length_ = 0;
  char eof_[kMaxEofBytes] = {};
  std::size_t eof_size_ = 0;
};

// A port's protocol settings under Swoole's names and defaults, filled one key at a time from
// text (a config file, the driver's command line, a future Server::set). Nothing is checked
// until build(), which reports the first bad setting by its Swoole name.
struct FramingOptions {
  bool open_length_check = false;
  std::string package_length_type = "N";
  std::int64_t package_length_offset = 0;
  std::int64_t package_body_offset = 4;  // alias package_body_start
  std::int64_t package_max_length = FramingSettings::kDefaultMaxLength;
  bool open_eof_check = false;
  bool open_eof_split = false;  // implies open_eof_check, as in Swoole
  std::string package_eof = "\r\n\r\n";

  // Whether `key` is one of the keys above, so a caller holding all of a server's settings can
  // route the framing ones here.
  static bool is_key(std::string_view key) noexcept;
  // Booleans: true/false/1/0. Integers: decimal; package_max_length also takes K/M/G (1024-based).
  // package_length_type: exactly one character. package_eof: the raw bytes, not an escape form.
  // Error: an unknown key or a value of the wrong form (errc::invalid_setting naming the key).
  Status set(std::string_view key, std::string_view value);
  // open_length_check together with an EOF mode is an error: Swoole silently lets EOF win.
  Result<FramingSettings> build() const;
};

// One connection's decoder (FRM-3..FRM-10). Pure: no I/O, no clock; the packets depend only on
// the settings and the bytes (and, for none and eof_check, on where the reads end, as in Swoole).
// Every packet is delivered whole, once, in order; a packet that arrives contiguous inside one
// feed() is handed out as a view of the caller's bytes (no copy), a packet spread over several
// reads is assembled in an internal buffer that never exceeds max_length.
//
// Not thread-safe; one decoder per connection, so a malformed stream closes only its own
// connection. The callback must not call feed() on the same decoder.
class FrameDecoder {
 public:
  explicit FrameDecoder(FramingSettings settings) noexcept;
  FrameDecoder(FrameDecoder&&) noexcept = default;
  FrameDecoder& operator=(FrameDecoder&&) noexcept = default;
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Feeds one read. on_packet(std::string_view) runs for each complete packet; the view is valid
  // only during the call. On a malformed stream (FRM-4, FRM-8) the packets before the bad one are
  // delivered, the reason is logged as a warning and returned as errc::frame_invalid, and the
  // decoder stays closed: later feeds return the same error and deliver nothing.
  template <class F>
  Status feed(std::string_view bytes, F&& on_packet) {
    // A local forwarding lambda gives one non-const object to point at, whatever F is (a const
    // lambda, a function reference); the decoding loop itself stays out of line.
    auto call = [&on_packet](std::string_view packet) { on_packet(packet); };
    auto thunk = [](void* ctx, std::string_view packet) { (*static_cast<decltype(call)*>(ctx))(packet); };
    return feed_impl(bytes, PacketSink{&call, thunk});
  }

  bool closed() const noexcept { return close_reason_.has_value(); }
  // The close error, if closed.
  const std::optional<Error>& close_reason() const noexcept { return close_reason_; }
  // Bytes of an incomplete packet held back (FRM-4: kept until the peer or the heartbeat ends it).
  std::size_t pending() const noexcept { return buffer_.size(); }
  const FramingSettings& settings() const noexcept { return settings_; }
  // Forgets pending bytes and a close, for reuse on a new connection.
  void reset() noexcept;

 private:
  struct PacketSink {
    void* ctx;
    void (*fn)(void*, std::string_view);
    void operator()(std::string_view p) const { fn(ctx, p); }
  };
  Status feed_impl(std::string_view bytes, PacketSink sink);
  Status feed_length(std::string_view bytes, PacketSink sink);
  Status feed_eof_split(std::string_view bytes, PacketSink sink);
  Status feed_eof_check(std::string_view bytes, PacketSink sink);
  // Validates a packet size from the header at `header`; 0 and a close if malformed.
  std::size_t packet_size(const unsigned char* header);
  Status close(std::string reason);

  FramingSettings settings_;
  const detail::PackCode* pack_code_ = nullptr;  // length mode only
  std::string buffer_;               // the start of an incomplete packet
  std::size_t need_ = 0;             // its full size once its header is in, else 0
  std::optional<Error> close_reason_;
  bool in_feed_ = false;
};

}  // namespace procspec

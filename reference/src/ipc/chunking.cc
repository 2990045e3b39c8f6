#include "ipc/chunking.h"

#include <cstring>

#include "procspec/log.h"

namespace procspec::detail {

WireHeader make_wire_header(const MessageHeader& header, std::size_t length, std::uint32_t msg_id) {
  WireHeader w{};
  w.session_id = header.session_id;
  w.length = static_cast<std::uint32_t>(length);
  w.msg_id = msg_id;
  w.reactor_id = header.reactor_id;
  w.worker_id = header.worker_id;
  w.kind = static_cast<std::uint8_t>(header.kind);
  w.flags = header.flags;
  return w;
}

MessageHeader to_message_header(const WireHeader& wire) {
  MessageHeader h;
  h.kind = static_cast<MessageKind>(wire.kind);
  h.flags = wire.flags;
  h.reactor_id = wire.reactor_id;
  h.worker_id = wire.worker_id;
  h.session_id = wire.session_id;
  return h;
}

WireHeader read_wire_header(const char* data) {
  WireHeader w;
  std::memcpy(&w, data, sizeof w);
  return w;
}

Status check_length(std::string_view channel, std::size_t size, std::size_t max_length) {
  if (size > max_length) {
    return fail(errc::payload_too_large, std::string(channel) + ": message of " + std::to_string(size) +
                                             " bytes exceeds max_length " + std::to_string(max_length));
  }
  return {};
}

OutgoingMessage::OutgoingMessage(WireHeader header, std::string_view payload, std::size_t chunk_size)
    : header_(header), payload_(payload), chunk_payload_(chunk_size - kWireHeaderSize) {}

bool OutgoingMessage::chunked() const noexcept { return payload_.size() > chunk_payload_; }

WireHeader OutgoingMessage::next_header() const {
  WireHeader h = header_;
  if (chunked()) {
    h.chunk = kChunk;
    if (offset_ == 0) h.chunk |= kChunkBegin;
    if (offset_ + chunk_payload_ >= payload_.size()) h.chunk |= kChunkEnd;
  }
  return h;
}

std::string_view OutgoingMessage::next_slice() const { return payload_.substr(offset_, chunk_payload_); }

void OutgoingMessage::advance() noexcept {
  offset_ += chunk_payload_;
  if (offset_ >= payload_.size()) done_ = true;
}

void OutgoingMessage::set_chunk_size(std::size_t chunk_size) noexcept {
  PROCSPEC_CHECK(!started(), "chunk size changed after the first datagram");
  chunk_payload_ = chunk_size - kWireHeaderSize;
}

void OutgoingMessage::own() {
  if (payload_.data() == owned_.data()) return;
  owned_.assign(payload_);
  payload_ = owned_;
}

Result<std::optional<Message>> Reassembler::feed(std::string_view datagram) {
  if (datagram.size() < kWireHeaderSize) {
    return fail(errc::frame_invalid, channel_ + ": datagram of " + std::to_string(datagram.size()) +
                                         " bytes is shorter than the " + std::to_string(kWireHeaderSize) +
                                         "-byte header");
  }
  const WireHeader w = read_wire_header(datagram.data());
  const std::string_view body = datagram.substr(kWireHeaderSize);
  if (w.chunk == 0) {
    if (body.size() != w.length) {
      return fail(errc::frame_invalid, channel_ + ": datagram says " + std::to_string(w.length) +
                                           " bytes but carries " + std::to_string(body.size()));
    }
    if (auto ok = check_length(channel_, w.length, max_length_); !ok) return forward_error(std::move(ok).error());
    return std::optional<Message>(Message{to_message_header(w), std::string(body)});
  }

  const Key key{w.reactor_id, w.session_id, w.msg_id};
  auto it = partial_.find(key);
  if (w.chunk & kChunkBegin) {
    if (it != partial_.end()) {
      // The sender restarted this message id (a restarted reactor): the old one is lost.
      log_warn(channel_ + ": chunked message " + std::to_string(w.msg_id) + " of session " +
               std::to_string(w.session_id) + " restarted before its end; dropped the old part");
      partial_.erase(it);
    }
    Partial p;
    if (w.length > max_length_) {
      p.discard = true;  // the caller gets one error now; the rest of the chunks vanish quietly
      if (!(w.chunk & kChunkEnd)) partial_.emplace(key, std::move(p));
      return forward_error(check_length(channel_, w.length, max_length_).error());
    }
    p.payload.reserve(w.length);
    it = partial_.emplace(key, std::move(p)).first;
  } else if (it == partial_.end()) {
    // A chunk whose beginning we never saw: its sender died half-way or we were reset. Swoole
    // reports this as "abnormal pipeline data" (9102) and drops it; so do we.
    log_warn(channel_ + ": dropped a chunk of message " + std::to_string(w.msg_id) + " of session " +
             std::to_string(w.session_id) + " whose first chunk never arrived");
    return std::optional<Message>();
  }

  Partial& p = it->second;
  if (!p.discard) {
    if (p.payload.size() + body.size() > w.length) {
      partial_.erase(it);
      return fail(errc::frame_invalid, channel_ + ": chunks of message " + std::to_string(w.msg_id) +
                                           " exceed its length " + std::to_string(w.length));
    }
    p.payload.append(body);
  }
  if (!(w.chunk & kChunkEnd)) return std::optional<Message>();

  Partial done = std::move(it->second);
  partial_.erase(it);
  if (done.discard) return std::optional<Message>();
  if (done.payload.size() != w.length) {
    return fail(errc::frame_invalid, channel_ + ": message " + std::to_string(w.msg_id) + " ended at " +
                                         std::to_string(done.payload.size()) + " of " +
                                         std::to_string(w.length) + " bytes");
  }
  return std::optional<Message>(Message{to_message_header(w), std::move(done.payload)});
}

}  // namespace procspec::detail

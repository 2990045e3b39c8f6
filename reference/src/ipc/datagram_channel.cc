#include "ipc/datagram_channel.h"

#include <poll.h>

#include <cerrno>

#include "procspec/log.h"

namespace procspec::detail {

DatagramChannel::DatagramChannel(ChannelType type, const ChannelOptions& options, std::string name,
                                 std::size_t chunk_size)
    : Channel(type, options.max_length),
      name_(std::move(name)),
      chunk_size_(chunk_size),
      reassembler_(name_, options.max_length) {}

Status DatagramChannel::map_write_error(int err) const {
  if (err == ECONNREFUSED || err == EPIPE || err == ECONNRESET || err == EIDRM || err == EINVAL) {
    return fail(errc::peer_closed, name_ + ": the receiving end is gone (" +
                                       error_name(std::error_code(err, std::system_category())) + ")");
  }
  return sys_fail(err, name_ + ": send");
}

Status DatagramChannel::write_message(OutgoingMessage& message, bool wait) {
  while (!message.done()) {
    const int err = write_datagram(message.next_header(), message.next_slice(), wait);
    if (err == 0) {
      message.advance();
      continue;
    }
    // SRV-PROC-4: the kernel refused the datagram size; restart the message in 2 KiB chunks.
    if ((err == EMSGSIZE || err == ENOBUFS) && !message.started() && chunk_size_ > kFallbackChunkSize) {
      log_info(name_ + ": datagrams of " + std::to_string(chunk_size_) + " bytes refused (" +
               error_name(std::error_code(err, std::system_category())) + "), falling back to " +
               std::to_string(kFallbackChunkSize));
      chunk_size_ = kFallbackChunkSize;
      message.set_chunk_size(chunk_size_);
      continue;
    }
    return map_write_error(err);
  }
  return {};
}

Status DatagramChannel::send(const MessageHeader& header, std::string_view payload) {
  if (auto ok = check_length(name_, payload.size(), max_length()); !ok) return ok;
  if (pending_) {
    return sys_fail(EAGAIN, name_ + ": the previous message is still being written; flush() first");
  }
  OutgoingMessage message(make_wire_header(header, payload.size(), next_msg_id_++), payload, chunk_size_);
  Status st = write_message(message, !nonblocking_);
  if (!st && would_block(st.error()) && message.started()) {
    // IPC-2 for chunked messages: a datagram boundary is not a message boundary, so the part
    // already written commits us to the rest; hold it rather than tear the message.
    message.own();
    pending_.emplace(std::move(message));
    return {};
  }
  return st;
}

Status DatagramChannel::flush() {
  if (!pending_) return {};
  Status st = write_message(*pending_, !nonblocking_);
  if (st || !would_block(st.error())) pending_.reset();
  return st;
}

Status DatagramChannel::reset() {
  pending_.reset();
  reassembler_.clear();
  peer_.clear();
  return {};
}

Result<Message> DatagramChannel::receive() {
  for (;;) {
    const bool watching = peer_.watching();
    // Checked before reading: whatever the peer sent before it exited is already queued, so
    // "exited and nothing to read" really is the end.
    const bool peer_exited = watching && peer_.exited();
    auto datagram = read_datagram(!nonblocking_ && !watching);
    if (datagram) {
      auto message = reassembler_.feed(*datagram);
      if (!message) return forward_error(std::move(message).error());
      if (*message) return std::move(**message);
      continue;
    }
    if (!would_block(datagram.error())) return forward_error(std::move(datagram).error());
    if (peer_exited && drained_after_peer_exit()) {
      return fail(errc::peer_closed, name_ + ": the peer process exited and everything it sent was received");
    }
    if (nonblocking_) return forward_error(std::move(datagram).error());
    // Once the peer has exited its pidfd stays readable: wait for the channel alone then.
    const PollTarget target = readable_target();
    const PeerWatch none;
    if (auto ok = wait_ready(target.fd, static_cast<short>(target.events), peer_exited ? none : peer_); !ok) {
      return forward_error(std::move(ok).error());
    }
  }
}

}  // namespace procspec::detail

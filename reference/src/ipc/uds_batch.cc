// UDS SOCK_STREAM channel that coalesces messages (IPC-1), framed like uds_stream.
//
// When bytes reach the socket:
//   - blocking mode: at once, one sendmsg per message, exactly like uds_stream (bytes an earlier
//     non-blocking send left in the buffer go first), so a lone message never waits for company;
//   - non-blocking mode: send() appends the frame to an output buffer and writes the buffer only
//     once it holds kBatchBytes or more; flush() writes whatever is buffered. The caller's event
//     loop calls flush() once per turn while has_pending() — after it has handled the turn's
//     events and before it waits — so no message waits longer than one loop turn, and all the
//     messages of a turn go out in one write. A frame of kBatchBytes or more with nothing
//     buffered ahead of it is written directly (no copy), its unwritten tail held.
// send() returns EAGAIN (accepting nothing) only while kBatchBytes or more are buffered and the
// socket takes none of them; then poll writable_target() and flush().
// The receiver reads up to kReadBytes at a time and decodes every frame in them.
#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <string>

#include "ipc/channels.h"
#include "ipc/stream_channel.h"

namespace procspec::detail {
namespace {

constexpr std::size_t kBatchBytes = 64 * 1024;
constexpr std::size_t kReadBytes = 256 * 1024;

class UdsBatchChannel final : public StreamChannel {
 public:
  UdsBatchChannel(UniqueFd fd, const ChannelOptions& options)
      : StreamChannel(ChannelType::uds_batch, std::move(fd), options, kReadBytes) {}

  Status send(const MessageHeader& header, std::string_view payload) override {
    if (!nonblocking_) {
      if (has_pending()) {
        if (auto ok = check_length(name(), payload.size(), max_length()); !ok) return ok;
        if (auto ok = flush(); !ok) return ok;
      }
      return StreamChannel::send(header, payload);
    }
    if (auto ok = check_length(name(), payload.size(), max_length()); !ok) return ok;
    if (buffered() >= kBatchBytes) {
      if (auto ok = write_some(); !ok) return ok;
      if (buffered() >= kBatchBytes) {
        return sys_fail(EAGAIN, "uds_batch: " + std::to_string(buffered()) +
                                    " bytes wait for the socket (batch limit " + std::to_string(kBatchBytes) + ")");
      }
    }
    const WireHeader wire = make_wire_header(header, payload.size(), 0);
    if (!has_pending() && sizeof wire + payload.size() >= kBatchBytes) {
      auto written = write_frame(wire, payload, false);
      if (!written) return forward_error(std::move(written).error());
      if (*written < sizeof wire + payload.size()) hold(wire, payload, *written);
      return {};
    }
    if (pending_off_ > 0) {
      pending_.erase(0, pending_off_);
      pending_off_ = 0;
    }
    pending_.append(reinterpret_cast<const char*>(&wire), sizeof wire);
    pending_.append(payload);
    if (buffered() >= kBatchBytes) return write_some();
    return {};
  }

 private:
  std::size_t buffered() const noexcept { return pending_.size() - pending_off_; }

  // Writes what the socket takes now; EAGAIN is not an error here (the bytes stay buffered).
  Status write_some() {
    const bool was = nonblocking_;
    nonblocking_ = true;
    Status st = flush();
    nonblocking_ = was;
    if (!st && would_block(st.error())) return {};
    return st;
  }

  void hold(const WireHeader& wire, std::string_view payload, std::size_t written) {
    pending_.assign(reinterpret_cast<const char*>(&wire), sizeof wire);
    pending_.append(payload);
    pending_off_ = written;
  }
};

}  // namespace

Result<ChannelPair> make_uds_batch_pair(const ChannelOptions& options) {
  auto fds = make_unix_socketpair(SOCK_STREAM, options.socket_buffer_size);
  if (!fds) return forward_error(std::move(fds).error());
  ChannelPair pair;
  pair.reactor = std::make_unique<UdsBatchChannel>(std::move(fds->first), options);
  pair.worker = std::make_unique<UdsBatchChannel>(std::move(fds->second), options);
  return pair;
}

}  // namespace procspec::detail

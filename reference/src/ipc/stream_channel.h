#pragma once
// StreamChannel: the UDS SOCK_STREAM channel with length framing (IPC-1), shared by uds_stream
// and uds_batch. Every message is the 24-byte WireHeader (chunk = 0, length = payload bytes)
// followed by the payload. Robust to partial writes (the unwritten tail is held for flush()) and
// partial reads (bytes accumulate until a whole frame is there; one read may bring many frames,
// which later receive() calls take from the buffer without a syscall). The peer's death is a
// plain EOF.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/chunking.h"
#include "procspec/channel.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

class StreamChannel : public Channel {
 public:
  StreamChannel(ChannelType type, UniqueFd fd, const ChannelOptions& options, std::size_t read_size);

  // Writes the frame now (blocking: all of it; non-blocking: what the socket takes, the tail held).
  Status send(const MessageHeader& header, std::string_view payload) override;
  Status flush() override;
  bool has_pending() const noexcept override { return pending_.size() > pending_off_; }
  Result<Message> receive() override;

  PollTarget readable_target() override;
  PollTarget writable_target() override;
  Status watch_peer(pid_t) override { return {}; }  // EOF tells us
  Status reset() override;

 protected:
  std::string_view name() const noexcept { return channel_type_name(type()); }
  int fd() const noexcept { return fd_.get(); }
  Status map_write_error(int err) const;
  // Writes [header|payload] with sendmsg until done, EAGAIN (returns the bytes written) or an
  // error. `wait`: a blocking write.
  Result<std::size_t> write_frame(const WireHeader& wire, std::string_view payload, bool wait);

  // Bytes accepted but not yet in the socket; pending_off_ of them already written.
  std::string pending_;
  std::size_t pending_off_ = 0;

 private:
  void make_room(std::size_t need);

  UniqueFd fd_;
  std::size_t read_size_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace procspec::detail

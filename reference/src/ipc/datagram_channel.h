#pragma once
// DatagramChannel: the part uds_dgram and sysvmsg share — chunked sends that a non-blocking
// caller may leave half-done (the tail is held for flush()), reassembly, and peer-death
// handling. A subclass only moves single datagrams.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ipc/chunking.h"
#include "ipc/peer_watch.h"
#include "procspec/channel.h"

namespace procspec::detail {

class DatagramChannel : public Channel {
 public:
  Status send(const MessageHeader& header, std::string_view payload) override;
  Status flush() override;
  bool has_pending() const noexcept override { return pending_.has_value(); }
  Result<Message> receive() override;
  Status watch_peer(pid_t pid) override { return peer_.watch(pid); }
  Status reset() override;

 protected:
  DatagramChannel(ChannelType type, const ChannelOptions& options, std::string name, std::size_t chunk_size);

  // Writes one datagram [header|slice]: 0 or an errno (EAGAIN only when !wait).
  virtual int write_datagram(const WireHeader& header, std::string_view slice, bool wait) = 0;
  // Reads one datagram (valid until the next call). EAGAIN when !wait and none is ready.
  virtual Result<std::string_view> read_datagram(bool wait) = 0;
  // Called when the peer has exited and read_datagram(false) found nothing: true if nothing
  // can arrive any more (report peer_closed now); false if the subclass arranged for
  // read_datagram to report the end itself.
  virtual bool drained_after_peer_exit() = 0;

  const std::string& name() const noexcept { return name_; }
  const PeerWatch& peer() const noexcept { return peer_; }

 private:
  Status write_message(OutgoingMessage& message, bool wait);
  Status map_write_error(int err) const;

  std::string name_;
  std::size_t chunk_size_;
  std::uint32_t next_msg_id_ = 1;
  std::optional<OutgoingMessage> pending_;
  Reassembler reassembler_;
  PeerWatch peer_;
};

}  // namespace procspec::detail

#pragma once
// Channel: one endpoint of the message channel between a reactor (in the master) and one worker
// (IPC-1). PROCESS mode moves every packet and every response through it:
//
//   client -> reactor (framing) -> Channel::send ==> Channel::receive -> worker (onReceive)
//   client <- reactor           <- Channel::receive <== Channel::send  <- worker (send/close)
//
// Channels are made in pairs before fork (make_channels); after fork the master keeps
// `reactor`, the worker keeps `worker`, and each drops the other (dropping is safe in either
// process; a SysV queue is removed only by the process that created it).
//
// Why an abstract class and not a concept + templates: the implementation is a runtime choice
// (the Server's `ipc` setting, the IUT's `--ipc`), the Server and the benchmarks hold channels of
// different types side by side, and one indirect call per message is noise next to the syscall
// every implementation makes. A template would make the whole Server a template per channel.
//
// Threads: an endpoint may have one sending thread (send/flush) and one receiving thread
// (receive) at a time; set_nonblocking only while neither is inside a call. Different endpoints
// are independent. Errors returned by every call:
//   - std::errc::resource_unavailable_try_again (EAGAIN): non-blocking and nothing could be done;
//   - errc::payload_too_large: the message exceeds max_length (the message names the limit);
//   - errc::peer_closed: the other endpoint is gone and everything it sent has been received;
//   - errc::frame_invalid: the peer sent bytes that are not a message of this channel;
//   - system errors of the underlying calls, named.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "procspec/result.h"

namespace procspec {

// The implementations of IPC-1; names are the Server's `ipc` setting / the IUT's --ipc.
//   uds_batch: uds_stream whose non-blocking sends coalesce (see send/flush below);
//   shm_ring:  an SPSC byte ring per direction in shared memory (memfd, made before fork),
//              eventfd wake-ups only when the other side sleeps; also works between threads.
enum class ChannelType { uds_dgram, uds_stream, sysvmsg, thread, uds_batch, shm_ring };

// What a message means to the server (Swoole's ServerEventType, reduced to what the data path
// needs). The channel carries it unchanged; only the server interprets it.
enum class MessageKind : std::uint8_t {
  data = 0,      // reactor -> worker: a packet of connection session_id; worker -> reactor: a response
  connect,       // reactor -> worker: onConnect for session_id
  close,         // reactor -> worker: connection closed; worker -> reactor: close(session_id)
  pause_recv,    // worker -> reactor: stop reading session_id
  resume_recv,   // worker -> reactor: read session_id again
  buffer_full,   // reactor -> worker: the output buffer of session_id reached its limit
  buffer_empty,  // reactor -> worker: the output buffer of session_id drained
  pipe_message,  // sendMessage() between workers, relayed by the master
  task,          // task() to a task worker
  finish,        // a task's result back to its worker
  shutdown,      // the master asks the worker to stop
  command,       // anything else the server defines (its own sub-kind in `flags`)
};

// The small header every message carries (24 bytes on the wire with the channel's own fields).
struct MessageHeader {
  MessageKind kind = MessageKind::data;
  std::uint8_t flags = 0;            // the server's own bits; the channel never reads them
  std::uint16_t reactor_id = 0;      // reactor thread that owns the connection (routes responses)
  std::uint16_t worker_id = 0;       // sending worker (responses, pipe messages)
  std::uint64_t session_id = 0;      // connection / task / request id
  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};

struct Message {
  MessageHeader header;
  std::string payload;  // binary-safe
};

struct ChannelOptions {
  // Largest payload a message may have (Swoole: package_max_length, 2 MiB). 1 .. 4 GiB-1.
  std::size_t max_length = 2 * 1024 * 1024;
  // Largest datagram the chunking channels try first, header included (SRV-PROC-4: 64 KiB,
  // falling back to 2 KiB when the kernel refuses with EMSGSIZE). sysvmsg uses min(this, msgmax).
  std::size_t chunk_size = 64 * 1024;
  // SO_SNDBUF/SO_RCVBUF for the socket channels; 0 keeps the kernel default.
  int socket_buffer_size = 0;
  // thread: messages a direction holds before the sender blocks / gets EAGAIN.
  // sysvmsg: chunks the receiver thread takes out of the kernel queue ahead of receive().
  std::size_t queue_capacity = 256;
  // shm_ring: bytes of each direction's ring, a power of two in 4 KiB .. 1 GiB. A message of more
  // than half of it is streamed through in pieces (and reassembled), not refused.
  std::size_t ring_size = 1024 * 1024;
};

// An fd and the poll(2)/epoll events that mean "ready" (POLLIN == EPOLLIN, POLLOUT == EPOLLOUT).
struct PollTarget {
  int fd = -1;  // -1: this channel cannot signal this readiness (see sysvmsg's writable_target)
  std::uint32_t events = 0;
};

class Channel {
 public:
  virtual ~Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  ChannelType type() const noexcept { return type_; }
  std::size_t max_length() const noexcept { return max_length_; }
  bool nonblocking() const noexcept { return nonblocking_; }
  // Blocking (default): send waits for room, receive waits for a message. Non-blocking: both
  // return EAGAIN instead of waiting.
  void set_nonblocking(bool on) noexcept { nonblocking_ = on; }

  // Sends one message intact and in order (IPC-1). Non-blocking: either the whole message is
  // accepted — written, or its unwritten tail held for flush() — or EAGAIN with nothing accepted.
  // While a tail is held, send returns EAGAIN; poll writable_target() and call flush().
  // uds_batch, non-blocking: an accepted message may also sit in the output buffer with others
  // (has_pending() true, send keeps accepting until 64 KiB are buffered): an event loop must call
  // flush() once per turn while has_pending(), before it waits — that write carries the turn's
  // messages together. Blocking mode always writes at once.
  virtual Status send(const MessageHeader& header, std::string_view payload) = 0;
  // Writes a held tail (and, uds_batch, the buffered messages); EAGAIN if some is still held.
  // Blocking mode waits until it is written.
  virtual Status flush() = 0;
  virtual bool has_pending() const noexcept = 0;

  // The next message, reassembled. peer_closed once the peer is gone and drained.
  virtual Result<Message> receive() = 0;

  // For epoll: readable means receive() can make progress; writable means flush()/send() can.
  // Level-triggered. Calling readable_target() may start sysvmsg's receiver thread.
  virtual PollTarget readable_target() = 0;
  virtual PollTarget writable_target() = 0;

  // Datagram, SysV and shm_ring channels cannot see their peer die (a UDS dgram socket never
  // reports EOF; a queue or a shared mapping outlives any process), so the endpoint that knows the
  // peer's pid tells the channel: receive() then reports peer_closed once that process has exited
  // and everything it sent is drained (shm_ring: send too, once receive has seen it, or when it
  // would wait for room). Stream and thread channels see EOF by themselves; for them this is a
  // no-op. shm_ring sees an endpoint dropped by the last process holding it (THREAD mode) by
  // itself (a forked child holds what it inherited; one that _exits never drops it).
  // A reactor that integrates with epoll learns of the death from SIGCHLD (via the manager).
  virtual Status watch_peer(pid_t pid) = 0;

  // After the peer died and a replacement took its place: forget half-received chunked
  // messages from the dead peer and any unsent tail, so the replacement starts clean. Whole
  // messages still waiting are kept on message channels (the replacement handles them), but a
  // byte stream (uds_stream, uds_batch) cannot be resynchronised after a half-consumed frame, so
  // its reset also discards every byte waiting (uds_batch: and every message still buffered).
  // shm_ring knows its frame boundaries: it keeps whole messages in both rings and drops only a
  // torn one (its own half-written tail, the dead peer's half-written last message); each end
  // clears its own wake-up state. Call it, on both ends, only while the other side is not writing.
  virtual Status reset() = 0;

 protected:
  Channel(ChannelType type, std::size_t max_length) : type_(type), max_length_(max_length) {}
  bool nonblocking_ = false;

 private:
  ChannelType type_;
  std::size_t max_length_;
};

struct ChannelPair {
  std::unique_ptr<Channel> reactor;
  std::unique_ptr<Channel> worker;
};

// `count` pairs, one per worker (sysvmsg: one queue per direction shared by all of them, the mtype
// selects the worker). Options out of range → errc::invalid_setting naming the option.
Result<std::vector<ChannelPair>> make_channels(ChannelType type, std::size_t count,
                                               const ChannelOptions& options = {});
Result<ChannelPair> make_channel(ChannelType type, const ChannelOptions& options = {});

// "uds_dgram"/"uds-dgram", "uds_stream"/"uds-stream", "sysvmsg", "thread", "uds_batch"/"uds-batch",
// "shm_ring"/"shm-ring"; anything else →
// errc::invalid_setting naming the value.
Result<ChannelType> parse_channel_type(std::string_view name);
std::string_view channel_type_name(ChannelType type) noexcept;  // the underscore spelling

// True for the EAGAIN result of a non-blocking call.
bool would_block(const Error& error) noexcept;

}  // namespace procspec

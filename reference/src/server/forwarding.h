#pragma once
// The reactor⇄worker conversation of PROCESS mode, on top of a Channel
// (procspec/channel.h). Shared by the reactor side (forwarding_reactor) and the worker side
// (channel_worker) so the two cannot drift apart.
//
//   reactor -> worker   data(session)      a packet; counted in flight until the worker is done
//                       connect(session)   onConnect (only sent when the server has one); counted
//                       close(session)     onClose (only when the server has one); not counted
//                       command stop_ack   answer to `stopping`: nothing more will follow
//                       command probe      counted, answered by `done` for session 0: sent behind
//                                          what a dead worker left in a message channel
//   worker -> reactor   data(session)      a response; kDone set on the last one of a packet
//                       close(session)     close the connection once its answers are out
//                       command done       a counted message finished without a response
//                       command ready      the worker threw away stale input and can take work
//                       command stopping   send nothing more; answer stop_ack
//
// Why "done" rides on the response: a packet that is answered (the common case) costs one
// message each way, no separate acknowledgement. The reactor needs to know when a packet is
// finished for dispatch_mode 3 (idle worker), for keeping a connection's packets on one worker
// while any is in flight, and to know which connections a dead worker leaves unanswered.
//
// Start, stop and death of a worker:
//   - a worker starts "down": the reactor queues its messages until `ready`;
//   - a stopping worker (SIGTERM: shutdown, reload, max_request) says `stopping`, handles what
//     arrives before stop_ack, then exits: nothing sent to it is lost (SRV-14, SRV-6);
//   - a crashed worker: the manager holds its restart and tells the master; each reactor reads
//     the answers it had already sent, closes the connections it leaves unanswered (SRV-PROC-5)
//     and resets the channel; then the replacement starts and says `ready` (SRV-PROC-2).
//   - a worker killed inside its receive call may have taken a message it never counted (the
//     kernel, the ring or sysvmsg's receiver thread handed it over): the reactor cannot tell
//     that from "still in the channel". A probe sent behind the outstanding messages settles
//     it: the replacement finishes a channel's messages in order, so the probe's `done`
//     arriving before theirs means they died with the predecessor, and those connections are
//     closed (SRV-PROC-5) instead of waiting for an answer that will never come.
#include <cstddef>
#include <cstdint>

#include "procspec/channel.h"

namespace procspec::detail {

// The smallest datagram a chunking channel falls back to (SRV-PROC-4), header included, and the
// header: a message larger than this may have been half-read when its reader died.
inline constexpr std::size_t kSmallestDatagram = 2048;
inline constexpr std::size_t kWireHeaderBytes = 24;

// MessageHeader::flags of a worker's data/close message.
inline constexpr std::uint8_t kDoneFlag = 1;

// MessageHeader::flags of MessageKind::command.
enum class Command : std::uint8_t { done = 1, ready = 2, stopping = 3, stop_ack = 4, probe = 5 };

// The session a probe and its `done` carry: connection sessions start above it (reactor.h).
inline constexpr std::uint64_t kProbeSession = 0;

// Messages a worker counts when it takes them and reports `done` for, in channel order.
inline bool is_counted(const MessageHeader& h) {
  return h.kind == MessageKind::data || h.kind == MessageKind::connect ||
         (h.kind == MessageKind::command && static_cast<Command>(h.flags) == Command::probe);
}

inline MessageHeader command_header(Command command, int reactor_id, int worker_id, std::uint64_t session = 0) {
  MessageHeader h;
  h.kind = MessageKind::command;
  h.flags = static_cast<std::uint8_t>(command);
  h.reactor_id = static_cast<std::uint16_t>(reactor_id);
  h.worker_id = static_cast<std::uint16_t>(worker_id);
  h.session_id = session;
  return h;
}

}  // namespace procspec::detail

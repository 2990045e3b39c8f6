#pragma once
// One client connection as a reactor holds it: its socket, framing state, unsent bytes and
// routing. Owned by exactly one Reactor (one thread); never shared.
#include <chrono>
#include <cstdint>
#include <string>

#include "procspec/framing.h"
#include "procspec/unique_fd.h"
#include "server/dispatcher.h"
#include "server/output_buffer.h"

namespace procspec::detail {

// Session ids carry the owning reactor in their low byte, so a worker can answer any session
// (a response, a pipe message relayed by another worker) without a shared connection table.
// The rest is a counter: a session id is never reused, so a late response for a closed
// connection cannot reach a new client that got the same fd number.
inline constexpr int kReactorIdBits = 8;
inline constexpr int kMaxReactors = 1 << kReactorIdBits;
inline int reactor_of(std::uint64_t session) { return static_cast<int>(session & (kMaxReactors - 1)); }

struct Connection {
  Connection(std::uint64_t session, UniqueFd socket, int reactor, const FramingSettings& framing,
             std::size_t output_limit)
      : session_id(session), fd(std::move(socket)), reactor_id(reactor), decoder(framing), out(output_limit) {}

  std::uint64_t session_id;
  UniqueFd fd;
  int reactor_id;
  std::string peer;             // "127.0.0.1:40312"
  std::uint32_t peer_hash = 0;  // dispatch_mode 4
  FrameDecoder decoder;
  OutputBuffer out;
  Routing routing;
  std::chrono::steady_clock::time_point last_recv{};
  bool watched = true;  // false while reading is paused with nothing to write (not in epoll)
  bool watching_reads = true;   // what epoll has for it now: update_interest compares
  bool watching_writes = false;
  bool reading_paused = false;
  bool close_requested = false;  // close once `out` has drained (or at once if empty)
  // A bad frame arrived while earlier packets were at a worker: read no more, close once they
  // are answered (forwarding modes; a BASE packet is answered before the next is decoded).
  bool close_when_answered = false;
  bool in_read = false;          // inside the read handler: closing is deferred to its end
};

}  // namespace procspec::detail

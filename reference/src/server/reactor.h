#pragma once
// Reactor: the connections of one event loop (one thread). Every mode uses it: a BASE worker is
// a reactor whose packets go straight to onReceive; a PROCESS/THREAD reactor thread forwards
// them to workers over channels. It accepts on a shared listening socket, frames the stream
// (FRM), writes with a capped output buffer (SRV-4, SRV-12), enforces max_conn (SRV-5) and the
// heartbeat (SRV-7, SRV-13), and survives EMFILE (SRV-15).
//
//   listen fd --accept--> Connection --read--> FrameDecoder --packet--> ConnectionEvents
//   send(session) --> OutputBuffer --writev--> socket          close(session) --> on_close
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "procspec/event_loop.h"
#include "procspec/framing.h"
#include "procspec/result.h"
#include "procspec/timer.h"
#include "server/connection.h"

namespace procspec::detail {

// What the owning mode does with a reactor's connections. Called on the reactor's thread; a
// handler may call send()/close() on the reactor, for this connection or any other.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  virtual void on_connect(Connection& conn) = 0;
  virtual void on_packet(Connection& conn, std::string_view packet) = 0;
  // The connection is gone (peer closed, error, close(), heartbeat, bad frame); its socket is
  // closed right after this returns.
  virtual void on_close(Connection& conn) = 0;
};

// Connections open across every reactor of a server — across processes in BASE mode, so it
// lives in a MAP_SHARED page created before fork.
class ConnectionCount {
 public:
  static Result<std::shared_ptr<ConnectionCount>> create_shared();
  bool try_acquire(long long limit) noexcept;
  void release() noexcept;
  long long value() const noexcept;

 private:
  explicit ConnectionCount(std::atomic<long long>* counter) : counter_(counter) {}
  std::atomic<long long>* counter_;
  struct Unmap;
  std::shared_ptr<void> mapping_;
};

struct ReactorOptions {
  int reactor_id = 0;
  FramingSettings framing = FramingSettings::none();
  std::size_t output_buffer_size = 2 * 1024 * 1024;
  long long max_conn = 100000;
  std::chrono::milliseconds heartbeat_idle{0};      // 0: no heartbeat
  std::chrono::milliseconds heartbeat_interval{0};
};

class Reactor {
 public:
  Reactor(EventLoop& loop, ReactorOptions options, ConnectionEvents& events, std::shared_ptr<ConnectionCount> count);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // Accepts from a listening socket the caller owns (it may be shared with other reactors).
  Status listen_on(int listen_fd);
  // Stops accepting (shutdown); existing connections stay.
  void stop_accepting();

  // Queues data for the client. Refused whole, with nothing sent, if it would pass the output
  // buffer limit (errc::output_buffer_full) or the session is gone (errc::peer_closed).
  Status send(std::uint64_t session, std::string_view data);
  // Closes after the unsent bytes are written. Unknown session → errc::peer_closed.
  Status close(std::uint64_t session);
  // Closes at once, dropping unsent bytes (a worker died with this connection's request).
  void abort(std::uint64_t session);
  // Stops reading from a connection (for good: a graceful stop takes no new requests); what it
  // has to write is still written.
  void pause_reading(std::uint64_t session);
  // Graceful end: stop accepting, close every connection once its bytes are out.
  void close_all();

  // Reads once from every connection (a graceful stop answers what clients already sent).
  void drain_reads();

  Connection* find(std::uint64_t session);
  std::size_t size() const noexcept { return conns_.size(); }
  int id() const noexcept { return options_.reactor_id; }
  // Calls f(session) for a snapshot of the sessions, so f may close or abort any of them.
  template <class F>
  void for_each_session(F&& f) {
    std::vector<std::uint64_t> ids;
    ids.reserve(conns_.size());
    for (auto& [id, conn] : conns_) ids.push_back(id);
    for (auto id : ids) f(id);
  }

 private:
  void on_accept();
  void on_readable(Connection& conn);
  void on_writable(Connection& conn);
  void flush(Connection& conn);
  void update_interest(Connection& conn);
  void destroy(Connection& conn);
  void heartbeat_check();
  Status reserve_spare_fd();

  EventLoop& loop_;
  ReactorOptions options_;
  ConnectionEvents& events_;
  std::shared_ptr<ConnectionCount> count_;
  int listen_fd_ = -1;
  UniqueFd spare_fd_;  // SRV-15: given up on EMFILE so the pending client can be told "no"
  std::uint64_t next_seq_ = 1;
  TimerId heartbeat_timer_ = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> conns_;
};

}  // namespace procspec::detail

#pragma once
// Which worker gets a connection's next packet (SRV-PROC-3). Lives in the reactor (PROCESS and
// THREAD modes); BASE has no dispatch, the accepting worker owns the connection.
//
// One rule sits above every mode: while a connection has a packet in flight at a worker, its
// next packet goes to that same worker. Swoole's round-robin and idle-worker modes may hand two
// packets of one connection to two workers, whose answers can then overtake each other; here a
// connection's packets are handled in order by construction, and the modes only choose among
// workers when the connection has nothing in flight.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "procspec/result.h"

namespace procspec::detail {

enum class DispatchMode { round_robin = 1, fd_mod = 2, idle_worker = 3, ip_mod = 4 };

// dispatch_mode setting values 1..4; anything else is errc::invalid_setting naming the value.
Result<DispatchMode> parse_dispatch_mode(long value);

// Per-connection routing state, stored in the reactor's connection entry.
struct Routing {
  int worker = -1;     // the worker holding this connection's in-flight packets, or -1
  int in_flight = 0;   // packets dispatched and not yet reported done
};

// Packets in flight per worker, shared by all reactor threads of a server.
class WorkerLoad {
 public:
  explicit WorkerLoad(int worker_num);
  int worker_num() const { return static_cast<int>(in_flight_.size()); }
  int in_flight(int worker) const { return in_flight_[static_cast<std::size_t>(worker)].load(std::memory_order_relaxed); }
  void add(int worker, int delta) { in_flight_[static_cast<std::size_t>(worker)].fetch_add(delta, std::memory_order_relaxed); }
  void reset(int worker) { in_flight_[static_cast<std::size_t>(worker)].store(0, std::memory_order_relaxed); }
  // Round-robin cursor shared by every reactor thread.
  unsigned next_round() { return round_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::vector<std::atomic<int>> in_flight_;
  std::atomic<unsigned> round_{0};
};

class Dispatcher {
 public:
  Dispatcher(DispatchMode mode, std::shared_ptr<WorkerLoad> load);

  // Chooses the worker for the next packet of a connection and records it as in flight.
  // `fd` is the connection's socket (fd_mod), `peer_hash` a hash of the client address (ip_mod).
  int dispatch(Routing& conn, int fd, std::uint32_t peer_hash);
  // Where an uncounted message of this connection goes (its close event): the worker holding
  // its in-flight packets, so it arrives after them, else the mode's choice.
  int route(const Routing& conn, int fd, std::uint32_t peer_hash);
  // The worker finished one packet of this connection.
  void done(Routing& conn);
  // The worker died: its in-flight packets will never be answered. Returns how many this
  // connection had there (the reactor closes such a connection: SRV-PROC-5).
  int lost(Routing& conn, int worker);

  DispatchMode mode() const { return mode_; }

 private:
  int choose(int fd, std::uint32_t peer_hash);

  DispatchMode mode_;
  std::shared_ptr<WorkerLoad> load_;
};

}  // namespace procspec::detail

#include "server/dispatcher.h"

#include <string>

namespace procspec::detail {

Result<DispatchMode> parse_dispatch_mode(long value) {
  if (value >= 1 && value <= 4) return static_cast<DispatchMode>(value);
  return fail(errc::invalid_setting, "dispatch_mode " + std::to_string(value) +
                                         " is not supported (1 round-robin, 2 fd, 3 idle worker, 4 client IP)");
}

WorkerLoad::WorkerLoad(int worker_num) : in_flight_(static_cast<std::size_t>(worker_num)) {
  PROCSPEC_CHECK(worker_num > 0, "a server has at least one worker");
}

Dispatcher::Dispatcher(DispatchMode mode, std::shared_ptr<WorkerLoad> load) : mode_(mode), load_(std::move(load)) {
  PROCSPEC_CHECK(load_ != nullptr, "dispatcher needs the shared worker load");
}

int Dispatcher::choose(int fd, std::uint32_t peer_hash) {
  const auto n = static_cast<unsigned>(load_->worker_num());
  switch (mode_) {
    case DispatchMode::round_robin:
      return static_cast<int>(load_->next_round() % n);
    case DispatchMode::fd_mod:
      return static_cast<int>(static_cast<unsigned>(fd) % n);
    case DispatchMode::ip_mod:
      return static_cast<int>(peer_hash % n);
    case DispatchMode::idle_worker: {
      // Start the scan at a rotating offset so equal loads spread instead of piling on worker 0.
      const unsigned start = load_->next_round();
      int best = static_cast<int>(start % n);
      for (unsigned i = 0; i < n; ++i) {
        int w = static_cast<int>((start + i) % n);
        if (load_->in_flight(w) == 0) return w;
        if (load_->in_flight(w) < load_->in_flight(best)) best = w;
      }
      return best;  // no idle worker: the least loaded one
    }
  }
  return 0;
}

int Dispatcher::dispatch(Routing& conn, int fd, std::uint32_t peer_hash) {
  if (conn.in_flight == 0) conn.worker = choose(fd, peer_hash);
  ++conn.in_flight;
  load_->add(conn.worker, 1);
  return conn.worker;
}

int Dispatcher::route(const Routing& conn, int fd, std::uint32_t peer_hash) {
  return conn.in_flight > 0 ? conn.worker : choose(fd, peer_hash);
}

void Dispatcher::done(Routing& conn) {
  if (conn.in_flight == 0) return;  // a late "done" from a worker that was already declared lost
  --conn.in_flight;
  load_->add(conn.worker, -1);
}

int Dispatcher::lost(Routing& conn, int worker) {
  if (conn.worker != worker || conn.in_flight == 0) return 0;
  int had = conn.in_flight;
  load_->add(worker, -had);
  conn.in_flight = 0;
  return had;
}

}  // namespace procspec::detail

#pragma once
// The other side of a benchmark: a forked process (or, for in-process mechanisms, a thread),
// started once per benchmark-function call outside the timed loop, with its results coming back
// as a PeerReport. RAII: a Peer that is destroyed without a clean join is killed and reaped.
//
// If a forked peer ends early (error, crash, payload mismatch), a watchdog thread interrupts the
// benchmark thread's blocking call with SIGUSR1 (installed without SA_RESTART), so mechanisms
// without an end-of-file notion (SysV and POSIX queues) fail with EINTR instead of hanging.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "procspec/result.h"
#include "support/rusage.h"

namespace procspec::bench {

struct PeerReport {
  std::uint64_t messages = 0;  // messages the peer handled in its loop
  Usage usage;                 // the peer's own thread usage over its loop
  bool mismatch = false;       // the peer saw a bad payload ...
  std::uint64_t mismatch_at = 0;  // ... at this sequence number
  int error = 0;               // errno of a failed call, 0 if none
  int cpu = -1;                // sched_getcpu() at the end
};

class Peer {
 public:
  // The peer's body; `stop` turns true when the benchmark side calls request_stop().
  using Body = std::function<PeerReport(const std::atomic<bool>& stop)>;

  // Forks; the child runs the after-fork hooks, dies with its parent (PR_SET_PDEATHSIG), is
  // pinned to the plan's peer CPU when pinning is on, runs `in_child` (drop the benchmark
  // side's descriptors) and then `body`.
  static Result<Peer> fork(Body body, const std::function<void()>& in_child);
  // Runs body on a thread; `unblock` must release the body from any blocking call.
  static Result<Peer> thread(Body body, std::function<void()> unblock);

  Peer(Peer&&) noexcept;
  Peer& operator=(Peer&&) noexcept;
  ~Peer();

  void request_stop() noexcept;
  // The forked peer's pid (-1 for a thread peer or once reaped).
  pid_t pid() const noexcept;
  // Waits (bounded) for the report and reaps the peer.
  Result<PeerReport> join(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct Impl;
  explicit Peer(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

// True (once) if the watchdog has interrupted the benchmark thread since the last call: spinning
// waits poll it, since a spin loop is not interrupted by a signal.
bool take_interrupt() noexcept;

// Per-message counters of a finished benchmark, self and peer (ctx switches, CPU µs).
struct PerMessage {
  double vcsw = 0, ivcsw = 0, cpu_us = 0;
};
PerMessage per_message(const Usage& u, std::uint64_t messages) noexcept;

}  // namespace procspec::bench

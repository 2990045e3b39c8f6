#pragma once
// A single-producer single-consumer ring of fixed-size slots in a MAP_SHARED memfd mapping,
// shared by two processes across fork: the practical floor for message passing on this machine.
//
// Waiting: in sleep mode a side spins briefly, then announces that it sleeps (a flag), re-checks
// the ring and blocks on an eventfd; the other side writes the eventfd only when it sees the flag.
// The lost wake-up race (consumer checks "empty", producer publishes and checks "nobody sleeps",
// consumer sleeps forever) is closed Dekker-style: both sides store, then a seq_cst fence, then
// load the other's variable, so at least one of them sees the other's store. Spurious eventfd
// wake-ups are harmless: every wait re-checks the ring. In spin mode a side never sleeps (only
// for benchmarks where both sides have a CPU of their own).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "procspec/result.h"
#include "procspec/unique_fd.h"

namespace procspec::bench {

enum class RingWait { sleep, spin };

class ShmRing {
 public:
  static Result<ShmRing> create(std::size_t max_message, std::size_t slots, RingWait wait);
  ShmRing(ShmRing&& other) noexcept;
  ShmRing& operator=(ShmRing&&) = delete;
  ~ShmRing();

  // Copies msg into the next slot; blocks while the ring is full.
  Status push(std::span<const std::byte> msg) noexcept;
  // Copies the oldest message into `into`; blocks while the ring is empty. Returns its length.
  Result<std::size_t> pop(std::span<std::byte> into) noexcept;

 private:
  struct Header;
  ShmRing(Header* h, std::size_t map_size, UniqueFd data_ready, UniqueFd space_ready) noexcept;
  std::byte* slot(std::uint64_t index) const noexcept;
  Status wait_for(bool consumer) noexcept;

  Header* h_ = nullptr;
  std::size_t map_size_ = 0;
  UniqueFd data_ready_;   // the consumer sleeps on it
  UniqueFd space_ready_;  // the producer sleeps on it
};

}  // namespace procspec::bench

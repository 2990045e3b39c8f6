#include "pool/shared_slots.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <utility>

namespace procspec::detail {

Result<SharedSlots> SharedSlots::create(std::size_t count) {
  PROCSPEC_CHECK(count > 0, "a shared slot table needs at least one slot");
  void* mem = ::mmap(nullptr, count * sizeof(SlotStatus), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return sys_fail(errno, "mmap(worker status table)");
  SharedSlots table;
  table.slots_ = static_cast<SlotStatus*>(mem);
  table.count_ = count;
  for (std::size_t i = 0; i < count; ++i) new (&table.slots_[i]) SlotStatus();
  return table;
}

SharedSlots::SharedSlots(SharedSlots&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)), count_(std::exchange(other.count_, 0)) {}

SharedSlots& SharedSlots::operator=(SharedSlots&& other) noexcept {
  if (this != &other) {
    this->~SharedSlots();
    slots_ = std::exchange(other.slots_, nullptr);
    count_ = std::exchange(other.count_, 0);
  }
  return *this;
}

SharedSlots::~SharedSlots() {
  if (slots_) ::munmap(slots_, count_ * sizeof(SlotStatus));
}

SlotStatus& SharedSlots::operator[](std::size_t i) noexcept {
  PROCSPEC_CHECK(i < count_, "slot index out of range");
  return slots_[i];
}
const SlotStatus& SharedSlots::operator[](std::size_t i) const noexcept {
  PROCSPEC_CHECK(i < count_, "slot index out of range");
  return slots_[i];
}

}  // namespace procspec::detail

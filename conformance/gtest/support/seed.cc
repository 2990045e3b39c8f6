#include "support/seed.h"

#include <cstdlib>
#include <random>

namespace procspec::test {

std::uint64_t test_seed() {
  if (const char* s = std::getenv("PROCSPEC_SEED")) return std::strtoull(s, nullptr, 10);
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) | rd();
}

}  // namespace procspec::test

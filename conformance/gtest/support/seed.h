#pragma once
// Property tests print their seed and replay it when PROCSPEC_SEED is set.
#include <cstdint>

namespace procspec::test {
// PROCSPEC_SEED if set, else a fresh random seed; callers SCOPED_TRACE it.
std::uint64_t test_seed();
}  // namespace procspec::test

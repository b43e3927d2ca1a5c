// Barrier: `parties` threads or processes wait until all have arrived, then all go on; it is
// reusable phase after phase, and in each phase exactly one party gets `true` (to do the
// phase's single piece of work).
//
// A party that dies before arriving stalls its phase, as with pthread_barrier: the others wait
// (there is no way to tell a slow party from a dead one without a timeout).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "conduit/core/error.hpp"

namespace conduit {

class Barrier {
 public:
  explicit Barrier(std::uint32_t parties) noexcept : parties_(parties == 0 ? 1 : parties) {}
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Arrives and waits for the others. true in exactly one party per phase.
  [[nodiscard]] Result<bool> arrive_and_wait() noexcept;
  [[nodiscard]] std::uint32_t parties() const noexcept { return parties_; }

 private:
  std::atomic<std::uint32_t> arrived_{0};
  std::atomic<std::uint32_t> phase_{0};
  std::atomic<std::uint32_t> sleepers_{0};
  std::uint32_t parties_;
};

static_assert(std::is_standard_layout_v<Barrier>);
static_assert(std::is_trivially_destructible_v<Barrier>);

}  // namespace conduit

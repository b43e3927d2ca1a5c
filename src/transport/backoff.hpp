// Sleeping between polls of something that cannot be waited on (a System V queue, a growing
// file): short sleeps at first, then up to kMaxPause, never past a deadline.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

#include "conduit/sys/clock.hpp"
#include "conduit/transport/transport.hpp"

namespace conduit::transport {

/// Whether `deadline` has passed.
[[nodiscard]] inline bool expired(Deadline deadline) { return deadline && sys::now() >= *deadline; }

class Backoff {
 public:
  static constexpr std::chrono::microseconds kFirstPause{20};
  static constexpr std::chrono::microseconds kMaxPause{2000};

  void pause(Deadline deadline) {
    auto wait = next_;
    if (deadline) {
      const auto left = std::max(*deadline - sys::now(), sys::Clock::duration::zero());
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::microseconds>(left));
    }
    std::this_thread::sleep_for(wait);
    next_ = std::min(next_ * 2, kMaxPause);
  }

 private:
  std::chrono::microseconds next_ = kFirstPause;
};

}  // namespace conduit::transport

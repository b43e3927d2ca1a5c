#include "conduit/sync/wait.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "conduit/sys/futex.hpp"

namespace conduit::sync {
namespace {

std::atomic<std::uint32_t>& configured_rounds() {
  static std::atomic<std::uint32_t> rounds = [] {
    const char* text = std::getenv("CONDUIT_SPIN_ROUNDS");
    std::uint32_t value = kSpinRounds;
    if (text != nullptr) std::from_chars(text, text + std::strlen(text), value);
    return value;
  }();
  return rounds;
}

}  // namespace

std::uint32_t spin_rounds() noexcept { return configured_rounds().load(std::memory_order_relaxed); }

void set_spin_rounds(std::uint32_t rounds) noexcept {
  configured_rounds().store(rounds, std::memory_order_relaxed);
}

bool WaitWord::wait_until(std::uint32_t observed, std::optional<sys::TimePoint> deadline) noexcept {
  for (std::uint32_t round = 0, rounds = spin_rounds(); round < rounds; ++round) {
    // Acquire: pairs with the bump in notify_all (see value()).
    if (word.load(std::memory_order_acquire) != observed) return true;
    relax();
  }
  // (c) then (d) of the protocol in the header: both sequentially consistent.
  sleepers.fetch_add(1, std::memory_order_seq_cst);
  bool is_changed = word.load(std::memory_order_seq_cst) != observed;
  while (!is_changed) {
    if (deadline && sys::now() >= *deadline) break;
    auto waited = sys::futex_wait(word, observed, deadline);
    is_changed = word.load(std::memory_order_seq_cst) != observed;
    if (!waited) break;  // timed out (or an unexpected error: let the caller look again)
  }
  sleepers.fetch_sub(1, std::memory_order_relaxed);  // only a hint for wakers: relaxed is enough
  return is_changed;
}

void WaitWord::notify_all() noexcept {
  // (a) then (b): sequentially consistent, pairs with (c)/(d) in wait_until; also a release
  // of everything published before, for waiters that acquire the word.
  word.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers.load(std::memory_order_seq_cst) != 0) sys::futex_wake(word);
}

void WaitWord::notify_one() noexcept {
  word.fetch_add(1, std::memory_order_seq_cst);  // as in notify_all
  if (sleepers.load(std::memory_order_seq_cst) != 0) sys::futex_wake(word, 1);
}

}  // namespace conduit::sync

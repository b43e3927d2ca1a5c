#include "conduit/sync/wait.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "conduit/sys/futex.hpp"

namespace conduit::sync {
namespace {

/// What CONDUIT_SPIN_ROUNDS asks for: only a whole decimal number counts; anything else (or
/// nothing) keeps the default.
std::uint32_t rounds_from_environment() noexcept {
  const char* text = std::getenv("CONDUIT_SPIN_ROUNDS");
  if (text == nullptr) return kSpinRounds;
  std::uint32_t parsed = 0;
  const char* end = text + std::strlen(text);
  if (auto [stop, error] = std::from_chars(text, end, parsed);
      error == std::errc() && stop == end && stop != text)
    return parsed;
  return kSpinRounds;
}

// A process-wide setting, not shared state: relaxed is enough (it orders nothing). Constant-
// initialized and read from the environment by its first user without a lock or a static's
// guard: a child forked while another thread made a guarded static would wait on its guard
// for ever (the other fork hazards: core/process.cpp). 64 bits, so that every 32-bit count
// stays settable and kUnread is none of them.
constexpr std::uint64_t kUnread = ~std::uint64_t{0};
constinit std::atomic<std::uint64_t> configured_rounds{kUnread};

}  // namespace

std::uint32_t spin_rounds() noexcept {
  std::uint64_t rounds = configured_rounds.load(std::memory_order_relaxed);
  if (rounds == kUnread) [[unlikely]] {
    // Two first users may both read the environment (the same answer); a set_spin_rounds
    // meanwhile wins over both.
    const std::uint64_t read = rounds_from_environment();
    if (configured_rounds.compare_exchange_strong(rounds, read, std::memory_order_relaxed))
      rounds = read;
  }
  return static_cast<std::uint32_t>(rounds);
}

void set_spin_rounds(std::uint32_t rounds) noexcept {
  configured_rounds.store(rounds, std::memory_order_relaxed);
}

bool WaitWord::wait_until(std::uint32_t observed, std::optional<sys::TimePoint> deadline) noexcept {
  const std::uint32_t rounds = spin_rounds();
  for (std::uint32_t round = 0; round < rounds; ++round) {
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
  // A change seen by the seq_cst loads above also acquires (seq_cst loads are acquire loads):
  // the caller sees what was published before the bump.
  return is_changed;
}

void WaitWord::notify_all() noexcept {
  // (a) then (b): sequentially consistent, pairs with (c)/(d) in wait_until; also a release
  // of everything published before, for waiters that acquire the word.
  word.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers.load(std::memory_order_seq_cst) != 0) sys::futex_wake(word);
}

void WaitWord::notify_one() noexcept {
  word.fetch_add(1, std::memory_order_seq_cst);  // (a), as in notify_all
  if (sleepers.load(std::memory_order_seq_cst) != 0) sys::futex_wake(word, 1);  // (b)
}

void WaitWord::wake_all() noexcept {
  // (a): a seq_cst bump, as in notify_all; the caller saw a flag, so FUTEX_WAKE unasked.
  word.fetch_add(1, std::memory_order_seq_cst);
  sys::futex_wake(word);
}

void WaitWord::wake_all_once(std::uint32_t& woken_at) noexcept {
  // Acquire: after the caller's relaxed load that saw a flag, pairs with the flag's raise (a
  // seq_cst read-modify-write, so a release): the sleeper's marking bump, sequenced before
  // its flag, is visible to the load below ("Waking once per sleep" in wait.hpp).
  std::atomic_thread_fence(std::memory_order_acquire);
  if (word.load(std::memory_order_relaxed) == woken_at) return;  // that wake reached it
  // (a): seq_cst, as in wake_all; the caller saw a flag, so FUTEX_WAKE unasked.
  woken_at = word.fetch_add(1, std::memory_order_seq_cst) + 1;
  sys::futex_wake(word);
}

bool WaitWord::sleep_flagged(std::uint32_t observed,
                             std::optional<sys::TimePoint> deadline) noexcept {
  // A failure is the deadline (or an unexpected error, treated as one, as in wait_until: the
  // caller then checks its peers and looks again, so it cannot spin on a broken futex).
  return sys::futex_wait(word, observed, deadline).has_value();
}

SliceEnd wait_slice(WaitWord& word, std::uint32_t observed, std::optional<sys::TimePoint> deadline,
                    sys::Clock::duration slice) noexcept {
  const auto now = sys::now();
  if (deadline && now >= *deadline) return SliceEnd::deadline_passed;
  auto slice_end = now + slice;
  if (deadline && *deadline < slice_end) slice_end = *deadline;
  return word.wait_until(observed, slice_end) ? SliceEnd::moved : SliceEnd::slice_over;
}

}  // namespace conduit::sync

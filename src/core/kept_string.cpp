#include "conduit/core/kept_string.hpp"

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <unordered_set>

namespace conduit {
namespace {

struct KeptStrings {
  std::mutex mutex;
  std::unordered_set<std::string> strings;  // nodes: a string stays where it is
};
// Set once, before the fork handlers that read it are registered (by whichever thread kept a
// string first: atomic, for the thread that forks).
std::atomic<KeptStrings*> kept_strings{nullptr};

void lock_kept_strings() { kept_strings.load(std::memory_order_acquire)->mutex.lock(); }
void unlock_kept_strings() { kept_strings.load(std::memory_order_acquire)->mutex.unlock(); }

KeptStrings& table() {
  // Never destroyed: Messages and Errors that outlive main() may still read their strings.
  static KeptStrings* const kept = [] {
    auto* made = new KeptStrings();
    kept_strings.store(made, std::memory_order_release);
    // A child forked while another thread holds the lock would never get it.
    ::pthread_atfork(lock_kept_strings, unlock_kept_strings, unlock_kept_strings);
    return made;
  }();
  return *kept;
}
// Made, and the handlers registered, before main: made by the first kept_string, a fork in
// another thread could start before the handlers were registered and end after that first
// call took the lock (the child then waited on it for ever; seen under TSan).
[[maybe_unused]] const bool is_table_made = (table(), true);

}  // namespace

std::shared_ptr<const std::string> kept_string(const std::string& text) {
  KeptStrings* const kept = &table();
  std::lock_guard lock(kept->mutex);
  auto found = kept->strings.find(text);
  if (found == kept->strings.end()) {
    if (kept->strings.size() >= kKeptStrings) return std::make_shared<const std::string>(text);
    found = kept->strings.insert(text).first;
  }
  return std::shared_ptr<const std::string>(std::shared_ptr<const std::string>(), &*found);
}

}  // namespace conduit

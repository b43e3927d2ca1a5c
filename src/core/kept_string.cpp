#include "conduit/core/kept_string.hpp"

#include <pthread.h>

#include <mutex>
#include <unordered_set>

namespace conduit {
namespace {

struct KeptStrings {
  std::mutex mutex;
  std::unordered_set<std::string> strings;  // nodes: a string stays where it is
};

KeptStrings& table();
void lock_table() { table().mutex.lock(); }
void unlock_table() { table().mutex.unlock(); }

KeptStrings& table() {
  // Never destroyed: Messages and Errors that outlive main() may still read their strings.
  static KeptStrings* const kept = [] {
    // A child forked while another thread holds the lock would never get it.
    ::pthread_atfork(lock_table, unlock_table, unlock_table);
    return new KeptStrings();
  }();
  return *kept;
}
// Made, and the handlers registered, before main: made by the first kept_string, a fork in
// another thread could start before the handlers were registered and end after that first
// call took the lock (the child then waited on it for ever; seen under TSan).
[[maybe_unused]] const bool is_table_made = (table(), true);

}  // namespace

std::shared_ptr<const std::string> kept_string(const std::string& text) {
  KeptStrings& kept = table();
  std::lock_guard lock(kept.mutex);
  auto found = kept.strings.find(text);
  if (found == kept.strings.end()) {
    if (kept.strings.size() >= kKeptStrings) return std::make_shared<const std::string>(text);
    found = kept.strings.insert(text).first;
  }
  return std::shared_ptr<const std::string>(std::shared_ptr<const std::string>(), &*found);
}

}  // namespace conduit

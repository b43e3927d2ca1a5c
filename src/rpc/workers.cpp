#include "workers.hpp"

#include <vector>

namespace conduit::rpc::detail {

Workers::~Workers() { shut_down(); }

void Workers::run(std::function<void()> job) {
  std::vector<std::thread> finished;
  {
    const std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    // Ended workers are joined here, outside the lock (they have returned: join is quick).
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->is_done) {
        finished.push_back(std::move(it->thread));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    // Every waiting job has an idle worker woken for it, or a new one.
    if (idle_ >= jobs_.size()) {
      has_work_.notify_one();
    } else {
      Worker& worker = workers_.emplace_back();
      worker.thread = std::thread([this, &worker] { work(worker); });
    }
  }
  for (auto& thread : finished) thread.join();
}

void Workers::work(Worker& worker) {
  std::unique_lock lock(mutex_);
  for (;;) {
    while (jobs_.empty()) {
      if (is_shutting_down_ || idle_ >= kMaxIdle) {
        worker.is_done = true;
        return;
      }
      ++idle_;
      has_work_.wait(lock);
      --idle_;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // what it holds (a connection, say) goes before the worker waits again
    lock.lock();
  }
}

void Workers::shut_down() {
  std::list<Worker> ending;
  {
    const std::lock_guard lock(mutex_);
    is_shutting_down_ = true;
    has_work_.notify_all();
    ending.splice(ending.end(), workers_);  // the entries stay where the threads see them
  }
  for (auto& worker : ending) worker.thread.join();
  const std::lock_guard lock(mutex_);
  is_shutting_down_ = false;
}

}  // namespace conduit::rpc::detail

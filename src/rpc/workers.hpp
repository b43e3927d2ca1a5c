// The threads an rpc server reads its connections and runs requests on. A job (reading a
// connection) goes to an idle worker when there is one and to a new worker when all are busy,
// so a slow handler never holds up the others (as with a thread per request), while a steady
// flow of calls reuses the same few threads instead of starting one per call. Up to kMaxIdle
// workers wait for work; the others end.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace conduit::rpc::detail {

class Workers {
 public:
  /// How many workers wait for work at most; a worker that finds this many waiting ends.
  static constexpr std::size_t kMaxIdle = 4;

  Workers() = default;
  ~Workers();  // shut_down()
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  /// Runs `job` on a worker: an idle one, or a new one when none is idle. Thread-safe.
  void run(std::function<void()> job);
  /// Runs the jobs given so far, then ends and joins every worker. run() may start them again.
  void shut_down();

 private:
  struct Worker {
    std::thread thread;
    bool is_done = false;  // under mutex_: it returned, join() will not wait
  };
  void work(Worker& worker);

  std::mutex mutex_;  // everything below
  std::condition_variable has_work_;
  std::deque<std::function<void()>> jobs_;
  std::list<Worker> workers_;  // a list: each thread holds a reference to its own entry
  std::size_t idle_ = 0;       // workers waiting in has_work_
  bool is_shutting_down_ = false;
};

}  // namespace conduit::rpc::detail

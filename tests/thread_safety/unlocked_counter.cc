// Must NOT compile under clang -Wthread-safety -Werror: Get() reads the
// guarded member without its mutex, and Add() calls a REQUIRES function
// unlocked. scripts/ci/check_thread_safety.sh asserts that clang rejects it
// with both thread-safety diagnostics, which proves the analysis is on.
#include <cstdint>

#include "core/mutex.h"

namespace robofleet {

class Counter {
 public:
  void Add(int64_t n) { AddLocked(n); }

  int64_t Get() { return count_; }

 private:
  void AddLocked(int64_t n) REQUIRES(mu_) { count_ += n; }

  Mutex mu_;
  int64_t count_ GUARDED_BY(mu_) = 0;
};

int64_t UseCounter() {
  Counter counter;
  counter.Add(2);
  return counter.Get();
}

}  // namespace robofleet

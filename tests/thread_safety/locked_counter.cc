// Compiles clean under clang -Wthread-safety -Werror: every access to the
// guarded member holds its mutex. scripts/ci/check_thread_safety.sh compiles
// it beside unlocked_counter.cc, which must fail.
#include <cstdint>

#include "core/mutex.h"

namespace robofleet {

class Counter {
 public:
  void Add(int64_t n) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    AddLocked(n);
  }

  int64_t Get() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return count_;
  }

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

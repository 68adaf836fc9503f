// A std::mutex that clang's thread-safety analysis can see (LevelDB's
// port::Mutex and MutexLock). Use it for any mutex that guards data, with
// GUARDED_BY on the data (core/thread_annotations.h).
//
//   Mutex mu_;
//   int64_t count_ GUARDED_BY(mu_) = 0;
//   ...
//   MutexLock lock(&mu_);
//   ++count_;
#ifndef ROBOFLEET_CORE_MUTEX_H_
#define ROBOFLEET_CORE_MUTEX_H_

#include <mutex>

#include "core/thread_annotations.h"

namespace robofleet {

// Not recursive; thread-safe, like std::mutex.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds `mu` from construction to the end of the scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_MUTEX_H_

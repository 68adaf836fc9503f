// Clang's thread-safety annotations (-Wthread-safety), in the names LevelDB
// and Abseil use. They state which mutex guards which data, and which locks a
// function needs or must not hold, so that clang proves at compile time that
// every access holds its lock. Under GCC they expand to nothing.
//
// Mark data `GUARDED_BY(mu_)`, functions `REQUIRES(mu_)` or `EXCLUDES(mu_)`,
// and lock with `robofleet::Mutex` and `robofleet::MutexLock` (core/mutex.h):
// libstdc++'s std::mutex carries no annotations, so the analysis cannot see
// it being locked. scripts/ci/check_thread_safety.sh proves the analysis runs.
#ifndef ROBOFLEET_CORE_THREAD_ANNOTATIONS_H_
#define ROBOFLEET_CORE_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define ROBOFLEET_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define ROBOFLEET_THREAD_ANNOTATION(x)
#endif

// A class whose instances are locks (a mutex).
#define CAPABILITY(x) ROBOFLEET_THREAD_ANNOTATION(capability(x))

// An RAII class that holds a capability for its lifetime.
#define SCOPED_CAPABILITY ROBOFLEET_THREAD_ANNOTATION(scoped_lockable)

// Data that may be read or written only while holding `x`.
#define GUARDED_BY(x) ROBOFLEET_THREAD_ANNOTATION(guarded_by(x))

// The data a pointer points to may be touched only while holding `x`.
#define PT_GUARDED_BY(x) ROBOFLEET_THREAD_ANNOTATION(pt_guarded_by(x))

// The caller must hold these capabilities.
#define REQUIRES(...) ROBOFLEET_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))

// The caller must not hold these capabilities (the function takes them).
#define EXCLUDES(...) ROBOFLEET_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// The function acquires or releases these capabilities (none: `this`).
#define ACQUIRE(...) ROBOFLEET_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) ROBOFLEET_THREAD_ANNOTATION(release_capability(__VA_ARGS__))

// The function returns a reference to this capability.
#define RETURN_CAPABILITY(x) ROBOFLEET_THREAD_ANNOTATION(lock_returned(x))

// The function's body is not analysed: for code whose locking the analysis
// cannot follow. Each use says why in a comment.
#define NO_THREAD_SAFETY_ANALYSIS ROBOFLEET_THREAD_ANNOTATION(no_thread_safety_analysis)

#endif  // ROBOFLEET_CORE_THREAD_ANNOTATIONS_H_

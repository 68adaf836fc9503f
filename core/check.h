// Internal invariants. A broken invariant is a bug, not bad input: abort with
// file and line so the crash points at it. Bad input throws UserError instead.
#ifndef ROBOFLEET_CORE_CHECK_H_
#define ROBOFLEET_CORE_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define ROBOFLEET_CHECK(cond)                                                       \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#endif  // ROBOFLEET_CORE_CHECK_H_

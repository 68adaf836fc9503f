// Deliberate bugs, one per argument, that a sanitizer build must report.
// scripts/ci/sanitize.sh runs each before the tests and fails when one goes
// unreported, so a build whose sanitizers are off, or whose reports are
// lost, cannot pass.
//   sanitizer_canary heap-overflow|use-after-free|signed-overflow|leak|race
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

// volatile keeps -O1 from proving the bugs away
volatile int g_sink = 0;
void* volatile g_pointer = nullptr;

int HeapOverflow() {
  int* values = new int[4]();
  g_sink = values[g_sink + 4];
  delete[] values;
  return 0;
}

int UseAfterFree() {
  int* value = new int(1);
  delete value;
  g_sink = *value;
  return 0;
}

int SignedOverflow() {
  volatile int big = INT_MAX;
  g_sink = big + 1;
  return 0;
}

int Leak() {
  g_pointer = std::malloc(64);
  g_pointer = nullptr;
  return 0;
}

int Race() {
  int shared = 0;
  std::thread a([&shared] { shared = shared + 1; });
  std::thread b([&shared] { shared = shared + 1; });
  a.join();
  b.join();
  g_sink = shared;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* bug = argc > 1 ? argv[1] : "";
  if (std::strcmp(bug, "heap-overflow") == 0) return HeapOverflow();
  if (std::strcmp(bug, "use-after-free") == 0) return UseAfterFree();
  if (std::strcmp(bug, "signed-overflow") == 0) return SignedOverflow();
  if (std::strcmp(bug, "leak") == 0) return Leak();
  if (std::strcmp(bug, "race") == 0) return Race();
  std::fprintf(stderr,
               "usage: sanitizer_canary heap-overflow|use-after-free|signed-overflow|leak|race\n");
  return 2;
}

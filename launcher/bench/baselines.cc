#include "launcher/bench/baselines.h"

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace robofleet::launcher {

double MatmulGflops(int64_t n, double seconds) {
  torch::Tensor a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::Tensor c = torch::mm(a, b);  // warm-up
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0.0;
  while (elapsed < seconds || calls < 2) {
    torch::mm_out(c, a, b);
    ++calls;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return 2.0 * n * n * n * calls / elapsed / 1e9;
}

std::vector<int> ParseThreadCounts(const std::string& text) {
  std::vector<int> counts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || value < 1 || value > kMaxThreads) {
      throw UserError("--threads '" + text + "': give thread counts from 1 to " +
                      std::to_string(kMaxThreads) + " separated by commas, e.g. --threads 1,2");
    }
    counts.push_back(static_cast<int>(value));
    start = comma + 1;
  }
  return counts;
}

void PrintThreadComparison(const std::vector<int>& counts, const std::vector<double>& rates,
                           const char* unit) {
  for (size_t i = 1; i < counts.size(); ++i) {
    std::printf("%d threads / %d thread%s: %.2fx %s\n", counts[i], counts[0],
                counts[0] == 1 ? "" : "s", rates[i] / rates[0], unit);
  }
}

}  // namespace robofleet::launcher

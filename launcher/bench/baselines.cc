#include "launcher/bench/baselines.h"

#include <torch/torch.h>

#include <chrono>

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

}  // namespace robofleet::launcher

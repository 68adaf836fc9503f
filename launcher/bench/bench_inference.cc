// `robofleet bench inference`: latency of the exported TorchScript policy
// against the C++ module's own forward, measured in the same run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>

#include "launcher/cli.h"
#include "launcher/commands.h"
#include "learner/export.h"
#include "learner/learner.h"

namespace robofleet::launcher {
namespace {

struct Latency {
  double p50_us = 0.0;
  double p99_us = 0.0;
};

template <class Fn>
Latency Measure(Fn fn, int iterations) {
  for (int i = 0; i < std::max(10, iterations / 10); ++i) fn();  // warm-up
  std::vector<double> us(iterations);
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    us[i] =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }
  std::sort(us.begin(), us.end());
  return {us[iterations / 2], us[static_cast<size_t>(0.99 * (iterations - 1))]};
}

}  // namespace

int BenchInference(int argc, char** argv) {
  cxxopts::Options options("robofleet bench inference",
                           "Latency of the exported TorchScript policy beside the C++ module.");
  options.add_options()("obs-dim", "observation size", cxxopts::value<int>()->default_value("17"))(
      "act-dim", "action size", cxxopts::value<int>()->default_value("6"))(
      "hidden", "hidden widths", cxxopts::value<std::string>()->default_value("256,256"))(
      "iterations", "timed calls per case", cxxopts::value<int>()->default_value("2000"))(
      "json", "print one JSON object")("h,help", "show this help");
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const int D = args["obs-dim"].as<int>(), A = args["act-dim"].as<int>();
  const int iterations = args["iterations"].as<int>();
  if (D <= 0 || A <= 0 || iterations < 10) {
    throw UserError("--obs-dim and --act-dim must be positive, --iterations at least 10");
  }
  PolicyConfig pc;
  pc.hidden = ParseWidths(args["hidden"].as<std::string>());
  torch::set_num_threads(1);  // as a controller would run it
  SeedTorch(1);
  ActorCritic policy(D, A, pc);
  RunningNormalizer normalizer(D, 10.0, true);
  torch::Tensor data = torch::randn({1000, D}) * 2.0;
  normalizer.Update(data.data_ptr<float>(), 1000);
  torch::jit::Module module = learner::BuildPolicyModule(policy, normalizer);

  torch::NoGradGuard no_grad;
  std::string json = "{\"bench\": \"inference\"";
  std::printf("inference bench: obs %d, act %d, hidden %s, 1 thread, %d calls per case\n", D, A,
              args["hidden"].as<std::string>().c_str(), iterations);
  std::printf("  %-6s %-12s %10s %10s\n", "batch", "path", "p50 us", "p99 us");
  for (int batch : {1, 64}) {
    torch::Tensor obs = torch::randn({batch, D});
    Latency script = Measure([&] { module.forward({obs}); }, iterations);
    Latency native = Measure(
        [&] { policy->Mean(learner::NormalizeObs(obs, normalizer)).clamp(-1.0, 1.0); }, iterations);
    std::printf("  %-6d %-12s %10.1f %10.1f\n", batch, "torchscript", script.p50_us, script.p99_us);
    std::printf("  %-6d %-12s %10.1f %10.1f   (torchscript / c++ p50: %.2fx)\n", batch,
                "c++ module", native.p50_us, native.p99_us, script.p50_us / native.p50_us);
    char buf[256];
    std::snprintf(buf, sizeof(buf),
                  ", \"batch%d\": {\"torchscript_p50_us\": %.2f, \"torchscript_p99_us\": %.2f, "
                  "\"cpp_p50_us\": %.2f, \"cpp_p99_us\": %.2f, \"ratio_p50\": %.3f}",
                  batch, script.p50_us, script.p99_us, native.p50_us, native.p99_us,
                  script.p50_us / native.p50_us);
    json += buf;
  }
  if (args.count("json")) std::printf("%s}\n", json.c_str());
  return 0;
}

}  // namespace robofleet::launcher

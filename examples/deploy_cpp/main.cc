// Runs an exported RoboFleet policy in a fixed-rate control loop, as a robot
// controller would, and reports inference latency.
//
//   deploy_policy POLICY.pt [--hz 500] [--steps 2000]
//
// The loop reads an observation (here: a synthetic sensor signal), calls the
// policy, writes the action in actuator units, and sleeps until the next tick.
// Only LibTorch is needed: normalisation and action scaling are in the file.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// Reads an integer field such as "obs_dim": 5 from the metadata JSON.
int JsonInt(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::atoi(json.c_str() + at + key.size() + 3);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: deploy_policy POLICY.pt [--hz HZ] [--steps N]\n");
    return 2;
  }
  double hz = 500.0;
  int steps = 2000;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--hz"))
      hz = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps"))
      steps = std::atoi(argv[i + 1]);
  }
  if (hz <= 0 || steps <= 0) {
    std::fprintf(stderr, "deploy_policy: --hz and --steps must be positive\n");
    return 2;
  }

  // load the policy and what it expects
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  torch::jit::Module policy;
  try {
    policy = torch::jit::load(argv[1], torch::kCPU, extra);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "deploy_policy: cannot load %s\n", argv[1]);
    return 1;
  }
  const int obs_dim = JsonInt(extra["metadata.json"], "obs_dim");
  const int act_dim = JsonInt(extra["metadata.json"], "act_dim");
  if (obs_dim <= 0 || act_dim <= 0) {
    std::fprintf(stderr, "deploy_policy: %s has no RoboFleet metadata\n", argv[1]);
    return 1;
  }
  at::set_num_threads(1);  // a controller shares the CPU with the rest of the robot
  torch::NoGradGuard no_grad;
  torch::jit::Method actuator_action = policy.get_method("actuator_action");

  // the control loop: one observation in, one command out, every tick
  torch::Tensor obs = torch::zeros({1, obs_dim});
  std::vector<double> latency_us;
  latency_us.reserve(steps);
  double checksum = 0.0;
  const auto period = std::chrono::duration<double>(1.0 / hz);
  auto next_tick = std::chrono::steady_clock::now();
  int overruns = 0;
  for (int t = 0; t < steps; ++t) {
    float* o = obs.data_ptr<float>();
    for (int i = 0; i < obs_dim; ++i) o[i] = std::sin(0.01 * t + i);  // the "sensors"
    const auto start = std::chrono::steady_clock::now();
    torch::Tensor command = actuator_action({obs}).toTensor();
    const auto end = std::chrono::steady_clock::now();
    latency_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    checksum += command.sum().item<double>();  // "send to the actuators"
    next_tick += std::chrono::duration_cast<std::chrono::steady_clock::duration>(period);
    if (std::chrono::steady_clock::now() > next_tick) ++overruns;
    std::this_thread::sleep_until(next_tick);
  }
  std::printf(
      "deploy_policy: %d steps at %.0f Hz, obs %d, act %d: latency p50 %.1f us, "
      "p99 %.1f us, %d overruns, checksum %.6f\n",
      steps, hz, obs_dim, act_dim, Percentile(latency_us, 0.5), Percentile(latency_us, 0.99),
      overruns, checksum);
  return std::isfinite(checksum) ? 0 : 1;
}

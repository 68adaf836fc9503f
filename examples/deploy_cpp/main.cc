// Runs an exported RoboFleet policy in a fixed-rate control loop, as a robot
// controller would, and reports inference latency.
//
//   deploy_policy POLICY.pt [--hz 500] [--steps 2000]
//   deploy_policy POLICY.pt --replay RECORDING
//
// The loop reads the robot's sensors, calls the policy, writes the actuator
// targets, and sleeps until the next tick. For a robot task (metadata.json
// has a "controller"), the observation is built from the readings and the
// action turned into joint targets by controller.h, as in training, and the
// loop runs at the task's control period unless --hz says otherwise; the
// "robot" here gives a synthetic signal. For other policies the observation
// itself is the synthetic signal and to_actuators gives the command. The
// loop calls the policy's reset() once and act() every tick, so a policy
// with memory (an observation history) keeps its state inside the module.
// Only LibTorch is needed: normalisation is in the file.
//
// --replay runs the controller on a recording of training's simulator
// (`robofleet eval POLICY.pt --record RECORDING`: per step the readings, the
// observation, the action and the targets) and checks that it rebuilds the
// observation, the action and the targets bit for bit, and that the
// policy's own to_actuators gives the same targets (in float32).
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller.h"

namespace {

// Reads an integer field such as "obs_dim": 5 from the metadata JSON.
int JsonInt(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::atoi(json.c_str() + at + key.size() + 3);
}

// The values of a recording line after its label, exactly (hex floats).
std::vector<double> Values(const std::string& line, std::string* label) {
  std::istringstream in(line);
  in >> *label;
  std::vector<double> out;
  std::string word;
  while (in >> word) out.push_back(std::strtod(word.c_str(), nullptr));
  return out;
}

// Replays a recording through the controller and the policy; returns the
// number of entries that differ from training's.
int Replay(const char* path, deploy::Controller& controller, torch::jit::Module& policy) {
  torch::jit::Method reset = policy.get_method("reset"), act = policy.get_method("act"),
                     to_actuators = policy.get_method("to_actuators");
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "deploy_policy: cannot read %s\n", path);
    return -1;
  }
  const int D = controller.obs_dim(), A = controller.act_dim();
  const size_t terms = controller.terms().size();
  int steps = 0, episodes = 0, obs_differ = 0, action_differ = 0, target_differ = 0;
  int unit_differ = 0;  // to_actuators beyond float32 rounding of the targets
  std::string line, label;
  torch::Tensor obs = torch::zeros({1, D});
  std::vector<double> ctrl(A);
  while (std::getline(in, line)) {
    std::vector<double> step = Values(line, &label);
    if (label != "step" || step.size() != 2) {
      std::fprintf(stderr, "deploy_policy: %s: expected a step line, got '%s'\n", path,
                   line.c_str());
      return -1;
    }
    if (step[1] == 0) {
      controller.Reset();  // an episode starts
      reset({});
      ++episodes;
    }
    std::vector<std::vector<double>> readings(terms);
    for (size_t i = 0; i < terms && std::getline(in, line); ++i) readings[i] = Values(line, &label);
    std::vector<double> want_obs, want_action, want_ctrl;
    for (auto* want : {&want_obs, &want_action, &want_ctrl}) {
      std::getline(in, line);
      *want = Values(line, &label);
    }
    if (want_obs.size() != static_cast<size_t>(D) || want_ctrl.size() != static_cast<size_t>(A)) {
      std::fprintf(stderr, "deploy_policy: %s does not fit this policy\n", path);
      return -1;
    }
    float* o = obs.data_ptr<float>();
    controller.Observe(readings, o);
    for (int i = 0; i < D; ++i) obs_differ += o[i] != static_cast<float>(want_obs[i]);
    // the policy on the observation the controller built (and its history, if any)
    const torch::Tensor action = act({obs}).toTensor().contiguous();
    const float* a = action.data_ptr<float>();
    for (int i = 0; i < A; ++i) action_differ += a[i] != static_cast<float>(want_action[i]);
    controller.Targets(a, ctrl.data());
    for (int i = 0; i < A; ++i) target_differ += ctrl[i] != want_ctrl[i];
    const torch::Tensor units = to_actuators({action}).toTensor().contiguous();
    const float* u = units.data_ptr<float>();
    for (int i = 0; i < A; ++i) {
      unit_differ += std::fabs(u[i] - want_ctrl[i]) > 1e-5 * std::max(1.0, std::fabs(want_ctrl[i]));
    }
    ++steps;
  }
  std::printf(
      "deploy_policy: replayed %d steps of %d episodes: %d observation entries, %d actions, "
      "%d targets differ from training's; to_actuators: %d targets differ\n",
      steps, episodes, obs_differ, action_differ, target_differ, unit_differ);
  return steps == 0 ? -1 : obs_differ + action_differ + target_differ + unit_differ;
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
  double hz = 0.0;  // 0: the task's control period, or 500 Hz
  int steps = 2000;
  const char* replay = nullptr;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--hz"))
      hz = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps"))
      steps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--replay"))
      replay = argv[i + 1];
  }
  if (hz < 0 || steps <= 0) {
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
  // reset() and act() run a policy with memory and a memoryless one alike
  torch::jit::Method act = policy.get_method("act");
  torch::jit::Method to_actuators = policy.get_method("to_actuators");
  policy.get_method("reset")({});

  // a robot task's controller, when the metadata describes one
  std::unique_ptr<deploy::Controller> controller;
  try {
    const deploy::Json metadata = deploy::JsonParser(extra["metadata.json"]).Parse();
    if (metadata.Has("controller")) {
      controller = std::make_unique<deploy::Controller>(metadata["controller"]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deploy_policy: %s\n", e.what());
    return 1;
  }
  if (replay != nullptr) {
    if (!controller) {
      std::fprintf(stderr, "deploy_policy: %s describes no controller to replay\n", argv[1]);
      return 2;
    }
    const int differ = Replay(replay, *controller, policy);
    return differ == 0 ? 0 : 1;
  }
  if (hz == 0) hz = controller ? 1.0 / controller->control_dt() : 500.0;

  // the control loop: readings in, targets out, every tick
  torch::Tensor obs = torch::zeros({1, obs_dim});
  std::vector<double> targets(act_dim);
  std::vector<std::vector<double>> readings;
  std::vector<double> latency_us;
  latency_us.reserve(steps);
  double checksum = 0.0;
  const auto period = std::chrono::duration<double>(1.0 / hz);
  auto next_tick = std::chrono::steady_clock::now();
  int overruns = 0;
  for (int t = 0; t < steps; ++t) {
    float* o = obs.data_ptr<float>();
    const auto start = std::chrono::steady_clock::now();
    if (controller) {
      // the "robot": a synthetic reading for every term (9 numbers of an
      // upright attitude for gravity)
      readings.assign(controller->terms().size(), {});
      for (size_t i = 0; i < readings.size(); ++i) {
        const deploy::Controller::Term& term = controller->terms()[i];
        if (term.kind == "gravity") {
          readings[i] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        } else if (term.kind != "last_action") {
          for (int k = 0; k < term.dim; ++k) readings[i].push_back(0.1 * std::sin(0.01 * t + k));
        }
      }
      controller->Observe(readings, o);
      const torch::Tensor action = act({obs}).toTensor().contiguous();
      controller->Targets(action.data_ptr<float>(), targets.data());
      for (double x : targets) checksum += x;  // "send to the actuators"
    } else {
      for (int i = 0; i < obs_dim; ++i) o[i] = std::sin(0.01 * t + i);  // the "sensors"
      torch::Tensor command = to_actuators({act({obs})}).toTensor();
      checksum += command.sum().item<double>();  // "send to the actuators"
    }
    const auto end = std::chrono::steady_clock::now();
    latency_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
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

// `robofleet bench NAME` for each off-policy algorithm (SAC): gradient
// steps/s beside PyTorch and the matmul ceiling.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "algorithms/registry.h"
#include "core/compute_threads.h"
#include "core/policy.h"
#include "launcher/bench/baselines.h"
#include "launcher/cli.h"
#include "launcher/commands.h"
#include "launcher/process.h"
#include "learner/communicator.h"
#include "learner/device.h"
#include "learner/replay_buffer.h"

namespace robofleet::launcher {
namespace {

// Weights of an MLP in -> hidden... -> out: all of them, and its first layer's.
struct MlpWeights {
  double all = 0.0, first = 0.0;
};
MlpWeights CountMlpWeights(int in, const std::vector<int>& hidden, int out) {
  MlpWeights w;
  int width = in;
  for (int h : hidden) {
    w.all += static_cast<double>(width) * h;
    width = h;
  }
  w.all += static_cast<double>(width) * out;
  w.first = static_cast<double>(in) * (hidden.empty() ? out : hidden.front());
  return w;
}

// The edge of the square matrices of the matmul ceiling.
constexpr int64_t kMatmulSize = 2048;

// What the off-policy bench measured, as it prints it.
struct OffPolicyBenchReport {
  std::string name;  // the algorithm
  int D = 0, A = 0, batch = 0, replay_size = 0, threads = 1;
  std::string hidden;   // --hidden as given
  bool python = false;  // the PyTorch baseline ran
  double steps = 0.0, elapsed = 0.0, steps_per_s = 0.0;
  double flops_per_step = 0.0, gflops = 0.0, matmul_gflops = 0.0;
  double python_steps_per_s = 0.0;
};

// Matrix-product flops of one gradient step on `batch` samples, at 2 per
// weight forward and 4 backward (2 where only the input's gradient or only
// the weights' is needed): the target pass (actor and two target critics
// forward), the critic pass (two critics forward and backward, no gradient
// for their input) and the actor pass (actor forward and backward, two
// critics forward and back to their input only).
double SacFlopsPerStep(int D, int A, const std::vector<int>& hidden, int batch) {
  const MlpWeights actor = CountMlpWeights(D, hidden, 2 * A);
  const MlpWeights critic = CountMlpWeights(D + A, hidden, 1);
  return batch * (8.0 * actor.all - 2.0 * actor.first + 24.0 * critic.all - 4.0 * critic.first);
}

// Fills `replay` with `size` random transitions, observations off-centre so
// that normalising them is real work, and `normalizer` with their statistics.
void FillRandomReplay(int size, int D, int A, learner::ReplayBuffer* replay,
                      RunningNormalizer* normalizer) {
  learner::Transitions data;
  data.obs = torch::randn({size, D}) * 3.0 + 1.0;
  data.next_obs = torch::randn({size, D}) * 3.0 + 1.0;
  data.actions = torch::rand({size, A}) * 2.0 - 1.0;
  data.rewards = torch::randn({size});
  data.terminated = (torch::rand({size}) < 0.01).to(torch::kFloat32);
  replay->Add(data);
  normalizer->Update(data.obs.data_ptr<float>(), size);
}

// Rounds of gradient steps timed, and the baseline's beside them.
struct RoundTiming {
  int rounds = 0;
  double elapsed = 0.0;         // seconds in our rounds
  double python_elapsed = 0.0;  // seconds in the baseline's (0 without it)
};

// One warm-up round, then rounds until `min_seconds` are up (two at least);
// with the baseline, one of its rounds after each of ours.
RoundTiming TimeRounds(const std::function<void()>& one_round, PythonBaseline* python,
                       double min_seconds) {
  RoundTiming t;
  one_round();  // warm-up
  while (t.elapsed < min_seconds || t.rounds < 2) {
    const auto start = std::chrono::steady_clock::now();
    one_round();
    t.elapsed += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (python) t.python_elapsed += python->Update();
    ++t.rounds;
  }
  return t;
}

// The options of `robofleet bench NAME`.
cxxopts::Options BenchOffPolicyOptions(const std::string& name) {
  cxxopts::Options options(
      "robofleet bench " + name,
      name +
          " gradient-step throughput (ReLU actor and twin critics, Adam, "
          "Polyak targets) on samples of a replay buffer of random transitions.");
  options.add_options()("obs-dim", "observation size", cxxopts::value<int>()->default_value("17"))(
      "act-dim", "action size", cxxopts::value<int>()->default_value("6"))(
      "hidden", "hidden widths of the actor and of each critic",
      cxxopts::value<std::string>()->default_value("256,256"))(
      "batch", "transitions per gradient step", cxxopts::value<int>()->default_value("256"))(
      "replay", "transitions in the buffer", cxxopts::value<int>()->default_value("100000"))(
      "steps", "gradient steps per timed round", cxxopts::value<int>()->default_value("50"))(
      "threads",
      "compute threads (LibTorch, OpenMP and BLAS); a list times each in turn, so a user "
      "can pick learner.threads",
      cxxopts::value<std::string>()->default_value("1,2"))(
      "seconds", "minimum timed seconds", cxxopts::value<double>()->default_value("3"))(
      "python",
      "also time bench/" + name +
          "_update.py, the same step in PyTorch, with "
          "this interpreter, one of its rounds after each of ours, on as many threads",
      cxxopts::value<std::string>()->implicit_value("/usr/bin/python3"))(
      "json", "print one JSON object")("h,help", "show this help");
  return options;
}

// The report as one JSON object (--json).
void PrintOffPolicyJson(const OffPolicyBenchReport& r) {
  std::printf(
      "{\"bench\": \"%s\", \"steps_per_s\": %.1f, \"step_ms\": %.4f, \"steps\": %.0f, "
      "\"obs_dim\": %d, \"act_dim\": %d, \"hidden\": \"%s\", \"batch\": %d, \"replay\": %d, "
      "\"threads\": %d, \"flops_per_step\": %.0f, \"step_gflops\": %.3f, "
      "\"matmul_gflops\": %.3f",
      r.name.c_str(), r.steps_per_s, 1e3 / r.steps_per_s, r.steps, r.D, r.A, r.hidden.c_str(),
      r.batch, r.replay_size, r.threads, r.flops_per_step, r.gflops, r.matmul_gflops);
  if (r.python) {
    std::printf(", \"python_steps_per_s\": %.1f, \"ratio_to_python\": %.4f", r.python_steps_per_s,
                r.steps_per_s / r.python_steps_per_s);
  }
  std::printf("}\n");
}

// The report for people.
void PrintOffPolicyText(const OffPolicyBenchReport& r) {
  std::printf("%s bench: hidden %s, batch %d, replay %d, %d thread%s\n", r.name.c_str(),
              r.hidden.c_str(), r.batch, r.replay_size, r.threads, r.threads == 1 ? "" : "s");
  std::printf("  %.0f gradient steps in %.2f s: %.0f steps/s, %.3f ms each\n", r.steps, r.elapsed,
              r.steps_per_s, 1e3 / r.steps_per_s);
  std::printf(
      "  %.2f GFLOP/s in the steps (%.0f MFLOP per step), beside %.2f GFLOP/s of a "
      "%lldx%lld matrix product: %.1f%%\n",
      r.gflops, r.flops_per_step / 1e6, r.matmul_gflops, static_cast<long long>(kMatmulSize),
      static_cast<long long>(kMatmulSize), 100.0 * r.gflops / r.matmul_gflops);
  if (r.python) {
    std::printf("  PyTorch (bench/%s_update.py): %.0f steps/s; C++ / Python %.2fx\n",
                r.name.c_str(), r.python_steps_per_s, r.steps_per_s / r.python_steps_per_s);
  }
}

}  // namespace

// Gradient steps/s of off-policy algorithm `name` (robofleet bench NAME):
// each step samples the replay buffer and trains every network, as the
// off-policy learner does (SAC: the twin critics, the actor and the
// temperature, then the targets move). The flop count assumes SAC's networks.
int BenchOffPolicy(const std::string& name, int argc, char** argv) {
  cxxopts::Options options = BenchOffPolicyOptions(name);
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const int D = args["obs-dim"].as<int>(), A = args["act-dim"].as<int>();
  const int batch = args["batch"].as<int>(), replay_size = args["replay"].as<int>();
  const int round_steps = args["steps"].as<int>();
  if (D <= 0 || A <= 0 || batch <= 0 || replay_size <= 0 || round_steps <= 0) {
    throw UserError("--obs-dim, --act-dim, --batch, --replay and --steps must be positive");
  }
  const std::vector<int> thread_counts = ParseThreadCounts(args["threads"].as<std::string>());
  PolicyConfig policy_config;
  policy_config.hidden = ParseWidths(args["hidden"].as<std::string>());
  policy_config.activation = "relu";
  policy_config.state_dependent_std = true;
  policy_config.tanh_squash = true;
  policy_config.init_log_std = 0.0;
  AlgorithmConfig algo_config;
  algo_config.name = name;
  algo_config.learning_rate = 3e-4;
  algo_config.max_grad_norm = 0.0;
  algo_config.sac_batch_size = batch;
  // the same networks, buffer and samples at each thread count
  const auto time_at = [&](int threads) {
    SetComputeThreads(threads, "bench");
    SeedTorch(1);
    ActorCritic policy(D, A, policy_config);
    auto algorithm = algorithms::CreateOffPolicyAlgorithm(algo_config, policy);

    learner::ReplayBuffer replay(replay_size, D, A);
    RunningNormalizer normalizer(D, NormalizerConfig().clip, true);
    FillRandomReplay(replay_size, D, A, &replay, &normalizer);

    std::unique_ptr<PythonBaseline> python;
    if (args.count("python")) {
      python = std::make_unique<PythonBaseline>(
          args["python"].as<std::string>(), name + "_update.py",
          std::vector<std::string>{"--obs-dim", std::to_string(D), "--act-dim", std::to_string(A),
                                   "--hidden", args["hidden"].as<std::string>(), "--batch",
                                   std::to_string(batch), "--replay", std::to_string(replay_size),
                                   "--steps", std::to_string(round_steps), "--threads",
                                   std::to_string(threads)});
    }

    auto round = [&] {
      for (int i = 0; i < round_steps; ++i) algorithm->Step(replay.Sample(batch, normalizer), {});
    };
    const double min_seconds = args["seconds"].as<double>();
    const RoundTiming timing = TimeRounds(round, python.get(), min_seconds);
    const int rounds = timing.rounds;
    const double elapsed = timing.elapsed, python_elapsed = timing.python_elapsed;
    python.reset();

    const double flops_per_step = SacFlopsPerStep(D, A, policy_config.hidden, batch);
    const double steps = static_cast<double>(rounds) * round_steps;
    const double steps_per_s = steps / elapsed;
    const double gflops = flops_per_step * steps_per_s / 1e9;
    const double matmul_gflops = MatmulGflops(kMatmulSize, std::min(min_seconds, 1.0));
    const double python_steps_per_s = python_elapsed > 0 ? steps / python_elapsed : 0.0;
    OffPolicyBenchReport report;
    report.name = name;
    report.D = D;
    report.A = A;
    report.batch = batch;
    report.replay_size = replay_size;
    report.hidden = args["hidden"].as<std::string>();
    report.python = args.count("python") > 0;
    report.steps = steps;
    report.elapsed = elapsed;
    report.steps_per_s = steps_per_s;
    report.flops_per_step = flops_per_step;
    report.gflops = gflops;
    report.matmul_gflops = matmul_gflops;
    report.python_steps_per_s = python_steps_per_s;
    report.threads = threads;
    if (args.count("json")) {
      PrintOffPolicyJson(report);
    } else {
      PrintOffPolicyText(report);
    }
    return steps_per_s;
  };
  std::vector<double> rates;
  for (int threads : thread_counts) rates.push_back(time_at(threads));
  if (!args.count("json")) PrintThreadComparison(thread_counts, rates, "gradient steps/s");
  return 0;
}

}  // namespace robofleet::launcher

// `robofleet bench learner`: PPO-update samples/s, on one rank or several,
// beside PyTorch and the matmul ceiling.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <exception>
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

// Floating-point operations of the update's matrix products per sample per
// epoch: every Linear layer of `policy` costs 2 flops per weight forward, and
// 4 backward (the gradients of its weights and of its input), except a layer
// that reads the observation, whose input needs no gradient: 2 + 2. Biases,
// activations, losses and Adam are not counted (a few percent).
double UpdateFlopsPerSample(torch::nn::Module& policy, int obs_dim) {
  double flops = 0.0;
  for (const auto& item : policy.named_modules()) {
    const auto* linear = item.value()->as<torch::nn::Linear>();
    if (linear == nullptr) continue;
    const double weights = static_cast<double>(linear->weight.numel());
    const std::string& name = item.key();
    const bool reads_obs = linear->options.in_features() == obs_dim && name.size() >= 2 &&
                           name.compare(name.size() - 2, 2, ".0") == 0;
    flops += (reads_obs ? 4.0 : 6.0) * weights;
  }
  return flops;
}

// A communicator that also counts the seconds its collectives take.
class TimedCommunicator : public learner::Communicator {
 public:
  explicit TimedCommunicator(std::unique_ptr<learner::Communicator> inner)
      : inner_(std::move(inner)) {}
  int rank() const override { return inner_->rank(); }
  int world_size() const override { return inner_->world_size(); }
  void AllReduceSum(torch::Tensor& tensor) override {
    const auto start = std::chrono::steady_clock::now();
    inner_->AllReduceSum(tensor);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  void AllReduceSum(torch::Tensor& tensor, const std::function<void()>& while_waiting) override {
    inner_->AllReduceSum(tensor, while_waiting);
  }
  void Broadcast(torch::Tensor& tensor, int root) override { inner_->Broadcast(tensor, root); }
  double seconds() const { return seconds_; }

 private:
  std::unique_ptr<learner::Communicator> inner_;
  double seconds_ = 0.0;
};

struct RanksTiming {
  int updates = 0;
  double update_s = 0.0;     // wall seconds per update (rank 0)
  double allreduce_s = 0.0;  // of which in allreduce (rank 0)
};

// W learner ranks as threads of this process meeting on loopback over the
// backend `learner` names, on its device (rank r on GPU r mod the GPUs),
// each updating on its 1/W of `data` with the gradients averaged, as
// learner.count runs them (one intra-op thread each).
RanksTiming TimeRanks(int W, const LearnerConfig& learner, const PolicyConfig& policy_config,
                      const AlgorithmConfig& config, const algorithms::RolloutBatch& data,
                      const torch::Tensor& initial, double min_seconds) {
  const int port = FreePort("127.0.0.1");
  const int64_t share = data.obs.size(0) / W;
  RanksTiming timing;
  std::vector<std::exception_ptr> failures(W);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < W; ++rank) {
    threads.emplace_back([&, rank] {
      // a rank that fails (NCCL refusing two ranks on one GPU, say) reports to the caller
      try {
        const torch::Device device = learner::LearnerDevice(learner, rank);
        TimedCommunicator comm(learner::MakeCommunicator(learner, "127.0.0.1", port, rank, W,
                                                         device, std::chrono::seconds(60)));
        ActorCritic policy(static_cast<int>(data.obs.size(1)),
                           static_cast<int>(data.actions.size(1)), policy_config);
        policy->to(device);
        LoadFlatParameters(*policy, initial.data_ptr<float>(), initial.numel());
        auto algorithm = algorithms::CreateOnPolicyAlgorithm(config, policy);
        algorithms::RolloutBatch mine;
        mine.obs = data.obs.narrow(0, rank * share, share).to(device);
        mine.actions = data.actions.narrow(0, rank * share, share).to(device);
        mine.log_probs = data.log_probs.narrow(0, rank * share, share).to(device);
        mine.advantages = data.advantages.narrow(0, rank * share, share).to(device);
        mine.returns = data.returns.narrow(0, rank * share, share).to(device);
        const algorithms::GradientHook hook = learner::AverageGradients(comm, policy);
        algorithm->Update(mine, hook);  // warm-up
        // every rank runs the same number of updates: rank 0 decides when to stop
        double elapsed = 0.0, in_allreduce = 0.0;
        int updates = 0;
        for (bool more = true; more; ++updates) {
          const auto start = std::chrono::steady_clock::now();
          const double allreduce_before = comm.seconds();
          algorithm->Update(mine, hook);
          elapsed +=
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          in_allreduce += comm.seconds() - allreduce_before;
          torch::Tensor flag = torch::tensor({rank == 0 && elapsed < min_seconds ? 1.0f : 0.0f});
          comm.AllReduceSum(flag);
          more = flag.item<float>() > 0 || updates < 1;
        }
        if (rank == 0) {
          timing.updates = updates;
          timing.update_s = elapsed / updates;
          timing.allreduce_s = in_allreduce / updates;
        }
      } catch (...) {
        failures[rank] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const std::exception_ptr& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  return timing;
}

// The edge of the square matrices of the matmul ceiling.
constexpr int64_t kMatmulSize = 2048;

// What the learner bench measured, as it prints it.
struct LearnerBenchReport {
  int D = 0, A = 0, batch = 0, minibatch = 0, epochs = 0, ranks = 1, threads = 1;
  std::string hidden;   // --hidden as given
  std::string device;   // where the update ran
  std::string backend;  // how the ranks averaged gradients (ranks > 1)
  bool python = false;  // the PyTorch baseline ran
  int updates = 0;
  double elapsed = 0.0, update_s = 0.0, samples_per_s = 0.0;
  double flops_per_sample = 0.0, update_gflops = 0.0, matmul_gflops = 0.0;
  double python_samples_per_s = 0.0;
  RanksTiming ranks_timing;
  double ranks_samples_per_s = 0.0;
};

// `batch` random samples of observation size D and action size A on
// `device`, with the log-probabilities `policy` gives their actions.
algorithms::RolloutBatch SyntheticBatch(ActorCritic& policy, int batch, int D, int A,
                                        const torch::Device& device) {
  algorithms::RolloutBatch data;
  const torch::TensorOptions on_device = torch::TensorOptions().device(device);
  data.obs = torch::randn({batch, D}, on_device);
  data.actions = torch::randn({batch, A}, on_device);
  {
    torch::NoGradGuard no_grad;
    data.log_probs = policy->LogProb(policy->Distribution(data.obs), data.actions);
  }
  data.advantages = torch::randn({batch}, on_device);
  data.returns = torch::randn({batch}, on_device);
  return data;
}

// Whole updates timed, and the baseline's beside them.
struct UpdateTiming {
  int updates = 0;
  double elapsed = 0.0;         // seconds in our updates
  double python_elapsed = 0.0;  // seconds in the baseline's (0 without it)
};

// One warm-up update, then whole updates until `min_seconds` are up (two at
// least); with the baseline, one of its updates after each of ours.
UpdateTiming TimeUpdates(algorithms::OnPolicyAlgorithm& algorithm,
                         const algorithms::RolloutBatch& data, PythonBaseline* python,
                         double min_seconds) {
  UpdateTiming t;
  algorithm.Update(data, {});
  while (t.elapsed < min_seconds || t.updates < 2) {
    const auto start = std::chrono::steady_clock::now();
    algorithm.Update(data, {});
    t.elapsed += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (python) t.python_elapsed += python->Update();
    ++t.updates;
  }
  return t;
}

// The options of `robofleet bench learner`.
cxxopts::Options BenchLearnerOptions() {
  cxxopts::Options options("robofleet bench learner",
                           "PPO-update throughput (separate actor and critic ELU MLPs, Adam, "
                           "grad-norm clip) on a synthetic batch.");
  options.add_options()("obs-dim", "observation size", cxxopts::value<int>()->default_value("17"))(
      "act-dim", "action size", cxxopts::value<int>()->default_value("6"))(
      "hidden", "hidden widths", cxxopts::value<std::string>()->default_value("256,256"))(
      "batch", "samples per update", cxxopts::value<int>()->default_value("16384"))(
      "minibatch", "samples per minibatch", cxxopts::value<int>()->default_value("2048"))(
      "epochs", "epochs per update", cxxopts::value<int>()->default_value("5"))(
      "threads",
      "compute threads (LibTorch, OpenMP and BLAS); a list times each in turn, so a user "
      "can pick learner.threads",
      cxxopts::value<std::string>()->default_value("1,2"))(
      "seconds", "minimum timed seconds", cxxopts::value<double>()->default_value("3"))(
      "python",
      "also time bench/ppo_update.py, the same update in PyTorch, with this "
      "interpreter, one of its updates after each of ours, on as many threads",
      cxxopts::value<std::string>()->implicit_value("/usr/bin/python3"))(
      "ranks",
      "also time this many learner ranks (threads on loopback), each "
      "on its share of the batch",
      cxxopts::value<int>()->default_value("1"))(
      "device", "where the update runs: cpu or cuda (ranks on GPU rank mod the GPUs)",
      cxxopts::value<std::string>()->default_value("cpu"))(
      "backend",
      "how --ranks average gradients: auto (nccl on cuda, gloo on cpu), gloo "
      "or nccl",
      cxxopts::value<std::string>()->default_value("auto"))("json", "print one JSON object")(
      "h,help", "show this help");
  return options;
}

// Where the update runs and how the ranks average gradients, from --device,
// --backend and --ranks.
LearnerConfig BenchLearnerConfig(const cxxopts::ParseResult& args, int ranks) {
  LearnerConfig learner_config;
  learner_config.device = args["device"].as<std::string>();
  learner_config.backend = args["backend"].as<std::string>();
  learner_config.count = ranks;
  if (learner_config.device != "cpu" && learner_config.device != "cuda") {
    throw UserError("--device is '" + learner_config.device + "'; use cpu or cuda");
  }
  if (learner_config.backend != "auto" && learner_config.backend != "gloo" &&
      learner_config.backend != "nccl") {
    throw UserError("--backend is '" + learner_config.backend + "'; use auto, gloo or nccl");
  }
  return learner_config;
}

// The report as one JSON object (--json).
void PrintLearnerJson(const LearnerBenchReport& r) {
  std::printf(
      "{\"bench\": \"learner\", \"samples_per_s\": %.1f, \"update_s\": %.6f, \"updates\": %d, "
      "\"obs_dim\": %d, \"act_dim\": %d, \"hidden\": \"%s\", \"batch\": %d, \"minibatch\": %d, "
      "\"epochs\": %d, \"threads\": %d, \"flops_per_sample\": %.0f, \"update_gflops\": %.3f, "
      "\"matmul_gflops\": %.3f, \"device\": \"%s\"",
      r.samples_per_s, r.update_s, r.updates, r.D, r.A, r.hidden.c_str(), r.batch, r.minibatch,
      r.epochs, r.threads, r.flops_per_sample, r.update_gflops, r.matmul_gflops, r.device.c_str());
  if (r.python) {
    std::printf(", \"python_samples_per_s\": %.1f, \"ratio_to_python\": %.4f",
                r.python_samples_per_s, r.samples_per_s / r.python_samples_per_s);
  }
  if (r.ranks > 1) {
    std::printf(
        ", \"ranks\": %d, \"ranks_samples_per_s\": %.1f, \"ranks_update_s\": %.6f, "
        "\"allreduce_s_per_update\": %.6f, \"backend\": \"%s\"",
        r.ranks, r.ranks_samples_per_s, r.ranks_timing.update_s, r.ranks_timing.allreduce_s,
        r.backend.c_str());
  }
  std::printf("}\n");
}

// The report for people.
void PrintLearnerText(const LearnerBenchReport& r) {
  std::printf("learner bench: hidden %s, batch %d, minibatch %d, epochs %d, %d thread%s, on %s\n",
              r.hidden.c_str(), r.batch, r.minibatch, r.epochs, r.threads,
              r.threads == 1 ? "" : "s", r.device.c_str());
  std::printf("  %d updates in %.2f s: %.3f s/update, %.0f samples/s\n", r.updates, r.elapsed,
              r.update_s, r.samples_per_s);
  std::printf(
      "  %.2f GFLOP/s in the update (%.0f flops per sample per epoch), beside "
      "%.2f GFLOP/s of a %lldx%lld matrix product: %.1f%%\n",
      r.update_gflops, r.flops_per_sample, r.matmul_gflops, static_cast<long long>(kMatmulSize),
      static_cast<long long>(kMatmulSize), 100.0 * r.update_gflops / r.matmul_gflops);
  if (r.python) {
    std::printf("  PyTorch (bench/ppo_update.py): %.0f samples/s; C++ / Python %.2fx\n",
                r.python_samples_per_s, r.samples_per_s / r.python_samples_per_s);
  }
  if (r.ranks > 1) {
    std::printf(
        "  %d ranks over %s, %d samples each: %.0f samples/s (%.2fx one rank); "
        "%.4f s/update, %.4f s of it in allreduce (%.1f%%)\n",
        r.ranks, r.backend.c_str(), r.batch / r.ranks, r.ranks_samples_per_s,
        r.ranks_samples_per_s / r.samples_per_s, r.ranks_timing.update_s,
        r.ranks_timing.allreduce_s, 100.0 * r.ranks_timing.allreduce_s / r.ranks_timing.update_s);
  }
}

}  // namespace

// PPO-update samples/s on a synthetic batch: batch x epochs / seconds.
int BenchLearner(int argc, char** argv) {
  cxxopts::Options options = BenchLearnerOptions();
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const int ranks = args["ranks"].as<int>();
  if (ranks < 1) throw UserError("--ranks must be at least 1, e.g. --ranks 2");
  const int D = args["obs-dim"].as<int>(), A = args["act-dim"].as<int>();
  const int batch = args["batch"].as<int>(), minibatch = args["minibatch"].as<int>();
  const int epochs = args["epochs"].as<int>();
  if (D <= 0 || A <= 0 || batch <= 0 || minibatch <= 0 || epochs <= 0) {
    throw UserError("--obs-dim, --act-dim, --batch, --minibatch and --epochs must be positive");
  }
  if (minibatch > batch) throw UserError("--minibatch must not exceed --batch");
  if (batch % ranks != 0 || (batch / ranks) % minibatch != 0) {
    throw UserError("--batch must split into --ranks equal shares of whole minibatches");
  }
  const LearnerConfig learner_config = BenchLearnerConfig(args, ranks);
  const torch::Device device = learner::LearnerDevice(learner_config, 0);
  const std::vector<int> thread_counts = ParseThreadCounts(args["threads"].as<std::string>());

  PolicyConfig policy_config;
  policy_config.hidden = ParseWidths(args["hidden"].as<std::string>());
  policy_config.activation = "elu";
  AlgorithmConfig algo_config;
  algo_config.epochs = epochs;
  algo_config.minibatches = batch / minibatch;
  algo_config.max_grad_norm = 1.0;
  // the same network and batch at each thread count
  const auto time_at = [&](int threads) {
    SetComputeThreads(threads, "bench");
    SeedTorch(1);
    ActorCritic policy(D, A, policy_config);
    const torch::Tensor initial = FlattenParameters(*policy).clone();
    policy->to(device);
    auto algorithm = algorithms::CreateOnPolicyAlgorithm(algo_config, policy);

    const algorithms::RolloutBatch data = SyntheticBatch(policy, batch, D, A, device);

    std::unique_ptr<PythonBaseline> python;
    if (args.count("python")) {
      python = std::make_unique<PythonBaseline>(
          args["python"].as<std::string>(), "ppo_update.py",
          std::vector<std::string>{"--obs-dim", std::to_string(D), "--act-dim", std::to_string(A),
                                   "--hidden", args["hidden"].as<std::string>(), "--batch",
                                   std::to_string(batch), "--minibatch", std::to_string(minibatch),
                                   "--epochs", std::to_string(epochs), "--threads",
                                   std::to_string(threads)});
    }

    const double min_seconds = args["seconds"].as<double>();
    const UpdateTiming timing = TimeUpdates(*algorithm, data, python.get(), min_seconds);
    const int updates = timing.updates;
    const double elapsed = timing.elapsed, python_elapsed = timing.python_elapsed;
    python.reset();
    RanksTiming ranks_timing;
    if (ranks > 1) {
      // the same minibatch size on every rank: each has batch / ranks samples
      AlgorithmConfig rank_config = algo_config;
      rank_config.minibatches = batch / ranks / minibatch;
      ranks_timing =
          TimeRanks(ranks, learner_config, policy_config, rank_config, data, initial, min_seconds);
    }
    const double ranks_samples_per_s =
        ranks > 1 ? static_cast<double>(batch) * epochs / ranks_timing.update_s : 0.0;
    const double samples_per_s = static_cast<double>(batch) * epochs * updates / elapsed;
    const double update_s = elapsed / updates;
    const double flops_per_sample = UpdateFlopsPerSample(*policy, D);
    const double update_gflops = flops_per_sample * samples_per_s / 1e9;
    const double matmul_gflops = MatmulGflops(kMatmulSize, std::min(min_seconds, 1.0));
    const double python_samples_per_s =
        python_elapsed > 0 ? static_cast<double>(batch) * epochs * updates / python_elapsed : 0.0;
    LearnerBenchReport report;
    report.D = D;
    report.A = A;
    report.batch = batch;
    report.minibatch = minibatch;
    report.epochs = epochs;
    report.ranks = ranks;
    report.hidden = args["hidden"].as<std::string>();
    report.device = device.str();
    if (ranks > 1) report.backend = learner::ResolvedBackend(learner_config);
    report.python = args.count("python") > 0;
    report.updates = updates;
    report.elapsed = elapsed;
    report.update_s = update_s;
    report.samples_per_s = samples_per_s;
    report.flops_per_sample = flops_per_sample;
    report.update_gflops = update_gflops;
    report.matmul_gflops = matmul_gflops;
    report.python_samples_per_s = python_samples_per_s;
    report.ranks_timing = ranks_timing;
    report.ranks_samples_per_s = ranks_samples_per_s;
    report.threads = threads;
    if (args.count("json")) {
      PrintLearnerJson(report);
    } else {
      PrintLearnerText(report);
    }
    return samples_per_s;
  };
  std::vector<double> rates;
  for (int threads : thread_counts) rates.push_back(time_at(threads));
  if (!args.count("json")) PrintThreadComparison(thread_counts, rates, "samples/s");
  return 0;
}

}  // namespace robofleet::launcher

// `robofleet bench`: throughput figures on this machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <exception>
#include <memory>
#include <sstream>
#include <thread>

#include "algorithms/registry.h"
#include "core/policy.h"
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

// GFLOP/s of an n x n float32 matrix product on the current thread count,
// timed for at least `seconds`.
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

// A baseline script of bench/ (ppo_update.py, sac_update.py) run with
// --serve as a child process: the same work in PyTorch, timed one unit at a
// time so that its units interleave with ours and both see the same machine.
class PythonBaseline {
 public:
  // Starts bench/`script_name` and waits for its warm-up; throws UserError
  // naming what is missing when it cannot run.
  PythonBaseline(const std::string& python, const std::string& script_name,
                 const std::vector<std::string>& args) {
    const std::string script = std::string(ROBOFLEET_SOURCE_DIR) + "/bench/" + script_name;
    command_ = python + " " + script;
    std::vector<std::string> argv = {python, script, "--serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions options;
    options.search_path = true;
    options.stdin_from = Redirect::Pipe();
    options.stdout_to = Redirect::Pipe();
    // a Python traceback arrives where the parent reads, as the failure's words
    options.stderr_to = Redirect::ToStdout();
    child_ = Start(argv, options);
    if (!child_.started()) Fail(child_.start_error());
    const std::string first = ReadLine();
    if (first != "ready") Fail(first);
  }
  PythonBaseline(const PythonBaseline&) = delete;
  PythonBaseline& operator=(const PythonBaseline&) = delete;
  // End of input: the script exits on its own.
  ~PythonBaseline() { child_.Wait(); }

  // Runs one unit (an update, or a round of gradient steps) in the child;
  // returns its seconds.
  double Update() {
    // a child that died mid-run reads as a failed update (no line), not a SIGPIPE
    child_.WriteStdin("update\n");
    const std::string line = ReadLine();
    char* end = nullptr;
    const double seconds = std::strtod(line.c_str(), &end);
    if (end == line.c_str() || !(seconds > 0)) Fail(line);
    return seconds;
  }

 private:
  std::string ReadLine() {
    std::string line;
    child_.ReadStdoutLine(&line);
    return line;
  }

  // Ends the child (end of input: the script exits) and throws.
  [[noreturn]] void Fail(const std::string& line) {
    child_.Wait();
    throw UserError("the Python baseline (" + command_ +
                    ") failed: " + (line.empty() ? std::string("no output") : line) +
                    "; it needs python3 with PyTorch (apt-get install python3-torch), or "
                    "--python=PATH to another interpreter");
  }

  std::string command_;
  Child child_;  // stdin and stdout are pipes to the script
};

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

// PPO-update samples/s on a synthetic batch: batch x epochs / seconds.
int BenchLearner(int argc, char** argv) {
  cxxopts::Options options("robofleet bench learner",
                           "PPO-update throughput (separate actor and critic ELU MLPs, Adam, "
                           "grad-norm clip) on a synthetic batch.");
  options.add_options()("obs-dim", "observation size", cxxopts::value<int>()->default_value("17"))(
      "act-dim", "action size", cxxopts::value<int>()->default_value("6"))(
      "hidden", "hidden widths", cxxopts::value<std::string>()->default_value("256,256"))(
      "batch", "samples per update", cxxopts::value<int>()->default_value("16384"))(
      "minibatch", "samples per minibatch", cxxopts::value<int>()->default_value("2048"))(
      "epochs", "epochs per update", cxxopts::value<int>()->default_value("5"))(
      "threads", "intra-op threads", cxxopts::value<int>()->default_value("0"))(
      "seconds", "minimum timed seconds", cxxopts::value<double>()->default_value("3"))(
      "python",
      "also time bench/ppo_update.py, the same update in PyTorch, with this "
      "interpreter, one of its updates after each of ours (one thread unless "
      "--threads)",
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
  const torch::Device device = learner::LearnerDevice(learner_config, 0);
  if (args["threads"].as<int>() > 0) torch::set_num_threads(args["threads"].as<int>());
  // the baseline runs single-threaded, so the comparison does too
  else if (args.count("python"))
    torch::set_num_threads(1);

  PolicyConfig policy_config;
  policy_config.hidden = ParseWidths(args["hidden"].as<std::string>());
  policy_config.activation = "elu";
  AlgorithmConfig algo_config;
  algo_config.epochs = epochs;
  algo_config.minibatches = batch / minibatch;
  algo_config.max_grad_norm = 1.0;
  SeedTorch(1);
  ActorCritic policy(D, A, policy_config);
  const torch::Tensor initial = FlattenParameters(*policy).clone();
  policy->to(device);
  auto algorithm = algorithms::CreateOnPolicyAlgorithm(algo_config, policy);

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

  std::unique_ptr<PythonBaseline> python;
  if (args.count("python")) {
    python = std::make_unique<PythonBaseline>(
        args["python"].as<std::string>(), "ppo_update.py",
        std::vector<std::string>{"--obs-dim", std::to_string(D), "--act-dim", std::to_string(A),
                                 "--hidden", args["hidden"].as<std::string>(), "--batch",
                                 std::to_string(batch), "--minibatch", std::to_string(minibatch),
                                 "--epochs", std::to_string(epochs), "--threads",
                                 std::to_string(torch::get_num_threads())});
  }

  // one warm-up update, then whole updates until the time is up; with the
  // baseline, one of its updates after each of ours
  algorithm->Update(data, {});
  const double min_seconds = args["seconds"].as<double>();
  int updates = 0;
  double elapsed = 0.0, python_elapsed = 0.0;
  while (elapsed < min_seconds || updates < 2) {
    const auto start = std::chrono::steady_clock::now();
    algorithm->Update(data, {});
    elapsed += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (python) python_elapsed += python->Update();
    ++updates;
  }
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
  const int64_t kMatmulSize = 2048;
  const double matmul_gflops = MatmulGflops(kMatmulSize, std::min(min_seconds, 1.0));
  const double python_samples_per_s =
      python_elapsed > 0 ? static_cast<double>(batch) * epochs * updates / python_elapsed : 0.0;
  if (args.count("json")) {
    std::printf(
        "{\"bench\": \"learner\", \"samples_per_s\": %.1f, \"update_s\": %.6f, \"updates\": %d, "
        "\"obs_dim\": %d, \"act_dim\": %d, \"hidden\": \"%s\", \"batch\": %d, \"minibatch\": %d, "
        "\"epochs\": %d, \"threads\": %d, \"flops_per_sample\": %.0f, \"update_gflops\": %.3f, "
        "\"matmul_gflops\": %.3f, \"device\": \"%s\"",
        samples_per_s, update_s, updates, D, A, args["hidden"].as<std::string>().c_str(), batch,
        minibatch, epochs, torch::get_num_threads(), flops_per_sample, update_gflops, matmul_gflops,
        device.str().c_str());
    if (args.count("python")) {
      std::printf(", \"python_samples_per_s\": %.1f, \"ratio_to_python\": %.4f",
                  python_samples_per_s, samples_per_s / python_samples_per_s);
    }
    if (ranks > 1) {
      std::printf(
          ", \"ranks\": %d, \"ranks_samples_per_s\": %.1f, \"ranks_update_s\": %.6f, "
          "\"allreduce_s_per_update\": %.6f, \"backend\": \"%s\"",
          ranks, ranks_samples_per_s, ranks_timing.update_s, ranks_timing.allreduce_s,
          learner::ResolvedBackend(learner_config).c_str());
    }
    std::printf("}\n");
  } else {
    std::printf("learner bench: hidden %s, batch %d, minibatch %d, epochs %d, %d threads, on %s\n",
                args["hidden"].as<std::string>().c_str(), batch, minibatch, epochs,
                torch::get_num_threads(), device.str().c_str());
    std::printf("  %d updates in %.2f s: %.3f s/update, %.0f samples/s\n", updates, elapsed,
                update_s, samples_per_s);
    std::printf(
        "  %.2f GFLOP/s in the update (%.0f flops per sample per epoch), beside "
        "%.2f GFLOP/s of a %lldx%lld matrix product: %.1f%%\n",
        update_gflops, flops_per_sample, matmul_gflops, static_cast<long long>(kMatmulSize),
        static_cast<long long>(kMatmulSize), 100.0 * update_gflops / matmul_gflops);
    if (args.count("python")) {
      std::printf("  PyTorch (bench/ppo_update.py): %.0f samples/s; C++ / Python %.2fx\n",
                  python_samples_per_s, samples_per_s / python_samples_per_s);
    }
    if (ranks > 1) {
      std::printf(
          "  %d ranks over %s, %d samples each: %.0f samples/s (%.2fx one rank); "
          "%.4f s/update, %.4f s of it in allreduce (%.1f%%)\n",
          ranks, learner::ResolvedBackend(learner_config).c_str(), batch / ranks,
          ranks_samples_per_s, ranks_samples_per_s / samples_per_s, ranks_timing.update_s,
          ranks_timing.allreduce_s, 100.0 * ranks_timing.allreduce_s / ranks_timing.update_s);
    }
  }
  return 0;
}

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

// Gradient steps/s of off-policy algorithm `name` (robofleet bench NAME):
// each step samples the replay buffer and trains every network, as the
// off-policy learner does (SAC: the twin critics, the actor and the
// temperature, then the targets move). The flop count assumes SAC's networks.
int BenchOffPolicy(const std::string& name, int argc, char** argv) {
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
      "threads", "intra-op threads", cxxopts::value<int>()->default_value("0"))(
      "seconds", "minimum timed seconds", cxxopts::value<double>()->default_value("3"))(
      "python",
      "also time bench/" + name +
          "_update.py, the same step in PyTorch, with "
          "this interpreter, one of its rounds after each of ours (one thread unless "
          "--threads)",
      cxxopts::value<std::string>()->implicit_value("/usr/bin/python3"))(
      "json", "print one JSON object")("h,help", "show this help");
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const int D = args["obs-dim"].as<int>(), A = args["act-dim"].as<int>();
  const int batch = args["batch"].as<int>(), replay_size = args["replay"].as<int>();
  const int round_steps = args["steps"].as<int>();
  if (D <= 0 || A <= 0 || batch <= 0 || replay_size <= 0 || round_steps <= 0) {
    throw UserError("--obs-dim, --act-dim, --batch, --replay and --steps must be positive");
  }
  if (args["threads"].as<int>() > 0) torch::set_num_threads(args["threads"].as<int>());
  // the baseline runs single-threaded, so the comparison does too
  else if (args.count("python"))
    torch::set_num_threads(1);

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
  SeedTorch(1);
  ActorCritic policy(D, A, policy_config);
  auto algorithm = algorithms::CreateOffPolicyAlgorithm(algo_config, policy);

  // random transitions, observations off-centre so that normalising them is real work
  learner::ReplayBuffer replay(replay_size, D, A);
  learner::Transitions data;
  data.obs = torch::randn({replay_size, D}) * 3.0 + 1.0;
  data.next_obs = torch::randn({replay_size, D}) * 3.0 + 1.0;
  data.actions = torch::rand({replay_size, A}) * 2.0 - 1.0;
  data.rewards = torch::randn({replay_size});
  data.terminated = (torch::rand({replay_size}) < 0.01).to(torch::kFloat32);
  replay.Add(data);
  RunningNormalizer normalizer(D, NormalizerConfig().clip, true);
  normalizer.Update(data.obs.data_ptr<float>(), replay_size);

  std::unique_ptr<PythonBaseline> python;
  if (args.count("python")) {
    python = std::make_unique<PythonBaseline>(
        args["python"].as<std::string>(), name + "_update.py",
        std::vector<std::string>{"--obs-dim", std::to_string(D), "--act-dim", std::to_string(A),
                                 "--hidden", args["hidden"].as<std::string>(), "--batch",
                                 std::to_string(batch), "--replay", std::to_string(replay_size),
                                 "--steps", std::to_string(round_steps), "--threads",
                                 std::to_string(torch::get_num_threads())});
  }

  auto round = [&] {
    for (int i = 0; i < round_steps; ++i) algorithm->Step(replay.Sample(batch, normalizer), {});
  };
  round();  // warm-up
  const double min_seconds = args["seconds"].as<double>();
  int rounds = 0;
  double elapsed = 0.0, python_elapsed = 0.0;
  while (elapsed < min_seconds || rounds < 2) {
    const auto start = std::chrono::steady_clock::now();
    round();
    elapsed += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (python) python_elapsed += python->Update();
    ++rounds;
  }
  python.reset();

  // Matrix-product flops of one step per sample, at 2 per weight forward and
  // 4 backward (2 where only the input's gradient or only the weights' is
  // needed): the target pass (actor and two target critics forward), the
  // critic pass (two critics forward and backward, no gradient for their
  // input) and the actor pass (actor forward and backward, two critics
  // forward and back to their input only).
  const MlpWeights actor = CountMlpWeights(D, policy_config.hidden, 2 * A);
  const MlpWeights critic = CountMlpWeights(D + A, policy_config.hidden, 1);
  const double flops_per_step =
      batch * (8.0 * actor.all - 2.0 * actor.first + 24.0 * critic.all - 4.0 * critic.first);
  const double steps = static_cast<double>(rounds) * round_steps;
  const double steps_per_s = steps / elapsed;
  const double gflops = flops_per_step * steps_per_s / 1e9;
  const int64_t kMatmulSize = 2048;
  const double matmul_gflops = MatmulGflops(kMatmulSize, std::min(min_seconds, 1.0));
  const double python_steps_per_s = python_elapsed > 0 ? steps / python_elapsed : 0.0;
  if (args.count("json")) {
    std::printf(
        "{\"bench\": \"%s\", \"steps_per_s\": %.1f, \"step_ms\": %.4f, \"steps\": %.0f, "
        "\"obs_dim\": %d, \"act_dim\": %d, \"hidden\": \"%s\", \"batch\": %d, \"replay\": %d, "
        "\"threads\": %d, \"flops_per_step\": %.0f, \"step_gflops\": %.3f, "
        "\"matmul_gflops\": %.3f",
        name.c_str(), steps_per_s, 1e3 / steps_per_s, steps, D, A,
        args["hidden"].as<std::string>().c_str(), batch, replay_size, torch::get_num_threads(),
        flops_per_step, gflops, matmul_gflops);
    if (args.count("python")) {
      std::printf(", \"python_steps_per_s\": %.1f, \"ratio_to_python\": %.4f", python_steps_per_s,
                  steps_per_s / python_steps_per_s);
    }
    std::printf("}\n");
  } else {
    std::printf("%s bench: hidden %s, batch %d, replay %d, %d threads\n", name.c_str(),
                args["hidden"].as<std::string>().c_str(), batch, replay_size,
                torch::get_num_threads());
    std::printf("  %.0f gradient steps in %.2f s: %.0f steps/s, %.3f ms each\n", steps, elapsed,
                steps_per_s, 1e3 / steps_per_s);
    std::printf(
        "  %.2f GFLOP/s in the steps (%.0f MFLOP per step), beside %.2f GFLOP/s of a "
        "%lldx%lld matrix product: %.1f%%\n",
        gflops, flops_per_step / 1e6, matmul_gflops, static_cast<long long>(kMatmulSize),
        static_cast<long long>(kMatmulSize), 100.0 * gflops / matmul_gflops);
    if (args.count("python")) {
      std::printf("  PyTorch (bench/%s_update.py): %.0f steps/s; C++ / Python %.2fx\n",
                  name.c_str(), python_steps_per_s, steps_per_s / python_steps_per_s);
    }
  }
  return 0;
}

}  // namespace

int BenchCommand(int argc, char** argv) {
  // every off-policy algorithm of the registry has its gradient-step bench
  std::vector<std::string> off_policy;
  for (const std::string& name : algorithms::AlgorithmNames()) {
    if (algorithms::IsOffPolicy(name)) off_policy.push_back(name);
  }
  std::string usage = "learner", listed = "learner";
  for (const std::string& name : off_policy) {
    usage += "|" + name;
    listed += ", " + name;
  }
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::printf(
        "usage: robofleet bench %s|inference|env|system [options]   "
        "(robofleet bench NAME --help)\n",
        usage.c_str());
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "learner") return BenchLearner(argc - 1, argv + 1);
  if (std::find(off_policy.begin(), off_policy.end(), what) != off_policy.end()) {
    return BenchOffPolicy(what, argc - 1, argv + 1);
  }
  if (what == "inference") return BenchInference(argc - 1, argv + 1);
  if (what == "env") return BenchEnv(argc - 1, argv + 1);
  if (what == "system") return BenchSystem(argc - 1, argv + 1);
  throw UserError("unknown benchmark '" + what + "'; benchmarks: " + listed +
                  ", inference, env, system");
}

}  // namespace robofleet::launcher

// `robofleet bench`: throughput figures on this machine.
#include <cxxopts.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "algorithms/algorithm.h"
#include "core/policy.h"
#include "launcher/commands.h"

namespace robofleet::launcher {

std::vector<int> ParseWidths(const std::string& text) {
  std::vector<int> widths;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      widths.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw UserError("--hidden " + text + ": expected comma-separated widths, e.g. 256,256");
    }
    if (widths.back() <= 0) throw UserError("--hidden widths must be positive");
  }
  if (widths.empty()) throw UserError("--hidden needs at least one width, e.g. 256,256");
  return widths;
}

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

// Runs bench/ppo_update.py with `python` and returns its samples/s. Throws
// UserError naming what is missing when it cannot.
double PythonSamplesPerSecond(const std::string& python, const std::string& args) {
  const std::string script = std::string(ROBOFLEET_SOURCE_DIR) + "/bench/ppo_update.py";
  const std::string command = "'" + python + "' '" + script + "' " + args + " 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw UserError("cannot run " + python);
  std::string output;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), pipe) != nullptr) output += buf;
  const int status = pclose(pipe);
  const std::string key = "\"samples_per_s\": ";
  const size_t at = output.find(key);
  if (status != 0 || at == std::string::npos) {
    throw UserError("the Python baseline failed (" + command + "): " +
                    output.substr(0, output.find('\n')) +
                    "; it needs python3 with PyTorch (apt-get install python3-torch), or "
                    "--python=PATH to another interpreter");
  }
  return std::strtod(output.c_str() + at + key.size(), nullptr);
}

// PPO-update samples/s on a synthetic batch: batch x epochs / seconds.
int BenchLearner(int argc, char** argv) {
  cxxopts::Options options("robofleet bench learner",
                           "PPO-update throughput (separate actor and critic ELU MLPs, Adam, "
                           "grad-norm clip) on a synthetic batch.");
  options.add_options()
      ("obs-dim", "observation size", cxxopts::value<int>()->default_value("17"))
      ("act-dim", "action size", cxxopts::value<int>()->default_value("6"))
      ("hidden", "hidden widths", cxxopts::value<std::string>()->default_value("256,256"))
      ("batch", "samples per update", cxxopts::value<int>()->default_value("16384"))
      ("minibatch", "samples per minibatch", cxxopts::value<int>()->default_value("2048"))
      ("epochs", "epochs per update", cxxopts::value<int>()->default_value("5"))
      ("threads", "intra-op threads", cxxopts::value<int>()->default_value("0"))
      ("seconds", "minimum timed seconds", cxxopts::value<double>()->default_value("3"))
      ("python", "also time bench/ppo_update.py, the same update in PyTorch, with this "
                 "interpreter (one thread unless --threads)",
       cxxopts::value<std::string>()->implicit_value("/usr/bin/python3"))
      ("json", "print one JSON object")
      ("h,help", "show this help");
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const int D = args["obs-dim"].as<int>(), A = args["act-dim"].as<int>();
  const int batch = args["batch"].as<int>(), minibatch = args["minibatch"].as<int>();
  const int epochs = args["epochs"].as<int>();
  if (D <= 0 || A <= 0 || batch <= 0 || minibatch <= 0 || epochs <= 0) {
    throw UserError("--obs-dim, --act-dim, --batch, --minibatch and --epochs must be positive");
  }
  if (minibatch > batch) throw UserError("--minibatch must not exceed --batch");
  if (args["threads"].as<int>() > 0) torch::set_num_threads(args["threads"].as<int>());
  // the baseline runs single-threaded, so the comparison does too
  else if (args.count("python")) torch::set_num_threads(1);

  PolicyConfig policy_config;
  policy_config.hidden = ParseWidths(args["hidden"].as<std::string>());
  policy_config.activation = "elu";
  AlgorithmConfig algo_config;
  algo_config.epochs = epochs;
  algo_config.minibatches = batch / minibatch;
  algo_config.max_grad_norm = 1.0;
  SeedTorch(1);
  ActorCritic policy(D, A, policy_config);
  auto algorithm = algorithms::CreateAlgorithm(algo_config, policy);

  algorithms::RolloutBatch data;
  data.obs = torch::randn({batch, D});
  data.actions = torch::randn({batch, A});
  {
    torch::NoGradGuard no_grad;
    data.log_probs = policy->LogProb(policy->Distribution(data.obs), data.actions);
  }
  data.advantages = torch::randn({batch});
  data.returns = torch::randn({batch});

  // one warm-up update, then whole updates until the time is up
  algorithm->Update(data, {});
  const double min_seconds = args["seconds"].as<double>();
  int updates = 0;
  auto start = std::chrono::steady_clock::now();
  double elapsed = 0.0;
  while (elapsed < min_seconds || updates < 2) {
    algorithm->Update(data, {});
    ++updates;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double samples_per_s = static_cast<double>(batch) * epochs * updates / elapsed;
  const double update_s = elapsed / updates;
  const double flops_per_sample = UpdateFlopsPerSample(*policy, D);
  const double update_gflops = flops_per_sample * samples_per_s / 1e9;
  const int64_t kMatmulSize = 2048;
  const double matmul_gflops = MatmulGflops(kMatmulSize, std::min(min_seconds, 1.0));
  double python_samples_per_s = 0.0;
  if (args.count("python")) {
    char python_args[256];
    std::snprintf(python_args, sizeof(python_args),
                  "--obs-dim %d --act-dim %d --hidden %s --batch %d --minibatch %d --epochs %d "
                  "--threads %d --seconds %g",
                  D, A, args["hidden"].as<std::string>().c_str(), batch, minibatch, epochs,
                  torch::get_num_threads(), min_seconds);
    python_samples_per_s = PythonSamplesPerSecond(args["python"].as<std::string>(), python_args);
  }
  if (args.count("json")) {
    std::printf(
        "{\"bench\": \"learner\", \"samples_per_s\": %.1f, \"update_s\": %.6f, \"updates\": %d, "
        "\"obs_dim\": %d, \"act_dim\": %d, \"hidden\": \"%s\", \"batch\": %d, \"minibatch\": %d, "
        "\"epochs\": %d, \"threads\": %d, \"flops_per_sample\": %.0f, \"update_gflops\": %.3f, "
        "\"matmul_gflops\": %.3f",
        samples_per_s, update_s, updates, D, A, args["hidden"].as<std::string>().c_str(), batch,
        minibatch, epochs, torch::get_num_threads(), flops_per_sample, update_gflops,
        matmul_gflops);
    if (args.count("python")) {
      std::printf(", \"python_samples_per_s\": %.1f, \"ratio_to_python\": %.4f",
                  python_samples_per_s, samples_per_s / python_samples_per_s);
    }
    std::printf("}\n");
  } else {
    std::printf("learner bench: hidden %s, batch %d, minibatch %d, epochs %d, %d threads\n",
                args["hidden"].as<std::string>().c_str(), batch, minibatch, epochs,
                torch::get_num_threads());
    std::printf("  %d updates in %.2f s: %.3f s/update, %.0f samples/s\n", updates, elapsed,
                update_s, samples_per_s);
    std::printf("  %.2f GFLOP/s in the update (%.0f flops per sample per epoch), beside "
                "%.2f GFLOP/s of a %lldx%lld matrix product: %.1f%%\n",
                update_gflops, flops_per_sample, matmul_gflops,
                static_cast<long long>(kMatmulSize), static_cast<long long>(kMatmulSize),
                100.0 * update_gflops / matmul_gflops);
    if (args.count("python")) {
      std::printf("  PyTorch (bench/ppo_update.py): %.0f samples/s; C++ / Python %.2fx\n",
                  python_samples_per_s, samples_per_s / python_samples_per_s);
    }
  }
  return 0;
}

}  // namespace

int BenchCommand(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::printf("usage: robofleet bench learner|inference|env|system [options]   "
                "(robofleet bench NAME --help)\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "learner") return BenchLearner(argc - 1, argv + 1);
  if (what == "inference") return BenchInference(argc - 1, argv + 1);
  if (what == "env") return BenchEnv(argc - 1, argv + 1);
  if (what == "system") return BenchSystem(argc - 1, argv + 1);
  throw UserError("unknown benchmark '" + what + "'; benchmarks: learner, inference, env, system");
}

}  // namespace robofleet::launcher

// `robofleet bench`: throughput figures on this machine.
#include <cxxopts.hpp>

#include <chrono>
#include <cstdio>
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
  if (args.count("json")) {
    std::printf(
        "{\"bench\": \"learner\", \"samples_per_s\": %.1f, \"update_s\": %.6f, \"updates\": %d, "
        "\"obs_dim\": %d, \"act_dim\": %d, \"hidden\": \"%s\", \"batch\": %d, \"minibatch\": %d, "
        "\"epochs\": %d, \"threads\": %d}\n",
        samples_per_s, update_s, updates, D, A, args["hidden"].as<std::string>().c_str(), batch,
        minibatch, epochs, torch::get_num_threads());
  } else {
    std::printf("learner bench: hidden %s, batch %d, minibatch %d, epochs %d, %d threads\n",
                args["hidden"].as<std::string>().c_str(), batch, minibatch, epochs,
                torch::get_num_threads());
    std::printf("  %d updates in %.2f s: %.3f s/update, %.0f samples/s\n", updates, elapsed,
                update_s, samples_per_s);
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

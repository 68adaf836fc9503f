// The command-line helpers every subcommand shares (launcher/cli.h).
#include "launcher/cli.h"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <sstream>

#include "algorithms/registry.h"
#include "envs/registry.h"

namespace robofleet::launcher {

void AddEndpointOptions(cxxopts::Options& options) {
  options.add_options()("run-dir", "run directory holding config.yaml",
                        cxxopts::value<std::string>())(
      "traj", "trajectory endpoint", cxxopts::value<std::string>())("weights", "weights endpoint",
                                                                    cxxopts::value<std::string>())(
      "keys", "the run's CURVE key folder (tcp endpoints)", cxxopts::value<std::string>())(
      "h,help", "show this help");
}

std::string Required(const cxxopts::ParseResult& args, const char* name) {
  if (!args.count(name)) throw UserError(std::string("missing --") + name);
  return args[name].as<std::string>();
}

void AppendEndpointArgs(const Endpoints& endpoints, std::vector<std::string>* args) {
  args->insert(args->end(), {"--traj", endpoints.trajectories, "--weights", endpoints.weights});
  if (!endpoints.keys_dir.empty()) args->insert(args->end(), {"--keys", endpoints.keys_dir});
}

Endpoints EndpointsOf(const cxxopts::ParseResult& args) {
  return {Required(args, "traj"), Required(args, "weights"),
          args.count("keys") ? args["keys"].as<std::string>() : ""};
}

std::optional<cxxopts::ParseResult> ParseOrHelp(cxxopts::Options& options, int argc, char** argv) {
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (!args.unmatched().empty()) {
    // cxxopts keeps a positional beyond the declared ones aside; silently
    // dropping it would run something other than what was asked
    throw UserError("unexpected argument '" + args.unmatched().front() + "'; see " +
                    options.program() + " --help");
  }
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return std::nullopt;
  }
  return args;
}

std::vector<std::string> SetOverrides(const cxxopts::ParseResult& args) {
  std::vector<std::string> overrides;
  for (const cxxopts::KeyValue& kv : args.arguments()) {
    if (kv.key() == "set") overrides.push_back(kv.value());
  }
  return overrides;
}

learner::TaskInfo TaskInfoFor(const ExperimentConfig& config) {
  envs::EnvSpec spec = envs::GetEnvSpec(config.env);
  return {spec.id,
          spec.obs_dim,
          spec.act_dim,
          spec.obs_names,
          spec.act_names,
          spec.act_low,
          spec.act_high,
          spec.privileged_dim,
          spec.episode_info_names,
          spec.controller_json,
          spec.act_offset,
          spec.act_scale,
          spec.obs_history};
}

ExperimentConfig LoadCheckedExperiment(const std::string& path,
                                       const std::vector<std::string>& overrides,
                                       SweepSource* sweep) {
  KeyOrigins origins;
  ExperimentConfig config = LoadExperiment(path, overrides, sweep, &origins);
  try {
    algorithms::ValidateAlgorithm(config);
  } catch (const ConfigKeyError& e) {
    ThrowAtOrigin(e, origins, path);
  } catch (const UserError& e) {
    throw UserError(path + ": " + e.what());
  }
  return config;
}

ExperimentConfig LoadRunConfig(const std::string& run_dir) {
  return LoadCheckedExperiment(run_dir + "/config.yaml");
}
void CheckOutputFile(const std::string& path, const std::string& flag) {
  std::error_code error;
  if (path.empty()) throw UserError(flag + " is empty; name the file to write");
  if (std::filesystem::is_directory(path, error)) {
    throw UserError(flag + " " + path + " is a folder; name a file inside it");
  }
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (!folder.empty() && !std::filesystem::is_directory(folder, error)) {
    throw UserError(flag + " " + path + ": the folder " + folder.string() +
                    " does not exist; create it first (mkdir -p " + folder.string() + ")");
  }
}

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

}  // namespace robofleet::launcher

// The command-line helpers every subcommand shares: option parsing, `--set`
// overrides, loading an experiment the way every command does, and the
// endpoint arguments `train` hands its `learner` and `actor` children.
// Bad input throws UserError, which main() prints as one line.
#ifndef ROBOFLEET_LAUNCHER_CLI_H_
#define ROBOFLEET_LAUNCHER_CLI_H_

#include <cxxopts.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/transport.h"
#include "learner/learner.h"

namespace robofleet::launcher {

// How every command reads an experiment file: LoadExperiment (core/config.h),
// then algorithms::ValidateAlgorithm, the checks of the algorithm it names,
// which core cannot make. Throws UserError "PATH: problem; fix" (or, as
// LoadExperiment does, without the path for a bad override).
ExperimentConfig LoadCheckedExperiment(const std::string& path,
                                       const std::vector<std::string>& overrides = {},
                                       SweepSource* sweep = nullptr);

// Loads RUN_DIR/config.yaml, as children of `train` do.
ExperimentConfig LoadRunConfig(const std::string& run_dir);

// Parses a subcommand's arguments; with -h/--help prints the options and
// returns nothing (the command then exits 0). The options must declare "help".
std::optional<cxxopts::ParseResult> ParseOrHelp(cxxopts::Options& options, int argc, char** argv);

// Every `--set key=value` as written. cxxopts splits vector values at
// commas, which would cut `--set policy.hidden=[64,64]` in two, so the raw
// arguments are read instead.
std::vector<std::string> SetOverrides(const cxxopts::ParseResult& args);

// Throws UserError naming `flag` unless a file can be written at `path`: its
// folder exists, and `path` is not itself a folder. Commands check this
// before any work, so a bad path costs nothing.
void CheckOutputFile(const std::string& path, const std::string& flag);

// "256,256" -> {256, 256}; throws UserError naming --hidden.
std::vector<int> ParseWidths(const std::string& text);

// The task facts the learner and export need, from the env registry.
learner::TaskInfo TaskInfoFor(const ExperimentConfig& config);

// The options of a child process's sockets: --run-dir, --traj, --weights,
// --keys (and -h/--help).
void AddEndpointOptions(cxxopts::Options& options);

// The string value of option `name`; throws UserError "missing --NAME".
std::string Required(const cxxopts::ParseResult& args, const char* name);

// Appends `endpoints` to a child's argv as the options AddEndpointOptions
// declares (--keys only when there is a key folder).
void AppendEndpointArgs(const Endpoints& endpoints, std::vector<std::string>* args);

// The endpoints given by AddEndpointOptions' options; throws UserError when
// --traj or --weights is missing.
Endpoints EndpointsOf(const cxxopts::ParseResult& args);

}  // namespace robofleet::launcher

#endif  // ROBOFLEET_LAUNCHER_CLI_H_

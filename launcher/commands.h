// The robofleet subcommands. Each takes the arguments after its name
// (argv[0] is the subcommand) and returns the process exit status; bad input
// throws UserError, which main() prints as one line with status 2.
#ifndef ROBOFLEET_LAUNCHER_COMMANDS_H_
#define ROBOFLEET_LAUNCHER_COMMANDS_H_

#include <cxxopts.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "learner/learner.h"

namespace robofleet::launcher {

int TrainCommand(int argc, char** argv);
int ActorCommand(int argc, char** argv);
int LearnerCommand(int argc, char** argv);
int BenchCommand(int argc, char** argv);
int BenchInference(int argc, char** argv);
int BenchEnv(int argc, char** argv);
int BenchSystem(int argc, char** argv);
int ConfigCommand(int argc, char** argv);
int SweepCommand(int argc, char** argv);
int ExportCommand(int argc, char** argv);
int EvalCommand(int argc, char** argv);

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

// "256,256" -> {256, 256}; throws UserError naming --hidden.
std::vector<int> ParseWidths(const std::string& text);

// The task facts the learner and export need, from the env registry.
learner::TaskInfo TaskInfoFor(const ExperimentConfig& config);

}  // namespace robofleet::launcher

#endif  // ROBOFLEET_LAUNCHER_COMMANDS_H_

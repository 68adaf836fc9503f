// `robofleet learner` and `robofleet actor`: the processes `robofleet train`
// starts as its children (and that run under srun on a cluster).
#include <cxxopts.hpp>
#include <optional>

#include "actors/actor.h"
#include "core/signals.h"
#include "launcher/cli.h"
#include "launcher/commands.h"
#include "learner/learner.h"

namespace robofleet::launcher {
namespace {

// Started by robofleet train, a learner or an actor has SIGINT ignored and
// stops on the launcher's SIGTERM alone, whatever reaches the terminal's
// process group; started by hand, it takes Ctrl-C as usual.
StopHandling ChildStopHandling() {
  StopHandling handling;
  handling.keep_ignored_interrupt = true;
  return handling;
}

}  // namespace

int LearnerCommand(int argc, char** argv) {
  cxxopts::Options options("robofleet learner", "A learner process (started by robofleet train).");
  AddEndpointOptions(options);
  options.add_options()("quiet", "no progress lines")(
      "resume", "continue from the newest valid checkpoint of the run")(
      "rank", "this learner's rank", cxxopts::value<int>()->default_value("0"))(
      "world-size", "learner ranks in all", cxxopts::value<int>()->default_value("1"))(
      "master", "host:port of rank 0's rendezvous (world size > 1)", cxxopts::value<std::string>());
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  learner::LearnerOptions learner_options;
  learner_options.run_dir = Required(args, "run-dir");
  learner_options.endpoints = EndpointsOf(args);
  learner_options.quiet = args.count("quiet") > 0;
  learner_options.resume = args.count("resume") > 0;
  learner_options.rank = args["rank"].as<int>();
  learner_options.world_size = args["world-size"].as<int>();
  if (learner_options.world_size > 1) learner_options.master = Required(args, "master");
  if (learner_options.rank < 0 || learner_options.rank >= learner_options.world_size) {
    throw UserError("--rank must be in [0, --world-size)");
  }
  ExperimentConfig config = LoadRunConfig(learner_options.run_dir);
  learner_options.task = TaskInfoFor(config);
  InstallStopHandlers(ChildStopHandling());
  return learner::RunLearner(config, learner_options);
}

int ActorCommand(int argc, char** argv) {
  cxxopts::Options options("robofleet actor", "An actor process (started by robofleet train).");
  AddEndpointOptions(options);
  options.add_options()("index", "actor index", cxxopts::value<int>()->default_value("0"))(
      "stats", "at exit, write where the rollout loop's time went to FILE (JSON)",
      cxxopts::value<std::string>());
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  actors::ActorOptions actor_options;
  actor_options.index = args["index"].as<int>();
  actor_options.endpoints = EndpointsOf(args);
  if (args.count("stats")) actor_options.stats_path = args["stats"].as<std::string>();
  actor_options.checkpoint_dir = Required(args, "run-dir") + "/checkpoints";
  ExperimentConfig config = LoadRunConfig(Required(args, "run-dir"));
  InstallStopHandlers(ChildStopHandling());
  return actors::RunActor(config, actor_options);
}

}  // namespace robofleet::launcher

// robofleet: one binary, one subcommand per process role.
#include <cstdio>
#include <cstring>
#include <cxxopts.hpp>
#include <exception>
#include <string>

#include "core/config.h"
#include "launcher/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: robofleet <command> [options]\n"
    "\n"
    "commands:\n"
    "  train EXP.yaml   train from an experiment file (starts learner and actors)\n"
    "  config EXP.yaml  print the resolved config (--reference: every key)\n"
    "  sweep EXP.yaml   run the file's sweep block (grid, random, seeds) here or on SLURM;\n"
    "                   --status DIR and --summary DIR follow and rank a sweep\n"
    "  export RUN_DIR   TorchScript policy from a run's checkpoint\n"
    "  eval POLICY.pt   run an exported policy in MuJoCo and report its return\n"
    "  learner          a learner process (started by train)\n"
    "  actor            an actor process (started by train)\n"
    "  bench learner    PPO-update throughput on synthetic data (--python: beside PyTorch)\n"
    "  bench system     end-to-end SPS of actors and a learner beside raw mj_step\n"
    "\n"
    "`robofleet <command> --help` describes each command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    if (command == "train") return robofleet::launcher::TrainCommand(argc - 1, argv + 1);
    if (command == "learner") return robofleet::launcher::LearnerCommand(argc - 1, argv + 1);
    if (command == "actor") return robofleet::launcher::ActorCommand(argc - 1, argv + 1);
    if (command == "bench") return robofleet::launcher::BenchCommand(argc - 1, argv + 1);
    if (command == "config") return robofleet::launcher::ConfigCommand(argc - 1, argv + 1);
    if (command == "sweep") return robofleet::launcher::SweepCommand(argc - 1, argv + 1);
    if (command == "export") return robofleet::launcher::ExportCommand(argc - 1, argv + 1);
    if (command == "eval") return robofleet::launcher::EvalCommand(argc - 1, argv + 1);
    throw robofleet::UserError("unknown command '" + command +
                               "'; commands: train, config, sweep, export, eval, learner, actor, "
                               "bench (see robofleet --help)");
  } catch (const robofleet::UserError& e) {
    std::fprintf(stderr, "robofleet %s: error: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "robofleet %s: error: %s; see robofleet %s --help\n", command.c_str(),
                 e.what(), command.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "robofleet %s: fatal: %s\n", command.c_str(), e.what());
    return 1;
  }
}

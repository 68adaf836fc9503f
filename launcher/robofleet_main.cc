// `robofleet`'s dispatch: the usage text, one function per subcommand, and
// the one place bad input becomes a line and exit 2.
#include <cstdio>
#include <cstring>
#include <cxxopts.hpp>
#include <exception>
#include <string>

#include "core/config.h"
#include "launcher/commands.h"

namespace robofleet::launcher {
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

// `text` with every control byte shown as \xNN: an error quotes what the user
// typed, and a newline or escape sequence in it must not break the one line.
std::string Printable(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", static_cast<unsigned char>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int RobofleetMain(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = Printable(argv[1]);
  try {
    const std::string name = argv[1];
    if (name == "train") return TrainCommand(argc - 1, argv + 1);
    if (name == "learner") return LearnerCommand(argc - 1, argv + 1);
    if (name == "actor") return ActorCommand(argc - 1, argv + 1);
    if (name == "bench") return BenchCommand(argc - 1, argv + 1);
    if (name == "config") return ConfigCommand(argc - 1, argv + 1);
    if (name == "sweep") return SweepCommand(argc - 1, argv + 1);
    if (name == "export") return ExportCommand(argc - 1, argv + 1);
    if (name == "eval") return EvalCommand(argc - 1, argv + 1);
    throw UserError("unknown command '" + command +
                    "'; commands: train, config, sweep, export, eval, learner, actor, "
                    "bench (see robofleet --help)");
  } catch (const UserError& e) {
    std::fprintf(stderr, "robofleet %s: error: %s\n", command.c_str(), Printable(e.what()).c_str());
    return 2;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "robofleet %s: error: %s; see robofleet %s --help\n", command.c_str(),
                 Printable(e.what()).c_str(), command.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "robofleet %s: fatal: %s\n", command.c_str(), Printable(e.what()).c_str());
    return 1;
  }
}

}  // namespace robofleet::launcher

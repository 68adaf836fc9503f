// `robofleet config`: print the resolved config of an experiment, or the
// reference of every key.
#include <cstdio>
#include <cxxopts.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "launcher/cli.h"
#include "launcher/commands.h"

namespace robofleet::launcher {

int ConfigCommand(int argc, char** argv) {
  cxxopts::Options options("robofleet config", "Print the resolved config of an experiment.");
  options.positional_help("EXP.yaml");
  options.add_options()("experiment", "experiment file", cxxopts::value<std::string>())(
      "set", "override a config key (repeatable)", cxxopts::value<std::vector<std::string>>())(
      "reference", "print every key with its type, default and meaning (Markdown)")(
      "h,help", "show this help");
  options.parse_positional({"experiment"});
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (args.count("reference")) {
    std::printf("%s", ConfigReferenceMarkdown().c_str());
    return 0;
  }
  if (!args.count("experiment"))
    throw UserError("no experiment file; usage: robofleet config EXP.yaml");
  const std::vector<std::string> overrides = SetOverrides(args);
  ExperimentConfig config = LoadCheckedExperiment(args["experiment"].as<std::string>(), overrides);
  std::printf("%s", ToYaml(config).c_str());
  return 0;
}
}  // namespace robofleet::launcher

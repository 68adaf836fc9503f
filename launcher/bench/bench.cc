// `robofleet bench`: throughput figures on this machine; this file picks the
// bench, each lives in its own file of launcher/bench/.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "core/config.h"
#include "launcher/commands.h"

namespace robofleet::launcher {

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

#include "envs/registry.h"

#include <algorithm>
#include <iterator>

#include "envs/ant.h"
#include "envs/arm_push.h"
#include "envs/arm_reach.h"
#include "envs/cartpole_swingup.h"
#include "envs/halfcheetah.h"
#include "envs/hopper.h"
#include "envs/humanoid.h"
#include "envs/mjcf_env.h"
#include "envs/reacher.h"
#include "envs/walker2d.h"

namespace robofleet::envs {
namespace {

using Factory = std::unique_ptr<Env> (*)(const EnvConfig&);

template <class Task>
std::unique_ptr<Env> Make(const EnvConfig& config) {
  return std::make_unique<Task>(config);
}

struct Entry {
  const char* name;
  Factory make;
};

// one line per task, in alphabetical order
constexpr Entry kTasks[] = {
    {"ant", &Make<Ant>},
    {"arm_push", &Make<ArmPush>},
    {"arm_reach", &Make<ArmReach>},
    {"cartpole_swingup", &Make<CartpoleSwingup>},
    {"halfcheetah", &Make<HalfCheetah>},
    {"hopper", &Make<Hopper>},
    {"humanoid", &Make<Humanoid>},
    {"mjcf", &Make<MjcfEnv>},
    {"reacher", &Make<Reacher>},
    {"walker2d", &Make<Walker2d>},
};

}  // namespace

std::vector<std::string> EnvNames() {
  std::vector<std::string> names;
  for (const Entry& entry : kTasks) names.emplace_back(entry.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::unique_ptr<Env> MakeEnv(const EnvConfig& config) {
  auto it = std::find_if(std::begin(kTasks), std::end(kTasks),
                         [&](const Entry& entry) { return config.id == entry.name; });
  if (it != std::end(kTasks)) return it->make(config);

  // name the valid choices, and the likely intended one
  const std::vector<std::string> names = EnvNames();
  std::string message = "env.id: unknown env '" + config.id + "'; available: ";
  for (size_t i = 0; i < names.size(); ++i) message += (i > 0 ? ", " : "") + names[i];
  const std::string closest = ClosestName(config.id, names);
  if (!closest.empty()) message += " (did you mean '" + closest + "'?)";
  throw UserError(message);
}

EnvSpec GetEnvSpec(const EnvConfig& config) { return MakeEnv(config)->spec(); }

}  // namespace robofleet::envs

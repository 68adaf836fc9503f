// TorchScript export of the trained policy, built in C++ (no Python).
//
// The exported module `RoboFleetPolicy` holds the actor MLP's weights, the
// observation normaliser and the action bounds:
//   forward(obs: f32[B, obs_dim]) -> f32[B, act_dim]
// the deterministic action clamp(mean(normalise(obs)), -1, 1). A robot
// controller needs only LibTorch (C++) or torch (Python) to run it.
// The extra file `metadata.json` holds obs_dim, act_dim, the observation and
// action names, env id, env steps trained, and the resolved config.
#ifndef ROBOFLEET_LEARNER_EXPORT_H_
#define ROBOFLEET_LEARNER_EXPORT_H_

#include <torch/script.h>

#include <string>
#include <vector>

#include "core/normalizer.h"
#include "core/policy.h"

namespace robofleet::learner {

struct PolicyMetadata {
  std::string env_id;
  std::vector<std::string> obs_names;
  std::vector<std::string> act_names;
  int64_t env_steps = 0;
  std::string config_yaml;  // the resolved experiment config
};

// Builds the TorchScript module for `policy` and `normalizer`.
torch::jit::Module BuildPolicyModule(ActorCritic& policy, const RunningNormalizer& normalizer);

// The metadata.json text.
std::string MetadataJson(const ActorCritic& policy, const PolicyMetadata& metadata);

// Builds the module and saves it with metadata.json to `path` (atomically).
void ExportPolicy(ActorCritic& policy, const RunningNormalizer& normalizer,
                  const PolicyMetadata& metadata, const std::string& path);

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_EXPORT_H_

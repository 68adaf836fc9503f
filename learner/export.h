// TorchScript export of the trained policy, built in C++ (no Python).
//
// The exported module `RoboFleetPolicy` holds the actor and critic (and their
// shared trunk, if any), the observation normaliser, the return statistics of
// value normalisation and the actuators' ranges. obs is float32
// [B, obs_dim], raw (the module normalises it). A memoryless policy:
//   forward(obs) -> [B, act_dim]            deterministic action: tanh(mean) when
//                                           the policy squashes, else clamp(mean, -1, 1)
//   stochastic_action(obs) -> [B, act_dim]  the same of mean + std * N(0, 1)
//   actuator_action(obs) -> [B, act_dim]    forward() as actuator controls, as the env
//                                           applies it (PolicyMetadata's mapping)
// A policy with state (an observation history, env.obs_history) takes it
// and gives the next one; state is float32 [B, state_dim]:
//   initial_state(B) -> [B, state_dim]      the state at an episode's start
//   forward(obs, state) -> (action, state)
//   stochastic_action(obs, state), actuator_action(obs, state): likewise
// Both kinds, for a controller loop that keeps no state of its own:
//   reset()                                 an episode starts
//   act(obs) -> [B, act_dim]                forward() from the state the module keeps
//                                           (initial_state after reset() or a new B)
//   to_actuators(action) -> [B, act_dim]    an action as actuator controls
// On what the network reads, x (the observation, or the history stack that
// the state holds, oldest step first; with a privileged critic followed by
// the privileged entries):
//   value(x) -> [B]                         the critic's value estimate, in return units
//   normalize(x)                            the normalised input
//   action_mean(x), action_log_std(x)       the Gaussian before squashing, [B, act_dim]
// A robot controller needs only LibTorch (C++) or torch (Python) to run it.
// The extra file `metadata.json` describes it (see MetadataJson).
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
  std::vector<std::string> obs_names;  // observation layout, one name per entry
  std::vector<std::string> act_names;  // actuator names, one per action entry
  // the actuator mapping (EnvSpec): ctrl = clamp(act_offset + act_scale * a,
  // act_low, act_high); without offset and scale, a in [-1, 1] spans [low, high]
  std::vector<double> act_low;
  std::vector<double> act_high;
  int64_t env_steps = 0;             // env steps trained on
  std::string config_yaml;           // the resolved experiment config
  std::string controller_json = {};  // EnvSpec.controller_json; "" when the task has none
  std::vector<double> act_offset = {};
  std::vector<double> act_scale = {};
  // EnvSpec.obs_history: obs_names (and the actor's input) hold this many
  // steps' observations, oldest first; the module keeps them as its state
  int obs_history = 1;
};

// Builds the TorchScript module for `policy` and `normalizer`; actuator_action
// follows the metadata's actuator mapping (act_low and act_high each act_dim
// long, or empty for [-1, 1]; act_offset and act_scale likewise, or empty for
// the range's middle and half-width).
torch::jit::Module BuildPolicyModule(ActorCritic& policy, const RunningNormalizer& normalizer,
                                     const PolicyMetadata& metadata = {});

// The metadata.json text: format, robofleet_version, obs_dim, act_dim,
// obs_names (what forward() takes each step), obs_history, state_dim (0 for a
// memoryless policy), privileged_dim, privileged_names (what
// value() takes after them), act_names, act_low, act_high, env_id, env_config (the env
// section as YAML), env_steps, controller (when the task describes how a
// robot's controller builds the observation: EnvSpec.controller_json),
// config (the whole resolved config as YAML).
std::string MetadataJson(const ActorCritic& policy, const PolicyMetadata& metadata);

// Builds the module and saves it with metadata.json to `path`, atomically:
// the new file replaces `path` only once it has loaded and run
// (CheckPolicyFile), so a failed export leaves the old policy in place.
void ExportPolicy(ActorCritic& policy, const RunningNormalizer& normalizer,
                  const PolicyMetadata& metadata, const std::string& path);

// Loads the TorchScript file at `path` and runs forward() once on zeros of
// [2, obs_dim]; throws std::runtime_error unless it gives finite [2, act_dim].
void CheckPolicyFile(const std::string& path, int obs_dim, int act_dim);

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_EXPORT_H_

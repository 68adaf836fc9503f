// The algorithm registry: algorithm.name -> factory and config checks, as one
// explicit table.
//
// Adding an algorithm is its .h/.cc (the class and its config check), one row
// in registry.cc and its test; tests/algorithms/registry_test.cc runs every
// row. There are no self-registering globals, so every linked binary knows
// the same algorithms and static initialisation order never matters. Nothing
// outside algorithms/ names an algorithm (but for the default of
// algorithm.name in core/config.h, which the registry test checks): the
// learner, the launcher and the benches ask here.
//
// Thread-safety: all functions may be called from any thread.
#ifndef ROBOFLEET_ALGORITHMS_REGISTRY_H_
#define ROBOFLEET_ALGORITHMS_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "core/config.h"
#include "core/policy.h"

namespace robofleet::algorithms {

// One row of the table: a registered algorithm.
struct AlgorithmEntry {
  using MakeOnPolicy = std::unique_ptr<OnPolicyAlgorithm> (*)(const AlgorithmConfig& config,
                                                              ActorCritic policy);
  using MakeOffPolicy = std::unique_ptr<OffPolicyAlgorithm> (*)(const AlgorithmConfig& config,
                                                                ActorCritic policy);
  using Validate = void (*)(const ExperimentConfig& config);

  const char* name;  // what algorithm.name selects it by
  // The factory; exactly one of the two is set, and it says which learner
  // loop trains the algorithm (learner/learner.cc or off_policy_learner.cc).
  MakeOnPolicy make_on_policy;
  MakeOffPolicy make_off_policy;
  // What the algorithm asks of a config that passed ExperimentConfig::
  // Validate(), beside the algorithm's own code; throws robofleet::UserError
  // (RejectConfigKey) naming the key and the fix. Null when it asks nothing.
  Validate validate;

  bool off_policy() const { return make_off_policy != nullptr; }
};

// Names of all registered algorithms, in table order.
std::vector<std::string> AlgorithmNames();

// The row of `name`, or nullptr when no algorithm has that name.
const AlgorithmEntry* FindAlgorithm(const std::string& name);

// The row of `name`. Throws robofleet::UserError for an unknown name, naming
// the key and listing the valid names: "config key 'algorithm.name' is 'X';
// valid algorithms: a, b".
const AlgorithmEntry& GetAlgorithm(const std::string& name);

// Whether algorithm `name` is trained from a replay buffer. Throws like
// GetAlgorithm.
bool IsOffPolicy(const std::string& name);

// The checks of a config that core's ExperimentConfig::Validate() cannot make,
// since core knows no algorithm: algorithm.name is registered (GetAlgorithm's
// error), its row's `validate` accepts the config, and an off-policy
// algorithm asks nothing of the learner that its replay loop lacks
// (train.deterministic, learner.receive_during_update, a GPU). Every command
// that loads a config for use runs it after Validate(), as the learner does.
// Throws robofleet::UserError, one line naming the key and the fix.
void ValidateAlgorithm(const ExperimentConfig& config);

// A new algorithm config.name for `policy`, owned by the caller. Throws
// robofleet::UserError for an unknown name, or one of the other kind.
std::unique_ptr<OnPolicyAlgorithm> CreateOnPolicyAlgorithm(const AlgorithmConfig& config,
                                                           ActorCritic policy);
std::unique_ptr<OffPolicyAlgorithm> CreateOffPolicyAlgorithm(const AlgorithmConfig& config,
                                                             ActorCritic policy);

}  // namespace robofleet::algorithms

#endif  // ROBOFLEET_ALGORITHMS_REGISTRY_H_

#include "algorithms/algorithm.h"
#include "algorithms/appo.h"
#include "algorithms/ppo.h"
#include "algorithms/sac.h"
#include "core/check.h"

namespace robofleet::algorithms {

void Algorithm::SetLearningRate(double lr) {
  for (auto& group : optimizer().param_groups()) group.options().set_lr(lr);
}

UpdateStats Algorithm::Update(const RolloutBatch&, const GradientHook&) {
  ROBOFLEET_CHECK(false && "Update is for on-policy algorithms; off_policy() ones use Step");
  return {};
}

Targets Algorithm::ComputeTargets(const Trajectory&) {
  ROBOFLEET_CHECK(false && "ComputeTargets is for on-policy algorithms");
  return {};
}

UpdateStats Algorithm::Step(const TransitionBatch&, const GradientHook&) {
  ROBOFLEET_CHECK(false && "Step is for off_policy() algorithms; on-policy ones use Update");
  return {};
}

double Algorithm::LearningRate() { return optimizer().param_groups()[0].options().get_lr(); }

double ScheduledLearningRate(const AlgorithmConfig& config, double progress, double current) {
  if (config.lr_schedule == "linear") {
    return config.learning_rate * std::max(0.0, 1.0 - progress);
  }
  if (config.lr_schedule == "adaptive") return current;
  return config.learning_rate;
}

std::vector<std::string> AlgorithmNames() { return {"ppo", "appo", "sac"}; }

std::unique_ptr<Algorithm> CreateAlgorithm(const AlgorithmConfig& config, ActorCritic policy) {
  // one line per algorithm
  if (config.name == "ppo") return std::make_unique<Ppo>(config, policy);
  if (config.name == "appo") return std::make_unique<Appo>(config, policy);
  if (config.name == "sac") return std::make_unique<Sac>(config, policy);

  std::string names;
  for (const auto& n : AlgorithmNames()) names += (names.empty() ? "" : ", ") + n;
  throw UserError("unknown algorithm '" + config.name + "'; available: " + names);
}

}  // namespace robofleet::algorithms

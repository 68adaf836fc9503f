// Proximal Policy Optimisation (clipped surrogate), Schulman et al. 2017.
#ifndef ROBOFLEET_ALGORITHMS_PPO_H_
#define ROBOFLEET_ALGORITHMS_PPO_H_

#include "algorithms/algorithm.h"
#include "algorithms/flat_adam.h"

namespace robofleet::algorithms {

// The PPO loss on one minibatch, each term a scalar tensor.
struct PpoLossTerms {
  torch::Tensor total;   // policy + value_coef * value - entropy_coef * entropy
  torch::Tensor policy;  // -E[min(r A, clip(r, 1 - eps, 1 + eps) A)]
  torch::Tensor value;   // E[(V - R)^2], or with value_clip
                         // E[max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)]
  torch::Tensor entropy;
  torch::Tensor approx_kl;  // no gradient
  torch::Tensor clip_frac;  // no gradient
};

// Pure function of its inputs; advantages are used as given (normalise first
// when configured). Shapes: [N] for every tensor but `entropy` (a scalar).
// `values`, `returns` and `old_values` (the rollout-time values, required
// when config.value_clip > 0) share one unit: the critic's.
PpoLossTerms PpoLoss(const torch::Tensor& log_probs, const torch::Tensor& old_log_probs,
                     const torch::Tensor& advantages, const torch::Tensor& values,
                     const torch::Tensor& returns, const torch::Tensor& entropy,
                     const AlgorithmConfig& config,
                     const torch::Tensor& old_values = torch::Tensor());

// The update: config.epochs passes over the batch in config.minibatches
// shuffled minibatches. With policy.normalize_value it first folds the
// batch's returns into the policy's return statistics, then trains the
// critic on normalised returns. With config.target_kl it stops before the
// step of the first minibatch whose approximate KL exceeds the target.
class Ppo : public OnPolicyAlgorithm {
 public:
  Ppo(const AlgorithmConfig& config, ActorCritic policy);

  UpdateStats Update(const RolloutBatch& batch, const GradientHook& hook) override;
  // GAE(config.gae_lambda)
  Targets ComputeTargets(const Trajectory& trajectory) override;
  torch::optim::Optimizer& optimizer() override { return optimizer_; }
  std::vector<torch::Tensor> parameters() override { return policy_->parameters(); }

 protected:
  const AlgorithmConfig& config() const { return config_; }
  ActorCritic& policy() { return policy_; }

 private:
  void AdaptLearningRate(double kl);

  AlgorithmConfig config_;
  ActorCritic policy_;
  FlatAdam optimizer_;
};

}  // namespace robofleet::algorithms

#endif  // ROBOFLEET_ALGORITHMS_PPO_H_

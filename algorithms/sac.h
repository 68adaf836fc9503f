// Soft Actor-Critic (Haarnoja et al. 2018, with the learned temperature of
// the follow-up paper): off-policy, a squashed Gaussian actor, twin Q critics
// with Polyak-averaged targets.
//
// The actor is the ActorCritic policy (its critic head is unused); the twin
// critics, their targets and the temperature log alpha belong to Sac. One
// Step is one gradient step of the critics, then of the actor and the
// temperature, then the Polyak update of the targets.
#ifndef ROBOFLEET_ALGORITHMS_SAC_H_
#define ROBOFLEET_ALGORITHMS_SAC_H_

#include "algorithms/algorithm.h"
#include "algorithms/flat_adam.h"

namespace robofleet::algorithms {

// The soft Bellman target of both critics, no gradient:
//   y = r + gamma (1 - terminated) (min(Q1'(s', a'), Q2'(s', a')) - alpha log pi(a'|s'))
// with a' drawn from the current policy at s' and Q' the target critics.
// Every tensor [N]; alpha a number.
torch::Tensor SacCriticTarget(const torch::Tensor& rewards, const torch::Tensor& terminated,
                              const torch::Tensor& next_q1, const torch::Tensor& next_q2,
                              const torch::Tensor& next_log_prob, double alpha, double gamma);

// E[(Q1(s, a) - y)^2] + E[(Q2(s, a) - y)^2]: a scalar. [N] each.
torch::Tensor SacCriticLoss(const torch::Tensor& q1, const torch::Tensor& q2,
                            const torch::Tensor& target);

// E[alpha log pi(a|s) - min(Q1(s, a), Q2(s, a))] with a = tanh(u), u drawn
// with the reparameterisation trick: a scalar. [N] each.
torch::Tensor SacActorLoss(const torch::Tensor& log_prob, const torch::Tensor& q1,
                           const torch::Tensor& q2, double alpha);

// -E[log_alpha (log pi(a|s) + target_entropy)], the log-probabilities taken
// as constants: its gradient raises alpha while the entropy -E[log pi] is
// below the target. `log_alpha` a scalar tensor; `log_prob` [N].
torch::Tensor SacAlphaLoss(const torch::Tensor& log_alpha, const torch::Tensor& log_prob,
                           double target_entropy);

// target = (1 - tau) target + tau source, parameter by parameter; the two
// modules must have the same structure.
void PolyakUpdate(torch::nn::Module& target, torch::nn::Module& source, double tau);

// Twin Q networks Q(s, a) and their target copies: MLPs on [obs, action].
class TwinCriticImpl : public torch::nn::Module {
 public:
  TwinCriticImpl(int obs_dim, int act_dim, const std::vector<int>& hidden,
                 const std::string& activation);

  // Q1 and Q2 of the online (or, with `target`, the target) networks: [N] each.
  std::pair<torch::Tensor, torch::Tensor> Forward(const torch::Tensor& obs,
                                                  const torch::Tensor& actions,
                                                  bool target = false);

  // The online critics' parameters (what is trained; the targets follow them).
  std::vector<torch::Tensor> online_parameters();
  torch::nn::Sequential& q1() { return q1_; }
  torch::nn::Sequential& q2() { return q2_; }
  torch::nn::Sequential& q1_target() { return q1_target_; }
  torch::nn::Sequential& q2_target() { return q2_target_; }

 private:
  torch::nn::Sequential q1_{nullptr}, q2_{nullptr}, q1_target_{nullptr}, q2_target_{nullptr};
};
TORCH_MODULE(TwinCritic);

class Sac : public OffPolicyAlgorithm {
 public:
  // `policy` must squash (policy.tanh_squash); the critics take its hidden
  // widths and activation.
  Sac(const AlgorithmConfig& config, ActorCritic policy);

  UpdateStats Step(const TransitionBatch& batch, const GradientHook& hook) override;
  std::vector<torch::Tensor> parameters() override;
  void SaveState(torch::serialize::OutputArchive& archive) override;
  void LoadState(torch::serialize::InputArchive& archive) override;
  torch::optim::Optimizer& optimizer() override { return actor_optimizer_; }

  double alpha() const { return log_alpha_.exp().item<double>(); }
  double target_entropy() const { return target_entropy_; }
  TwinCritic& critic() { return critic_; }
  torch::Tensor& log_alpha() { return log_alpha_; }

 private:
  // A flat gradient step (clipped at config.max_grad_norm when set); returns
  // the norm before clipping, or NaN when the gradient was not finite (and
  // no step was taken).
  double ApplyStep(FlatAdam& optimizer);

  AlgorithmConfig config_;
  ActorCritic policy_;
  TwinCritic critic_;
  torch::Tensor log_alpha_;  // f32 [] learned (or fixed) log temperature
  double target_entropy_;
  std::vector<torch::Tensor> actor_parameters_;
  FlatAdam actor_optimizer_;
  FlatAdam critic_optimizer_;
  torch::optim::Adam alpha_optimizer_;
};

// What SAC asks of an experiment beyond ExperimentConfig::Validate(), the
// check of its registry row: a squashing policy (policy.tanh_squash) and a
// constant learning rate. Throws robofleet::UserError naming the key and the
// fix.
void ValidateSacConfig(const ExperimentConfig& config);

}  // namespace robofleet::algorithms

#endif  // ROBOFLEET_ALGORITHMS_SAC_H_

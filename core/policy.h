// The policy: a Gaussian actor and a value critic, trained with C++ torch::nn
// modules and exported to TorchScript by learner/export.
//
// Inputs are normalised observations, float32 [B, obs_dim]. With an
// asymmetric critic (privileged_dim > 0, EnvConfig.privileged_obs) the last
// privileged_dim entries are the critic's alone: the actor reads the first
// policy_obs_dim() and accepts observations of either width. PolicyConfig
// picks the variant:
// - separate MLPs for actor and critic, or one shared trunk (the hidden
//   layers, each followed by the activation) with an actor head and a critic
//   head (one Linear layer each);
// - a state-independent log standard deviation (one parameter per action
//   dimension) or a state-dependent one (the actor outputs 2 * act_dim
//   columns: the mean, then the log std); either is clamped to
//   config.log_std_range;
// - Gaussian actions u ~ N(mean, std^2) sent to the env as they are (the env
//   clips them to [-1, 1]), or squashed: the env gets tanh(u) and the
//   log-probability carries the change of variables;
// - critic outputs in return units, or normalised by running statistics of
//   the returns (config.normalize_value): Value() de-normalises them.
//
// Thread-compatible, as torch modules are.
#ifndef ROBOFLEET_CORE_POLICY_H_
#define ROBOFLEET_CORE_POLICY_H_

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/config.h"

namespace robofleet {

// An MLP: Linear layers with `activation` between them, none after the last.
torch::nn::Sequential MakeMlp(int in, const std::vector<int>& hidden, int out,
                              const std::string& activation);

// The Gaussian over pre-squash actions u at a batch of observations.
struct ActionDistribution {
  torch::Tensor mean;     // f32 [B, A]
  torch::Tensor log_std;  // f32 [B, A], clamped to config.log_std_range
};

// One draw per observation.
struct ActionSample {
  torch::Tensor raw;       // f32 [B, A] the Gaussian sample u: what fragments carry
  torch::Tensor action;    // f32 [B, A] what the env gets: tanh(u) when squashing, else u
  torch::Tensor log_prob;  // f32 [B] log-probability of `raw` (see LogProb)
};

class ActorCriticImpl : public torch::nn::Module {
 public:
  // Throws std::invalid_argument when privileged_dim is outside [0, obs_dim)
  // or comes with config.shared_trunk.
  ActorCriticImpl(int obs_dim, int act_dim, const PolicyConfig& config, int privileged_dim = 0);

  // The action distribution and the critic's raw output (normalised units
  // when config.normalize_value) in one pass over a shared trunk.
  struct Output {
    ActionDistribution dist;
    torch::Tensor value;  // f32 [B]
  };
  Output Forward(const torch::Tensor& obs);

  ActionDistribution Distribution(const torch::Tensor& obs);
  // The Gaussian mean [B, A] (before tanh when squashing).
  torch::Tensor Mean(const torch::Tensor& obs) { return Distribution(obs).mean; }
  // What the exported forward() returns: tanh(mean) when squashing, else
  // clamp(mean, -1, 1). [B, A]
  torch::Tensor DeterministicAction(const torch::Tensor& obs);
  // Draws u ~ N(mean, std^2) from LibTorch's default generator.
  ActionSample Sample(const torch::Tensor& obs);

  // The critic's value in return units (de-normalised): [B].
  torch::Tensor Value(const torch::Tensor& obs);

  // Log-probability of pre-squash actions `raw` [B, A] under `dist`, summed
  // over A: [B]. With tanh squashing this is the density of tanh(u): the
  // Gaussian's minus sum log(1 - tanh(u)^2), computed as
  // 2 (log 2 - u - softplus(-2u)) so that it stays finite for any u.
  torch::Tensor LogProb(const ActionDistribution& dist, const torch::Tensor& raw) const;
  // Entropy of the Gaussian over u, summed over A and averaged over the
  // batch: a scalar. (With tanh squashing the squashed entropy has no closed
  // form; this is the usual stand-in.)
  torch::Tensor Entropy(const ActionDistribution& dist) const;

  // Return statistics of value normalisation (identity when disabled).
  // Folds the finite entries of `returns` [N] (return units) into the running
  // mean and variance (Chan et al.'s parallel update, in float64).
  void UpdateValueStatistics(const torch::Tensor& returns);
  // With several learner ranks: `reducer` replaces a batch's moments
  // [count, sum, sum of squares] in place with their sums over the ranks
  // before UpdateValueStatistics folds them in, so every rank keeps the
  // statistics of the union. Every rank must then call UpdateValueStatistics
  // equally often. Empty (the default): this rank's batch alone.
  using MomentsReducer = std::function<void(double* moments)>;
  void set_value_moments_reducer(MomentsReducer reducer) { value_reducer_ = std::move(reducer); }
  // (x - mean) / std and its inverse, float32, elementwise.
  torch::Tensor NormalizeValue(const torch::Tensor& x) const;
  torch::Tensor DenormalizeValue(const torch::Tensor& x) const;
  // The float32 mean and std the two functions above apply: [1] each.
  torch::Tensor value_mean_f32() const;
  torch::Tensor value_std_f32() const;
  double value_count() const;

  int obs_dim() const { return obs_dim_; }
  int privileged_dim() const { return privileged_dim_; }
  int policy_obs_dim() const { return obs_dim_ - privileged_dim_; }
  int act_dim() const { return act_dim_; }
  const PolicyConfig& config() const { return config_; }
  // Empty unless config.shared_trunk: the shared hidden layers, each followed
  // by the activation.
  torch::nn::Sequential& trunk() { return trunk_; }
  // The actor: an MLP on the observation, or one Linear on the trunk's output;
  // act_dim outputs, 2 * act_dim with a state-dependent std.
  torch::nn::Sequential& actor() { return actor_; }
  torch::nn::Sequential& critic() { return critic_; }
  // The state-independent log std [A]; undefined with a state-dependent std.
  torch::Tensor& log_std() { return log_std_; }

  static constexpr double kValueEpsilon = 1e-8;

 private:
  torch::Tensor Features(const torch::Tensor& obs);
  // The entries of the features the actor reads.
  torch::Tensor ActorInput(const torch::Tensor& features) const;
  ActionDistribution Head(const torch::Tensor& features);

  int obs_dim_;
  int act_dim_;
  int privileged_dim_;
  PolicyConfig config_;
  torch::nn::Sequential trunk_{nullptr};
  torch::nn::Sequential actor_{nullptr};
  torch::nn::Sequential critic_{nullptr};
  torch::Tensor log_std_;
  // value normalisation: float64 [1] buffers, saved with the module
  torch::Tensor value_mean_, value_var_, value_count_;
  MomentsReducer value_reducer_;
};
TORCH_MODULE(ActorCritic);

// Every parameter, flattened in module order: what the weights message carries.
int64_t NumParameters(torch::nn::Module& module);
torch::Tensor FlattenParameters(torch::nn::Module& module);
// Copies `flat` [NumParameters] into the module's parameters.
void LoadFlatParameters(torch::nn::Module& module, const float* flat, int64_t count);

// Seeds LibTorch's CPU generator (used for initialisation and sampling).
void SeedTorch(uint64_t seed);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_POLICY_H_

// The policy: a Gaussian actor and a value critic as separate MLPs, trained
// with C++ torch::nn modules and exported to TorchScript by learner/export.
//
// Inputs are normalised observations, float32 [B, obs_dim]. The actor gives
// the mean action [B, act_dim] (unbounded; the env clips to [-1, 1]); the
// policy's standard deviation is exp(log_std), one state-independent
// parameter per action dimension. The critic gives values [B].
//
// Thread-compatible, as torch modules are.
#ifndef ROBOFLEET_CORE_POLICY_H_
#define ROBOFLEET_CORE_POLICY_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/config.h"

namespace robofleet {

// An MLP: Linear layers with `activation` between them, none after the last.
torch::nn::Sequential MakeMlp(int in, const std::vector<int>& hidden, int out,
                              const std::string& activation);

class ActorCriticImpl : public torch::nn::Module {
 public:
  ActorCriticImpl(int obs_dim, int act_dim, const PolicyConfig& config);

  torch::Tensor Mean(const torch::Tensor& obs) { return actor_->forward(obs); }
  torch::Tensor Value(const torch::Tensor& obs) { return critic_->forward(obs).squeeze(-1); }

  // Log-probability of `actions` [B, A] under N(mean, exp(log_std)^2), summed over A: [B].
  torch::Tensor LogProb(const torch::Tensor& mean, const torch::Tensor& actions) const;
  // Entropy of the Gaussian, summed over A (a scalar: the std is state-independent).
  torch::Tensor Entropy() const;

  int obs_dim() const { return obs_dim_; }
  int act_dim() const { return act_dim_; }
  const PolicyConfig& config() const { return config_; }
  torch::nn::Sequential& actor() { return actor_; }
  torch::nn::Sequential& critic() { return critic_; }
  torch::Tensor& log_std() { return log_std_; }

 private:
  int obs_dim_;
  int act_dim_;
  PolicyConfig config_;
  torch::nn::Sequential actor_{nullptr};
  torch::nn::Sequential critic_{nullptr};
  torch::Tensor log_std_;
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

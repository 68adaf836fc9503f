#include "core/policy.h"

#include <cmath>

#include "core/check.h"

namespace robofleet {

torch::nn::Sequential MakeMlp(int in, const std::vector<int>& hidden, int out,
                              const std::string& activation) {
  torch::nn::Sequential mlp;
  int width = in;
  for (int h : hidden) {
    mlp->push_back(torch::nn::Linear(width, h));
    if (activation == "elu") mlp->push_back(torch::nn::ELU());
    else if (activation == "tanh") mlp->push_back(torch::nn::Tanh());
    else if (activation == "relu") mlp->push_back(torch::nn::ReLU());
    else ROBOFLEET_CHECK(false && "activation validated by PolicyConfig");
    width = h;
  }
  mlp->push_back(torch::nn::Linear(width, out));
  return mlp;
}

ActorCriticImpl::ActorCriticImpl(int obs_dim, int act_dim, const PolicyConfig& config)
    : obs_dim_(obs_dim), act_dim_(act_dim), config_(config) {
  actor_ = register_module("actor", MakeMlp(obs_dim, config.hidden, act_dim, config.activation));
  critic_ = register_module("critic", MakeMlp(obs_dim, config.hidden, 1, config.activation));
  log_std_ = register_parameter("log_std", torch::full({act_dim}, config.init_log_std));
  // small last actor layer: initial actions near zero, so early exploration is the noise
  torch::NoGradGuard no_grad;
  auto* last = actor_->ptr(actor_->size() - 1)->as<torch::nn::Linear>();
  last->weight.mul_(0.01);
  last->bias.zero_();
}

torch::Tensor ActorCriticImpl::LogProb(const torch::Tensor& mean,
                                       const torch::Tensor& actions) const {
  const double kLogSqrt2Pi = 0.5 * std::log(2.0 * M_PI);
  torch::Tensor z = (actions - mean) * torch::exp(-log_std_);
  return (-0.5 * z.pow(2) - log_std_ - kLogSqrt2Pi).sum(-1);
}

torch::Tensor ActorCriticImpl::Entropy() const {
  const double kHalfLog2PiE = 0.5 * std::log(2.0 * M_PI * M_E);
  return (log_std_ + kHalfLog2PiE).sum();
}

int64_t NumParameters(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

torch::Tensor FlattenParameters(torch::nn::Module& module) {
  std::vector<torch::Tensor> flat;
  for (const auto& p : module.parameters()) flat.push_back(p.detach().reshape({-1}));
  return torch::cat(flat).contiguous();
}

void LoadFlatParameters(torch::nn::Module& module, const float* flat, int64_t count) {
  ROBOFLEET_CHECK(count == NumParameters(module));
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& p : module.parameters()) {
    auto src = torch::from_blob(const_cast<float*>(flat + offset), p.sizes(), torch::kFloat32);
    p.copy_(src);
    offset += p.numel();
  }
}

void SeedTorch(uint64_t seed) { torch::manual_seed(seed); }

}  // namespace robofleet

#include "core/policy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/check.h"

namespace robofleet {

namespace {

void PushActivation(torch::nn::Sequential& mlp, const std::string& activation) {
  if (activation == "elu")
    mlp->push_back(torch::nn::ELU());
  else if (activation == "tanh")
    mlp->push_back(torch::nn::Tanh());
  else if (activation == "relu")
    mlp->push_back(torch::nn::ReLU());
  else
    ROBOFLEET_CHECK(false && "activation validated by PolicyConfig");
}

}  // namespace

torch::nn::Sequential MakeMlp(int in, const std::vector<int>& hidden, int out,
                              const std::string& activation) {
  torch::nn::Sequential mlp;
  int width = in;
  for (int h : hidden) {
    mlp->push_back(torch::nn::Linear(width, h));
    PushActivation(mlp, activation);
    width = h;
  }
  mlp->push_back(torch::nn::Linear(width, out));
  return mlp;
}

ActorCriticImpl::ActorCriticImpl(int obs_dim, int act_dim, const PolicyConfig& config,
                                 int privileged_dim)
    : obs_dim_(obs_dim), act_dim_(act_dim), privileged_dim_(privileged_dim), config_(config) {
  if (privileged_dim < 0 || privileged_dim >= obs_dim) {
    throw std::invalid_argument("ActorCritic: privileged_dim " + std::to_string(privileged_dim) +
                                " outside [0, obs_dim " + std::to_string(obs_dim) + ")");
  }
  if (privileged_dim > 0 && config.shared_trunk) {
    throw std::invalid_argument("ActorCritic: a privileged critic needs separate trunks");
  }
  const int actor_out = config.state_dependent_std ? 2 * act_dim : act_dim;
  if (config.shared_trunk) {
    // the hidden layers once, then one output layer per head
    const std::vector<int> inner(config.hidden.begin(), config.hidden.end() - 1);
    torch::nn::Sequential trunk = MakeMlp(obs_dim, inner, config.hidden.back(), config.activation);
    PushActivation(trunk, config.activation);
    trunk_ = register_module("trunk", trunk);
    actor_ =
        register_module("actor", MakeMlp(config.hidden.back(), {}, actor_out, config.activation));
    critic_ = register_module("critic", MakeMlp(config.hidden.back(), {}, 1, config.activation));
  } else {
    actor_ = register_module(
        "actor", MakeMlp(obs_dim - privileged_dim, config.hidden, actor_out, config.activation));
    critic_ = register_module("critic", MakeMlp(obs_dim, config.hidden, 1, config.activation));
  }
  if (!config.state_dependent_std) {
    log_std_ = register_parameter("log_std", torch::full({act_dim}, config.init_log_std));
  }
  if (config.normalize_value) {
    auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    value_mean_ = register_buffer("value_mean", torch::zeros({1}, f64));
    value_var_ = register_buffer("value_var", torch::ones({1}, f64));
    value_count_ = register_buffer("value_count", torch::zeros({1}, f64));
  }
  // small last actor layer: initial actions near zero, so early exploration is the noise
  torch::NoGradGuard no_grad;
  auto* last = actor_->ptr(actor_->size() - 1)->as<torch::nn::Linear>();
  last->weight.mul_(0.01);
  last->bias.zero_();
  if (config.state_dependent_std) last->bias.narrow(0, act_dim, act_dim).fill_(config.init_log_std);
}

torch::Tensor ActorCriticImpl::Features(const torch::Tensor& obs) {
  return config_.shared_trunk ? trunk_->forward(obs) : obs;
}

torch::Tensor ActorCriticImpl::ActorInput(const torch::Tensor& features) const {
  // separate networks here (a shared trunk has no privileged entries)
  if (privileged_dim_ == 0 || features.size(-1) == policy_obs_dim()) return features;
  return features.narrow(-1, 0, policy_obs_dim());
}

ActionDistribution ActorCriticImpl::Head(const torch::Tensor& features) {
  torch::Tensor out = actor_->forward(features);
  const double low = config_.log_std_range[0], high = config_.log_std_range[1];
  if (config_.state_dependent_std) {
    return {out.narrow(-1, 0, act_dim_), out.narrow(-1, act_dim_, act_dim_).clamp(low, high)};
  }
  return {out, log_std_.clamp(low, high).expand_as(out)};
}

ActorCriticImpl::Output ActorCriticImpl::Forward(const torch::Tensor& obs) {
  torch::Tensor features = Features(obs);
  return {Head(ActorInput(features)), critic_->forward(features).squeeze(-1)};
}

ActionDistribution ActorCriticImpl::Distribution(const torch::Tensor& obs) {
  return Head(ActorInput(Features(obs)));
}

torch::Tensor ActorCriticImpl::DeterministicAction(const torch::Tensor& obs) {
  torch::Tensor mean = Mean(obs);
  return config_.tanh_squash ? torch::tanh(mean) : mean.clamp(-1.0, 1.0);
}

ActionSample ActorCriticImpl::Sample(const torch::Tensor& obs) {
  ActionDistribution dist = Distribution(obs);
  ActionSample sample;
  sample.raw = dist.mean + torch::exp(dist.log_std) * torch::randn_like(dist.mean);
  sample.action = config_.tanh_squash ? torch::tanh(sample.raw) : sample.raw;
  sample.log_prob = LogProb(dist, sample.raw);
  return sample;
}

torch::Tensor ActorCriticImpl::Value(const torch::Tensor& obs) {
  return DenormalizeValue(critic_->forward(Features(obs)).squeeze(-1));
}

torch::Tensor ActorCriticImpl::LogProb(const ActionDistribution& dist,
                                       const torch::Tensor& raw) const {
  const double kLogSqrt2Pi = 0.5 * std::log(2.0 * M_PI);
  torch::Tensor z = (raw - dist.mean) * torch::exp(-dist.log_std);
  torch::Tensor log_prob = (-0.5 * z.pow(2) - dist.log_std - kLogSqrt2Pi).sum(-1);
  if (!config_.tanh_squash) return log_prob;
  // log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), finite where tanh(u) rounds to 1
  torch::Tensor log_det = 2.0 * (std::log(2.0) - raw - torch::softplus(-2.0 * raw));
  return log_prob - log_det.sum(-1);
}

torch::Tensor ActorCriticImpl::Entropy(const ActionDistribution& dist) const {
  const double kHalfLog2PiE = 0.5 * std::log(2.0 * M_PI * M_E);
  return (dist.log_std + kHalfLog2PiE).sum(-1).mean();
}

void ActorCriticImpl::UpdateValueStatistics(const torch::Tensor& returns) {
  if (!config_.normalize_value) return;
  torch::NoGradGuard no_grad;
  torch::Tensor r = returns.detach().to(torch::kFloat64).reshape({-1});
  r = r.masked_select(torch::isfinite(r));
  double n = static_cast<double>(r.numel());
  double batch_mean = 0.0, batch_var = 0.0;
  if (n > 0) {
    batch_mean = r.mean().item<double>();
    batch_var = (r - batch_mean).pow(2).mean().item<double>();
  }
  if (value_reducer_) {
    // count, sum and sum of squares add up across ranks
    double moments[3] = {n, n * batch_mean, n * (batch_var + batch_mean * batch_mean)};
    value_reducer_(moments);
    n = moments[0];
    if (n > 0) {
      batch_mean = moments[1] / n;
      batch_var = std::max(0.0, moments[2] / n - batch_mean * batch_mean);
    }
  }
  if (n == 0) return;
  const double count = value_count_.item<double>();
  const double mean = value_mean_.item<double>(), var = value_var_.item<double>();
  const double total = count + n, delta = batch_mean - mean;
  value_mean_.fill_(mean + delta * n / total);
  value_var_.fill_((var * count + batch_var * n + delta * delta * count * n / total) / total);
  value_count_.fill_(total);
}

torch::Tensor ActorCriticImpl::value_mean_f32() const {
  if (!config_.normalize_value) return torch::zeros({1});
  return value_mean_.to(torch::kFloat32);
}

torch::Tensor ActorCriticImpl::value_std_f32() const {
  if (!config_.normalize_value) return torch::ones({1});
  return torch::sqrt(value_var_ + kValueEpsilon).to(torch::kFloat32);
}

double ActorCriticImpl::value_count() const {
  return config_.normalize_value ? value_count_.item<double>() : 0.0;
}

torch::Tensor ActorCriticImpl::NormalizeValue(const torch::Tensor& x) const {
  if (!config_.normalize_value) return x;
  return (x - value_mean_f32()) / value_std_f32();
}

torch::Tensor ActorCriticImpl::DenormalizeValue(const torch::Tensor& x) const {
  if (!config_.normalize_value) return x;
  return x * value_std_f32() + value_mean_f32();
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

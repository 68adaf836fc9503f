#include "algorithms/ppo.h"

#include <cmath>
#include <limits>

#include "core/check.h"

namespace robofleet::algorithms {

torch::Tensor ComputeGae(const torch::Tensor& rewards, const torch::Tensor& values,
                         const torch::Tensor& next_values, const torch::Tensor& dones, double gamma,
                         double lambda) {
  // backwards over time; accessors keep this a plain loop over floats
  const int64_t T = rewards.size(0), B = rewards.size(1);
  torch::Tensor advantages = torch::empty({T, B}, torch::kFloat32);
  auto r = rewards.accessor<float, 2>();
  auto v = values.accessor<float, 2>();
  auto nv = next_values.accessor<float, 2>();
  auto d = dones.accessor<float, 2>();
  auto a = advantages.accessor<float, 2>();
  const float g = static_cast<float>(gamma), gl = static_cast<float>(gamma * lambda);
  for (int64_t b = 0; b < B; ++b) {
    float next_advantage = 0.0f;
    for (int64_t t = T - 1; t >= 0; --t) {
      float delta = r[t][b] + g * nv[t][b] - v[t][b];
      next_advantage = delta + gl * (1.0f - d[t][b]) * next_advantage;
      a[t][b] = next_advantage;
    }
  }
  return advantages;
}

PpoLossTerms PpoLoss(const torch::Tensor& log_probs, const torch::Tensor& old_log_probs,
                     const torch::Tensor& advantages, const torch::Tensor& values,
                     const torch::Tensor& returns, const torch::Tensor& entropy,
                     const AlgorithmConfig& config, const torch::Tensor& old_values) {
  const double eps = config.clip_ratio;
  PpoLossTerms terms;
  torch::Tensor log_ratio = log_probs - old_log_probs;
  torch::Tensor ratio = log_ratio.exp();
  torch::Tensor unclipped = ratio * advantages;
  torch::Tensor clipped = ratio.clamp(1.0 - eps, 1.0 + eps) * advantages;
  terms.policy = -torch::min(unclipped, clipped).mean();
  if (config.value_clip > 0) {
    // PPO2: the pessimistic of the plain and the clipped error
    ROBOFLEET_CHECK(old_values.defined());
    const double c = config.value_clip;
    torch::Tensor clipped_values = old_values + (values - old_values).clamp(-c, c);
    terms.value = torch::max((values - returns).pow(2), (clipped_values - returns).pow(2)).mean();
  } else {
    terms.value = (values - returns).pow(2).mean();
  }
  terms.entropy = entropy;
  terms.total = terms.policy + config.value_coef * terms.value - config.entropy_coef * entropy;
  {
    torch::NoGradGuard no_grad;
    terms.approx_kl = ((ratio - 1.0) - log_ratio).mean();
    terms.clip_frac = ((ratio - 1.0).abs() > eps).to(torch::kFloat32).mean();
  }
  return terms;
}

Ppo::Ppo(const AlgorithmConfig& config, ActorCritic policy)
    : config_(config),
      policy_(policy),
      optimizer_(policy->parameters(), torch::optim::AdamOptions(config.learning_rate).eps(1e-5)) {}

Targets Ppo::ComputeTargets(const Trajectory& trajectory) {
  // GAE is a loop over time on the host
  const auto host = [](const torch::Tensor& t) { return t.to(torch::kCPU); };
  Targets targets;
  targets.advantages =
      ComputeGae(host(trajectory.rewards), host(trajectory.values), host(trajectory.next_values),
                 host(trajectory.dones), config_.gamma, config_.gae_lambda)
          .to(trajectory.values.device());
  targets.returns = targets.advantages + trajectory.values;
  return targets;
}

void Ppo::AdaptLearningRate(double kl) {
  // rsl_rl's rule: step size follows the KL of each minibatch towards the target
  double lr = LearningRate();
  if (kl > 2.0 * config_.desired_kl)
    lr = std::max(1e-5, lr / 1.5);
  else if (kl < 0.5 * config_.desired_kl)
    lr = std::min(1e-2, lr * 1.5);
  SetLearningRate(lr);
}

UpdateStats Ppo::Update(const RolloutBatch& batch, const GradientHook& hook) {
  const int64_t n = batch.obs.size(0);
  const int64_t minibatch = std::max<int64_t>(1, n / config_.minibatches);
  UpdateStats stats;
  // the critic's targets, in its units; the statistics include this batch
  policy_->UpdateValueStatistics(batch.returns);
  const torch::Tensor returns = policy_->NormalizeValue(batch.returns);
  torch::Tensor old_values;
  if (config_.value_clip > 0) {
    ROBOFLEET_CHECK(batch.values.defined());
    old_values = policy_->NormalizeValue(batch.values);
  }
  // accumulate on tensors; one read back at the end avoids a sync per step
  torch::Tensor sums = torch::zeros({6}, batch.obs.options());
  for (int epoch = 0; epoch < config_.epochs && !stats.kl_stopped; ++epoch) {
    ++stats.epochs;
    torch::Tensor order =
        torch::randperm(n, torch::TensorOptions().dtype(torch::kLong).device(batch.obs.device()));
    for (int64_t start = 0; start + minibatch <= n; start += minibatch) {
      torch::Tensor idx = order.slice(0, start, start + minibatch);
      torch::Tensor obs = batch.obs.index_select(0, idx);
      torch::Tensor advantages = batch.advantages.index_select(0, idx);
      if (config_.normalize_advantages && minibatch > 1) {
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8);
      }
      ActorCriticImpl::Output out = policy_->Forward(obs);
      torch::Tensor log_probs = policy_->LogProb(out.dist, batch.actions.index_select(0, idx));
      PpoLossTerms terms =
          PpoLoss(log_probs, batch.log_probs.index_select(0, idx), advantages, out.value,
                  returns.index_select(0, idx), policy_->Entropy(out.dist), config_,
                  old_values.defined() ? old_values.index_select(0, idx) : torch::Tensor());
      if (batch.reference_log_probs.defined()) {
        // how far this update has moved, whatever policy made the batch
        torch::NoGradGuard no_grad;
        torch::Tensor log_ratio = log_probs - batch.reference_log_probs.index_select(0, idx);
        terms.approx_kl = ((log_ratio.exp() - 1.0) - log_ratio).mean();
      }
      StepAgreement step{terms.approx_kl.item<double>(), std::isfinite(terms.total.item<double>())};
      optimizer_.zero_grad();
      if (step.finite) terms.total.backward();
      if (hook) step = hook(step);
      // a non-finite loss or gradient would poison the parameters: skip the step
      if (!step.finite) {
        optimizer_.zero_grad();
        ++stats.skipped_steps;
        continue;
      }
      if (config_.lr_schedule == "adaptive") AdaptLearningRate(step.approx_kl);
      // the policy has moved far enough from the one that collected the batch
      if (config_.target_kl > 0 && step.approx_kl > config_.target_kl) {
        optimizer_.zero_grad();
        stats.kl_stopped = true;
        break;
      }
      // clipped as clip_grad_norm_ does, but as one tensor
      torch::Tensor flat_grad = optimizer_.FlatGradient();
      const double norm = flat_grad.norm().item<double>();
      if (!std::isfinite(norm)) {
        optimizer_.zero_grad();
        ++stats.skipped_steps;
        continue;
      }
      if (config_.max_grad_norm > 0 && norm > config_.max_grad_norm) {
        flat_grad.mul_(config_.max_grad_norm / (norm + 1e-6));
      }
      torch::Tensor grad_norm = torch::tensor(norm).to(sums.device());
      optimizer_.Step(flat_grad);
      sums += torch::stack({terms.policy.detach(), terms.value.detach(), terms.entropy.detach(),
                            terms.approx_kl, terms.clip_frac, grad_norm.to(torch::kFloat32)});
      ++stats.optimizer_steps;
    }
  }
  if (stats.optimizer_steps > 0) {
    sums = (sums / static_cast<double>(stats.optimizer_steps)).to(torch::kCPU);
    auto s = sums.accessor<float, 1>();
    stats.policy_loss = s[0];
    stats.value_loss = s[1];
    stats.entropy = s[2];
    stats.approx_kl = s[3];
    stats.clip_frac = s[4];
    stats.grad_norm = s[5];
  }
  stats.learning_rate = LearningRate();
  return stats;
}

}  // namespace robofleet::algorithms

#include "algorithms/sac.h"

#include <cmath>
#include <limits>

#include "core/check.h"

namespace robofleet::algorithms {
namespace {

// The policy's parameters that the actor loss trains: all but its critic head.
std::vector<torch::Tensor> ActorParameters(ActorCritic& policy) {
  std::vector<torch::Tensor> critic = policy->critic()->parameters();
  std::vector<torch::Tensor> actor;
  for (const torch::Tensor& p : policy->parameters()) {
    bool in_critic = false;
    for (const torch::Tensor& c : critic) in_critic = in_critic || c.is_same(p);
    if (!in_critic) actor.push_back(p);
  }
  return actor;
}

double Or(double value, double fallback) { return value > 0 ? value : fallback; }

}  // namespace

torch::Tensor SacCriticTarget(const torch::Tensor& rewards, const torch::Tensor& terminated,
                              const torch::Tensor& next_q1, const torch::Tensor& next_q2,
                              const torch::Tensor& next_log_prob, double alpha, double gamma) {
  torch::NoGradGuard no_grad;
  torch::Tensor soft_value = torch::min(next_q1, next_q2) - alpha * next_log_prob;
  return rewards + gamma * (1.0 - terminated) * soft_value;
}

torch::Tensor SacCriticLoss(const torch::Tensor& q1, const torch::Tensor& q2,
                            const torch::Tensor& target) {
  return (q1 - target).pow(2).mean() + (q2 - target).pow(2).mean();
}

torch::Tensor SacActorLoss(const torch::Tensor& log_prob, const torch::Tensor& q1,
                           const torch::Tensor& q2, double alpha) {
  return (alpha * log_prob - torch::min(q1, q2)).mean();
}

torch::Tensor SacAlphaLoss(const torch::Tensor& log_alpha, const torch::Tensor& log_prob,
                           double target_entropy) {
  return -(log_alpha * (log_prob.detach() + target_entropy)).mean();
}

void PolyakUpdate(torch::nn::Module& target, torch::nn::Module& source, double tau) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> to = target.parameters(), from = source.parameters();
  ROBOFLEET_CHECK(to.size() == from.size());
  for (size_t i = 0; i < to.size(); ++i) to[i].mul_(1.0 - tau).add_(from[i], tau);
}

TwinCriticImpl::TwinCriticImpl(int obs_dim, int act_dim, const std::vector<int>& hidden,
                               const std::string& activation) {
  const int in = obs_dim + act_dim;
  q1_ = register_module("q1", MakeMlp(in, hidden, 1, activation));
  q2_ = register_module("q2", MakeMlp(in, hidden, 1, activation));
  q1_target_ = register_module("q1_target", MakeMlp(in, hidden, 1, activation));
  q2_target_ = register_module("q2_target", MakeMlp(in, hidden, 1, activation));
  // the targets start as copies and never get gradients
  PolyakUpdate(*q1_target_, *q1_, 1.0);
  PolyakUpdate(*q2_target_, *q2_, 1.0);
  for (auto& p : q1_target_->parameters()) p.set_requires_grad(false);
  for (auto& p : q2_target_->parameters()) p.set_requires_grad(false);
}

std::pair<torch::Tensor, torch::Tensor> TwinCriticImpl::Forward(const torch::Tensor& obs,
                                                                const torch::Tensor& actions,
                                                                bool target) {
  torch::Tensor x = torch::cat({obs, actions}, -1);
  if (target) return {q1_target_->forward(x).squeeze(-1), q2_target_->forward(x).squeeze(-1)};
  return {q1_->forward(x).squeeze(-1), q2_->forward(x).squeeze(-1)};
}

std::vector<torch::Tensor> TwinCriticImpl::online_parameters() {
  std::vector<torch::Tensor> params = q1_->parameters();
  for (const torch::Tensor& p : q2_->parameters()) params.push_back(p);
  return params;
}

void ValidateSacConfig(const ExperimentConfig& config) {
  const std::string& schedule = config.algorithm.lr_schedule;
  if (schedule != "constant") {
    RejectConfigKey("algorithm.lr_schedule", "is '" + schedule +
                                                 "', but sac supports only "
                                                 "constant; set algorithm.lr_schedule: constant");
  }
  if (!config.policy.tanh_squash) {
    RejectConfigKey("policy.tanh_squash",
                    "is false, but sac trains a squashed Gaussian policy; "
                    "set policy.tanh_squash: true");
  }
}

Sac::Sac(const AlgorithmConfig& config, ActorCritic policy)
    : config_(config),
      policy_(policy),
      critic_(policy->obs_dim(), policy->act_dim(), policy->config().hidden,
              policy->config().activation),
      log_alpha_(torch::full({}, std::log(config.init_alpha)).set_requires_grad(true)),
      target_entropy_(config.target_entropy != 0 ? config.target_entropy
                                                 : -static_cast<double>(policy->act_dim())),
      actor_parameters_(ActorParameters(policy)),
      actor_optimizer_(actor_parameters_, torch::optim::AdamOptions(config.learning_rate)),
      critic_optimizer_(
          critic_->online_parameters(),
          torch::optim::AdamOptions(Or(config.critic_learning_rate, config.learning_rate))),
      alpha_optimizer_(
          std::vector<torch::Tensor>{log_alpha_},
          torch::optim::AdamOptions(Or(config.alpha_learning_rate, config.learning_rate))) {
  ROBOFLEET_CHECK(policy->config().tanh_squash && "validated by ValidateSacConfig");
}

std::vector<torch::Tensor> Sac::parameters() {
  std::vector<torch::Tensor> params = actor_parameters_;
  for (const torch::Tensor& p : critic_->online_parameters()) params.push_back(p);
  params.push_back(log_alpha_);
  return params;
}

double Sac::ApplyStep(FlatAdam& optimizer) {
  torch::Tensor flat_grad = optimizer.FlatGradient();
  const double norm = flat_grad.norm().item<double>();
  if (!std::isfinite(norm)) return std::numeric_limits<double>::quiet_NaN();
  if (config_.max_grad_norm > 0 && norm > config_.max_grad_norm) {
    flat_grad.mul_(config_.max_grad_norm / (norm + 1e-6));
  }
  optimizer.Step(flat_grad);
  return norm;
}

UpdateStats Sac::Step(const TransitionBatch& batch, const GradientHook& hook) {
  UpdateStats stats;
  const double alpha = log_alpha_.exp().item<double>();
  auto zero_all = [&] {
    for (torch::Tensor& p : parameters()) {
      if (p.grad().defined()) p.mutable_grad().zero_();
    }
  };

  // the critics regress on the soft Bellman target
  torch::Tensor target;
  {
    torch::NoGradGuard no_grad;
    ActionSample next = policy_->Sample(batch.next_obs);
    auto [next_q1, next_q2] = critic_->Forward(batch.next_obs, next.action, /*target=*/true);
    target = SacCriticTarget(batch.rewards, batch.terminated, next_q1, next_q2, next.log_prob,
                             alpha, config_.gamma);
  }
  auto [q1, q2] = critic_->Forward(batch.obs, batch.actions);
  torch::Tensor critic_loss = SacCriticLoss(q1, q2, target);
  StepAgreement critic_step{0.0, std::isfinite(critic_loss.item<double>())};
  zero_all();
  if (critic_step.finite) critic_loss.backward();
  if (hook) critic_step = hook(critic_step);
  double critic_norm = std::numeric_limits<double>::quiet_NaN();
  if (critic_step.finite) critic_norm = ApplyStep(critic_optimizer_);
  if (!std::isfinite(critic_norm)) ++stats.skipped_steps;

  // the actor maximises the soft value under the updated critics; the
  // temperature follows the entropy
  // the critics are constants of this pass: no weight gradients to compute
  const std::vector<torch::Tensor> critic_params = critic_->online_parameters();
  for (const torch::Tensor& p : critic_params) p.requires_grad_(false);
  ActionDistribution dist = policy_->Distribution(batch.obs);
  torch::Tensor u = dist.mean + dist.log_std.exp() * torch::randn_like(dist.mean);
  torch::Tensor log_prob = policy_->LogProb(dist, u);
  auto [pi_q1, pi_q2] = critic_->Forward(batch.obs, torch::tanh(u));
  torch::Tensor actor_loss = SacActorLoss(log_prob, pi_q1, pi_q2, alpha);
  torch::Tensor alpha_loss = config_.autotune_alpha
                                 ? SacAlphaLoss(log_alpha_, log_prob, target_entropy_)
                                 : torch::zeros({});
  torch::Tensor loss = actor_loss + alpha_loss;
  StepAgreement actor_step{0.0, std::isfinite(loss.item<double>())};
  zero_all();
  if (actor_step.finite) loss.backward();
  for (const torch::Tensor& p : critic_params) p.requires_grad_(true);
  if (hook) actor_step = hook(actor_step);
  double actor_norm = std::numeric_limits<double>::quiet_NaN();
  if (actor_step.finite) actor_norm = ApplyStep(actor_optimizer_);
  if (std::isfinite(actor_norm) && config_.autotune_alpha && log_alpha_.grad().defined() &&
      std::isfinite(log_alpha_.grad().item<double>())) {
    alpha_optimizer_.step();
  }
  if (!std::isfinite(actor_norm)) ++stats.skipped_steps;

  // the targets trail the critics
  PolyakUpdate(*critic_->q1_target(), *critic_->q1(), config_.tau);
  PolyakUpdate(*critic_->q2_target(), *critic_->q2(), config_.tau);

  stats.optimizer_steps = stats.skipped_steps == 0 ? 1 : 0;
  stats.policy_loss = actor_loss.item<double>();
  stats.value_loss = critic_loss.item<double>();
  stats.entropy = -log_prob.detach().mean().item<double>();
  stats.q_mean = (0.5 * (q1 + q2)).detach().mean().item<double>();
  stats.grad_norm = critic_norm;
  stats.alpha = log_alpha_.exp().item<double>();
  stats.learning_rate = LearningRate();
  return stats;
}

void Sac::SaveState(torch::serialize::OutputArchive& archive) {
  torch::serialize::OutputArchive critic, critic_optimizer, alpha_optimizer;
  critic_->save(critic);
  critic_optimizer_.save(critic_optimizer);
  alpha_optimizer_.save(alpha_optimizer);
  archive.write("critic", critic);
  archive.write("critic_optimizer", critic_optimizer);
  archive.write("alpha_optimizer", alpha_optimizer);
  archive.write("log_alpha", log_alpha_.detach());
}

void Sac::LoadState(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive critic, critic_optimizer, alpha_optimizer;
  archive.read("critic", critic);
  critic_->load(critic);
  archive.read("critic_optimizer", critic_optimizer);
  critic_optimizer_.load(critic_optimizer);
  archive.read("alpha_optimizer", alpha_optimizer);
  alpha_optimizer_.load(alpha_optimizer);
  torch::Tensor log_alpha;
  archive.read("log_alpha", log_alpha);
  torch::NoGradGuard no_grad;
  log_alpha_.copy_(log_alpha);
}

}  // namespace robofleet::algorithms

#include "algorithms/sac.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "algorithms/registry.h"

namespace robofleet::algorithms {
namespace {

TEST(SacLossTest, CriticTargetTakesTheTwinMinAndTheEntropyTermByHand) {
  // gamma 0.9, alpha 0.5; sample 1 terminated: no bootstrap
  torch::Tensor y = SacCriticTarget(torch::tensor({1.0f, 2.0f}), torch::tensor({0.0f, 1.0f}),
                                    torch::tensor({3.0f, 5.0f}), torch::tensor({4.0f, 1.0f}),
                                    torch::tensor({-1.0f, 2.0f}), 0.5, 0.9);
  // sample 0: 1 + 0.9 (min(3, 4) - 0.5 * -1) = 1 + 0.9 * 3.5 = 4.15
  EXPECT_NEAR(y[0].item<float>(), 4.15f, 1e-5);
  EXPECT_NEAR(y[1].item<float>(), 2.0f, 1e-6);
  EXPECT_FALSE(y.requires_grad());
}

TEST(SacLossTest, CriticLossSumsBothCriticsMeanSquaredErrors) {
  torch::Tensor q1 = torch::tensor({4.0f, 2.5f}).requires_grad_(true);
  torch::Tensor q2 = torch::tensor({5.0f, 1.0f});
  torch::Tensor loss = SacCriticLoss(q1, q2, torch::tensor({4.15f, 2.0f}));
  // (0.15^2 + 0.5^2) / 2 + (0.85^2 + 1^2) / 2 = 0.13625 + 0.86125
  EXPECT_NEAR(loss.item<float>(), 0.9975f, 1e-5);
  loss.backward();
  // d/dq1 = 2 (q1 - y) / N
  EXPECT_NEAR(q1.grad()[0].item<float>(), -0.15f, 1e-5);
  EXPECT_NEAR(q1.grad()[1].item<float>(), 0.5f, 1e-5);
}

TEST(SacLossTest, ActorLossByHand) {
  torch::Tensor log_prob = torch::tensor({-1.0f, 0.5f}).requires_grad_(true);
  torch::Tensor loss =
      SacActorLoss(log_prob, torch::tensor({2.0f, 3.0f}), torch::tensor({1.0f, 4.0f}), 0.2);
  // (0.2 * -1 - min(2, 1)) and (0.2 * 0.5 - min(3, 4)): -1.2 and -2.9
  EXPECT_NEAR(loss.item<float>(), -2.05f, 1e-5);
  loss.backward();
  EXPECT_NEAR(log_prob.grad()[0].item<float>(), 0.1f, 1e-6);  // alpha / N
}

TEST(SacLossTest, AlphaLossLowersAlphaWhenTheEntropyIsAboveTarget) {
  torch::Tensor log_alpha = torch::tensor(std::log(0.5f)).requires_grad_(true);
  torch::Tensor log_prob = torch::tensor({-1.0f, 0.5f}).requires_grad_(true);
  torch::Tensor loss = SacAlphaLoss(log_alpha, log_prob, -2.0);
  // log pi + target = -3, -1.5: mean -2.25, loss = 2.25 log_alpha
  EXPECT_NEAR(loss.item<float>(), 2.25f * std::log(0.5f), 1e-5);
  loss.backward();
  // entropy 0.25 is above the target -2: the gradient step lowers log alpha
  EXPECT_NEAR(log_alpha.grad().item<float>(), 2.25f, 1e-5);
  // the log-probabilities are constants of this loss
  EXPECT_TRUE(!log_prob.grad().defined() || log_prob.grad().abs().sum().item<float>() == 0.0f);
}

TEST(SacTest, PolyakUpdateIsExact) {
  torch::nn::Linear target(2, 1), source(2, 1);
  {
    torch::NoGradGuard no_grad;
    target->weight.copy_(torch::tensor({{1.0f, -2.0f}}));
    target->bias.fill_(4.0f);
    source->weight.copy_(torch::tensor({{3.0f, 6.0f}}));
    source->bias.fill_(-4.0f);
  }
  PolyakUpdate(*target, *source, 0.25);
  // 0.75 t + 0.25 s
  EXPECT_FLOAT_EQ(target->weight[0][0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(target->weight[0][1].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(target->bias[0].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(source->bias[0].item<float>(), -4.0f);  // the source is untouched
  PolyakUpdate(*target, *source, 1.0);
  EXPECT_TRUE(torch::equal(target->weight, source->weight));
}

PolicyConfig SquashedPolicy() {
  PolicyConfig pc;
  pc.hidden = {16, 16};
  pc.activation = "relu";
  pc.tanh_squash = true;
  pc.state_dependent_std = true;
  return pc;
}

AlgorithmConfig SacConfig() {
  AlgorithmConfig config;
  config.name = "sac";
  config.lr_schedule = "constant";
  config.learning_rate = 1e-3;
  config.max_grad_norm = 0.0;
  config.gamma = 0.9;
  return config;
}

TransitionBatch RandomTransitions(int n, int obs_dim, int act_dim) {
  TransitionBatch b;
  b.obs = torch::randn({n, obs_dim});
  b.actions = torch::rand({n, act_dim}) * 2.0 - 1.0;
  b.rewards = torch::randn({n}) * 5.0;
  b.next_obs = torch::randn({n, obs_dim});
  b.terminated = (torch::rand({n}) < 0.1).to(torch::kFloat32);
  return b;
}

// Sets a Q network to the constant `value`: zero weights, last bias `value`.
void MakeConstant(torch::nn::Sequential& q, float value) {
  torch::NoGradGuard no_grad;
  for (auto& p : q->parameters()) p.zero_();
  q->ptr(q->size() - 1)->as<torch::nn::Linear>()->bias.fill_(value);
}

TEST(SacTest, OneStepOnConstantCriticsMatchesTheLossesByHand) {
  SeedTorch(5);
  ActorCritic policy(3, 2, SquashedPolicy());
  AlgorithmConfig config = SacConfig();
  config.init_alpha = 1e-8;  // the entropy terms vanish: every number below is exact
  config.tau = 0.1;
  Sac sac(config, policy);
  MakeConstant(sac.critic()->q1(), 2.0f);
  MakeConstant(sac.critic()->q2(), 3.0f);
  MakeConstant(sac.critic()->q1_target(), 1.0f);
  MakeConstant(sac.critic()->q2_target(), 1.5f);
  TransitionBatch b = RandomTransitions(4, 3, 2);
  b.rewards = torch::tensor({1.0f, -1.0f, 0.5f, 2.0f});
  b.terminated = torch::tensor({0.0f, 1.0f, 0.0f, 0.0f});
  UpdateStats stats = sac.Step(b, GradientHook());
  // targets: r + 0.9 (1 - d) min(1, 1.5) = 1.9, -1, 1.4, 2.9
  const float y[] = {1.9f, -1.0f, 1.4f, 2.9f};
  double loss = 0;
  for (float v : y) loss += ((2.0 - v) * (2.0 - v) + (3.0 - v) * (3.0 - v)) / 4;
  EXPECT_NEAR(stats.value_loss, loss, 1e-4);
  EXPECT_NEAR(stats.q_mean, 2.5, 1e-5);
  EXPECT_EQ(stats.optimizer_steps, 1);
  // the critics' only gradient is on their last bias (the hidden units are 0),
  // 2 E[Q - y] > 0 for both; Adam's first step moves it by the learning rate
  auto last_bias = [](torch::nn::Sequential& q) {
    return q->ptr(q->size() - 1)->as<torch::nn::Linear>()->bias[0].item<float>();
  };
  EXPECT_NEAR(last_bias(sac.critic()->q1()), 2.0f - 1e-3f, 1e-6);
  EXPECT_NEAR(last_bias(sac.critic()->q2()), 3.0f - 1e-3f, 1e-6);
  // the actor sees min(Q1, Q2) of the updated critics everywhere (its entropy term is ~0)
  EXPECT_NEAR(stats.policy_loss, -(2.0 - 1e-3), 1e-5);
  // the targets moved a tenth of the way
  EXPECT_NEAR(last_bias(sac.critic()->q1_target()), 0.9f * 1.0f + 0.1f * (2.0f - 1e-3f), 1e-6);
  EXPECT_NEAR(last_bias(sac.critic()->q2_target()), 0.9f * 1.5f + 0.1f * (3.0f - 1e-3f), 1e-6);
}

TEST(SacTest, TemperatureFallsWhenThePolicyIsMoreRandomThanTheTarget) {
  SeedTorch(6);
  PolicyConfig pc = SquashedPolicy();
  pc.init_log_std = 0.0;
  ActorCritic policy(3, 2, pc);
  AlgorithmConfig config = SacConfig();
  config.target_entropy = -20.0;  // far below any entropy this policy has
  Sac sac(config, policy);
  ActorCritic other(3, 2, pc);
  EXPECT_DOUBLE_EQ(Sac(SacConfig(), other).target_entropy(), -2.0);  // -act_dim by default
  for (int i = 0; i < 20; ++i) sac.Step(RandomTransitions(64, 3, 2), GradientHook());
  EXPECT_LT(sac.alpha(), 1.0);
}

TEST(SacTest, ManyStepsOnRandomDataStayFinite) {
  SeedTorch(7);
  PolicyConfig pc = SquashedPolicy();
  pc.init_log_std = 1.0;  // wide: many samples where tanh rounds to +-1
  ActorCritic policy(6, 3, pc);
  AlgorithmConfig config = SacConfig();
  config.learning_rate = 3e-3;
  Sac sac(config, policy);
  int hook_calls = 0;
  GradientHook counting = [&](const StepAgreement& local) {
    ++hook_calls;
    return local;
  };
  for (int i = 0; i < 300; ++i) {
    TransitionBatch b = RandomTransitions(32, 6, 3);
    b.obs = b.obs * 10.0;
    UpdateStats s = sac.Step(b, counting);
    ASSERT_TRUE(std::isfinite(s.value_loss) && std::isfinite(s.policy_loss)) << "step " << i;
    ASSERT_EQ(s.skipped_steps, 0);
  }
  // the hook runs after each of the two backward passes of every step
  EXPECT_EQ(hook_calls, 600);
  for (const torch::Tensor& p : sac.parameters()) {
    EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  }
  for (const torch::Tensor& p : sac.critic()->parameters()) {
    EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  }
  EXPECT_TRUE(std::isfinite(sac.alpha()) && sac.alpha() > 0);
}

TEST(SacTest, TheHookSeesEveryNetworksGradients) {
  SeedTorch(8);
  ActorCritic policy(3, 2, SquashedPolicy());
  Sac sac(SacConfig(), policy);
  // the learner's hook averages whatever gradients each pass left: each pass
  // must show it those of the networks it trains, and only those
  std::vector<int64_t> seen;
  GradientHook hook = [&](const StepAgreement& local) {
    int64_t with_grad = 0;
    for (torch::Tensor& p : sac.parameters()) {
      if (p.grad().defined() && p.grad().abs().sum().item<float>() > 0) ++with_grad;
    }
    seen.push_back(with_grad);
    return local;
  };
  sac.Step(RandomTransitions(16, 3, 2), hook);
  ASSERT_EQ(seen.size(), 2u);
  const int64_t critic_tensors = static_cast<int64_t>(sac.critic()->online_parameters().size());
  EXPECT_EQ(seen[0], critic_tensors);  // the critic pass: only the critics
  // the actor pass: the actor (3 layers, weight and bias) and log alpha, no critic
  EXPECT_EQ(seen[1], 7);
}

TEST(SacTest, PoliciesThatDoNotSquashAreRejectedWithOneLine) {
  ExperimentConfig config;
  config.algorithm.name = "sac";
  config.algorithm.lr_schedule = "constant";
  config.policy.tanh_squash = false;
  // what loading a config runs: core's checks, then the registry row's
  auto validate = [&] {
    config.Validate();
    ValidateAlgorithm(config);
  };
  try {
    validate();
    FAIL() << "accepted";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("policy.tanh_squash: true"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  config.policy.tanh_squash = true;
  config.algorithm.lr_schedule = "adaptive";
  try {
    validate();
    FAIL() << "accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("algorithm.lr_schedule: constant"), std::string::npos)
        << e.what();
  }
  config.algorithm.lr_schedule = "constant";
  config.algorithm.tau = 1.5;
  EXPECT_THROW(validate(), UserError);
  config.algorithm.tau = 0.005;
  config.algorithm.utd_ratio = 0;
  EXPECT_THROW(validate(), UserError);
  config.algorithm.utd_ratio = 0.5;
  EXPECT_NO_THROW(validate());
  EXPECT_TRUE(IsOffPolicy(config.algorithm.name));
}

}  // namespace
}  // namespace robofleet::algorithms

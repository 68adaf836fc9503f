#include "core/policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

namespace robofleet {
namespace {

const double kLogSqrt2Pi = 0.5 * std::log(2.0 * M_PI);  // 0.918939

// The last Linear layer of an MLP.
torch::nn::LinearImpl& LastLinear(torch::nn::Sequential& mlp) {
  return *mlp->ptr(mlp->size() - 1)->as<torch::nn::Linear>();
}

// A one-action policy whose Gaussian is N(0, 1) for every observation.
ActorCritic StandardNormalPolicy(bool tanh_squash) {
  PolicyConfig pc;
  pc.hidden = {4};
  pc.init_log_std = 0.0;
  pc.tanh_squash = tanh_squash;
  ActorCritic policy(3, 1, pc);
  torch::NoGradGuard no_grad;
  LastLinear(policy->actor()).weight.zero_();
  LastLinear(policy->actor()).bias.zero_();
  return policy;
}

TEST(PolicyTest, GaussianLogProbByHand) {
  ActorCritic policy = StandardNormalPolicy(false);
  torch::NoGradGuard no_grad;
  ActionDistribution dist = policy->Distribution(torch::randn({2, 3}));
  // u = 0.5 under N(0, 1): -0.125 - 0.918939 = -1.043939
  torch::Tensor lp = policy->LogProb(dist, torch::tensor({{0.5f}, {0.5f}}));
  EXPECT_NEAR(lp[0].item<float>(), -1.043939f, 1e-5);
  EXPECT_NEAR(lp[1].item<float>(), -1.043939f, 1e-5);
  // entropy of N(0, 1): 0.5 log(2 pi e) = 1.418939
  EXPECT_NEAR(policy->Entropy(dist).item<float>(), 1.418939f, 1e-5);
}

TEST(PolicyTest, TanhSquashCorrectsTheLogProbByHand) {
  ActorCritic policy = StandardNormalPolicy(true);
  torch::NoGradGuard no_grad;
  ActionDistribution dist = policy->Distribution(torch::randn({3, 3}));
  torch::Tensor u = torch::tensor({{0.5f}, {-0.5f}, {20.0f}});
  torch::Tensor lp = policy->LogProb(dist, u);
  // u = +-0.5: tanh(0.5) = 0.462117, log(1 - 0.462117^2) = log(0.786448) = -0.240229,
  // so the density of a = tanh(u) is -1.043939 + 0.240229 = -0.803710
  EXPECT_NEAR(lp[0].item<float>(), -0.803710f, 1e-5);
  EXPECT_NEAR(lp[1].item<float>(), -0.803710f, 1e-5);
  // u = 20: tanh(20)^2 rounds to 1 in float32 (the plain formula gives log 0),
  // while log(1 - tanh(20)^2) = -2 log cosh 20 = -2 (20 - log 2) = -38.613706;
  // Gaussian part -200 - 0.918939; together -200.918939 + 38.613706 = -162.305233
  EXPECT_TRUE(std::isfinite(lp[2].item<float>()));
  EXPECT_NEAR(lp[2].item<float>(), -162.305233f, 1e-3);
  // the deterministic action is tanh(mean) = 0
  EXPECT_EQ(policy->DeterministicAction(torch::randn({2, 3})).abs().max().item<float>(), 0.0f);
}

TEST(PolicyTest, StateDependentStdLogProbByHand) {
  PolicyConfig pc;
  pc.hidden = {2};
  pc.activation = "relu";
  pc.state_dependent_std = true;
  ActorCritic policy(1, 1, pc);
  EXPECT_EQ(policy->named_parameters().find("log_std"), nullptr) << "the std is an output now";
  // hidden h = [relu(x), 0]; outputs mean = 0.5 h0 + 0.1, log_std = -0.25 h0 - 0.5
  {
    torch::NoGradGuard no_grad;
    auto& first = *policy->actor()->ptr(0)->as<torch::nn::Linear>();
    first.weight.copy_(torch::tensor({{1.0f}, {0.0f}}));
    first.bias.zero_();
    LastLinear(policy->actor()).weight.copy_(torch::tensor({{0.5f, 0.0f}, {-0.25f, 0.0f}}));
    LastLinear(policy->actor()).bias.copy_(torch::tensor({0.1f, -0.5f}));
  }
  torch::NoGradGuard no_grad;
  ActionDistribution dist = policy->Distribution(torch::tensor({{2.0f}, {0.0f}, {20.0f}}));
  // x = 2: mean 1.1, log_std -1; x = 0: mean 0.1, log_std -0.5;
  // x = 20: log_std -5.5, clamped to the range's low end -5
  EXPECT_NEAR(dist.mean[0][0].item<float>(), 1.1f, 1e-6);
  EXPECT_NEAR(dist.log_std[0][0].item<float>(), -1.0f, 1e-6);
  EXPECT_NEAR(dist.mean[1][0].item<float>(), 0.1f, 1e-6);
  EXPECT_NEAR(dist.log_std[1][0].item<float>(), -0.5f, 1e-6);
  EXPECT_FLOAT_EQ(dist.log_std[2][0].item<float>(), -5.0f);
  torch::Tensor lp = policy->LogProb(dist, torch::tensor({{0.6f}, {0.6f}, {10.1f}}));
  // x = 2, a = 0.6: z = -0.5 e = -1.359141, -0.5 z^2 + 1 - 0.918939 = -0.842571
  EXPECT_NEAR(lp[0].item<float>(), -0.842571f, 1e-5);
  // x = 0, a = 0.6: z = 0.5 e^0.5 = 0.824361, -0.339785 + 0.5 - 0.918939 = -0.758724
  EXPECT_NEAR(lp[1].item<float>(), -0.758724f, 1e-5);
  // x = 20, a = mean: 0 + 5 - 0.918939
  EXPECT_NEAR(lp[2].item<float>(), 5.0f - kLogSqrt2Pi, 1e-4);
  // entropy: mean over the batch of log_std + 1.418939
  EXPECT_NEAR(policy->Entropy(dist).item<float>(), (-1.0 - 0.5 - 5.0) / 3 + 1.418939, 1e-5);
}

TEST(PolicyTest, StateDependentStdStartsAtInitLogStd) {
  PolicyConfig pc;
  pc.state_dependent_std = true;
  pc.init_log_std = -1.5;
  ActorCritic policy(4, 3, pc);
  torch::NoGradGuard no_grad;
  ActionDistribution dist = policy->Distribution(torch::randn({8, 4}));
  EXPECT_LE((dist.log_std + 1.5).abs().max().item<float>(), 0.05f);
  EXPECT_EQ(dist.mean.sizes(), dist.log_std.sizes());
}

TEST(PolicyTest, SampleIsOneCallWithItsLogProb) {
  for (bool squash : {false, true}) {
    PolicyConfig pc;
    pc.tanh_squash = squash;
    pc.state_dependent_std = squash;
    pc.init_log_std = 1.0;  // wide, so that squashing matters
    ActorCritic policy(4, 2, pc);
    torch::NoGradGuard no_grad;
    torch::Tensor obs = torch::randn({256, 4});
    ActionSample s = policy->Sample(obs);
    ASSERT_EQ(s.raw.sizes(), (std::vector<int64_t>{256, 2}));
    ASSERT_EQ(s.log_prob.sizes(), (std::vector<int64_t>{256}));
    EXPECT_TRUE(torch::allclose(s.log_prob, policy->LogProb(policy->Distribution(obs), s.raw)));
    if (squash) {
      EXPECT_TRUE(torch::equal(s.action, torch::tanh(s.raw)));
      EXPECT_LE(s.action.abs().max().item<float>(), 1.0f);
      EXPECT_GT(s.raw.abs().max().item<float>(), 1.0f) << "the test needs raw samples beyond 1";
    } else {
      EXPECT_TRUE(torch::equal(s.action, s.raw));
    }
  }
}

TEST(PolicyTest, DefaultPolicyKeepsItsParameterNames) {
  // checkpoints of earlier runs load by these names
  ActorCritic policy(5, 2, PolicyConfig{});
  std::set<std::string> names;
  for (const auto& p : policy->named_parameters()) names.insert(p.key());
  EXPECT_EQ(names,
            (std::set<std::string>{"log_std", "actor.0.weight", "actor.0.bias", "actor.2.weight",
                                   "actor.2.bias", "actor.4.weight", "actor.4.bias",
                                   "critic.0.weight", "critic.0.bias", "critic.2.weight",
                                   "critic.2.bias", "critic.4.weight", "critic.4.bias"}));
  EXPECT_EQ(policy->named_buffers().size(), 0u);
}

TEST(PolicyTest, SharedTrunkIsTrainedByBothLosses) {
  PolicyConfig pc;
  pc.hidden = {16, 8};
  pc.shared_trunk = true;
  ActorCritic shared(4, 2, pc);
  // trunk 4->16->8, heads 8->2 and 8->1, plus log_std
  EXPECT_EQ(NumParameters(*shared), (4 * 16 + 16) + (16 * 8 + 8) + (8 * 2 + 2) + (8 + 1) + 2);
  torch::Tensor obs = torch::randn({10, 4});
  shared->Value(obs).sum().backward();
  for (const auto& p : shared->trunk()->parameters()) {
    EXPECT_GT(p.grad().abs().sum().item<float>(), 0.0f) << "the value loss reaches the trunk";
  }
  for (const auto& p : shared->actor()->parameters()) EXPECT_FALSE(p.grad().defined());

  // separate networks: the value loss leaves the actor alone
  pc.shared_trunk = false;
  ActorCritic separate(4, 2, pc);
  separate->Value(obs).sum().backward();
  for (const auto& p : separate->actor()->parameters()) EXPECT_FALSE(p.grad().defined());
  EXPECT_TRUE(separate->trunk().is_empty());
}

TEST(PolicyTest, PrivilegedEntriesReachTheCriticOnly) {
  SeedTorch(21);
  PolicyConfig pc;
  pc.hidden = {16, 16};
  ActorCritic policy(7, 2, pc, /*privileged_dim=*/3);
  EXPECT_EQ(policy->policy_obs_dim(), 4);
  // actor 4->16->16->2, critic 7->16->16->1, log_std
  EXPECT_EQ(NumParameters(*policy), (4 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2) + (7 * 16 + 16) +
                                        (16 * 16 + 16) + (16 + 1) + 2);
  torch::Tensor obs = torch::randn({10, 7});
  torch::Tensor other = obs.clone();
  other.narrow(1, 4, 3).normal_();  // other privileged entries
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(policy->Mean(obs), policy->Mean(other)));
  EXPECT_FALSE(torch::allclose(policy->Value(obs), policy->Value(other)));
  // the actor takes what a robot observes, with or without the privileged part
  EXPECT_TRUE(torch::equal(policy->Mean(obs), policy->Mean(obs.narrow(1, 0, 4).contiguous())));
  EXPECT_TRUE(torch::equal(policy->Forward(obs).value, policy->Value(obs)));

  EXPECT_THROW(ActorCritic(7, 2, pc, 7), std::invalid_argument);
  pc.shared_trunk = true;
  EXPECT_THROW(ActorCritic(7, 2, pc, 3), std::invalid_argument);
}

TEST(PolicyTest, ValueNormalisationStatisticsAndRoundTrip) {
  PolicyConfig pc;
  pc.normalize_value = true;
  ActorCritic policy(3, 1, pc);
  // no statistics yet: the identity
  torch::Tensor x = torch::tensor({-3.0f, 0.5f, 40.0f});
  EXPECT_TRUE(torch::equal(policy->NormalizeValue(x), x));
  // two batches give the statistics of their concatenation; non-finite returns are left out
  torch::Tensor a = torch::randn({300}) * 50.0 + 200.0;
  torch::Tensor b = torch::randn({100}) * 5.0 - 10.0;
  torch::Tensor b_poisoned = torch::cat({b, torch::tensor({std::nanf(""), INFINITY})});
  policy->UpdateValueStatistics(a);
  policy->UpdateValueStatistics(b_poisoned);
  torch::Tensor all = torch::cat({a, b}).to(torch::kFloat64);
  EXPECT_DOUBLE_EQ(policy->value_count(), 400.0);
  EXPECT_NEAR(policy->value_mean_f32().item<float>(), all.mean().item<double>(), 1e-3);
  EXPECT_NEAR(policy->value_std_f32().item<float>(),
              std::sqrt((all - all.mean()).pow(2).mean().item<double>()), 1e-3);
  // normalise then de-normalise gives back the returns
  torch::Tensor normalized = policy->NormalizeValue(all.to(torch::kFloat32));
  EXPECT_NEAR(normalized.mean().item<float>(), 0.0f, 1e-4);
  EXPECT_NEAR(normalized.std(/*unbiased=*/false).item<float>(), 1.0f, 1e-4);
  EXPECT_LE(
      (policy->DenormalizeValue(normalized) - all.to(torch::kFloat32)).abs().max().item<float>(),
      1e-3);
  // Value() is the de-normalised critic output
  torch::NoGradGuard no_grad;
  torch::Tensor obs = torch::randn({5, 3});
  torch::Tensor head = policy->Forward(obs).value;
  EXPECT_TRUE(
      torch::equal(policy->Value(obs), head * policy->value_std_f32() + policy->value_mean_f32()));
  // the statistics are buffers: saved and loaded with the module
  std::set<std::string> buffers;
  for (const auto& buffer : policy->named_buffers()) buffers.insert(buffer.key());
  EXPECT_EQ(buffers, (std::set<std::string>{"value_mean", "value_var", "value_count"}));
}

}  // namespace
}  // namespace robofleet

#include "algorithms/ppo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "algorithms/registry.h"

namespace robofleet::algorithms {
namespace {

torch::Tensor Column(std::vector<float> v) {
  return torch::tensor(v).reshape({static_cast<int64_t>(v.size()), 1});
}

TEST(GaeTest, TruncationAndTerminationInOneFragmentByHand) {
  // step 1 hits the time limit (bootstrap from its final obs, V = 10),
  // step 2 terminates (no bootstrap); gamma 0.9, lambda 0.8
  torch::Tensor rewards = Column({1, 2, 3, 4});
  torch::Tensor values = Column({0.5, 1.0, 1.5, 2.0});
  torch::Tensor next_values = Column({1.0, 10.0, 0.0, 3.0});
  torch::Tensor dones = Column({0, 1, 1, 0});
  torch::Tensor a = ComputeGae(rewards, values, next_values, dones, 0.9, 0.8);
  // t3: 4 + .9*3 - 2 = 4.7
  // t2: 3 + 0 - 1.5 = 1.5            (episode ended: no carry from t3)
  // t1: 2 + .9*10 - 1 = 10.0         (episode ended: no carry from t2)
  // t0: 1 + .9*1 - .5 + .72*10 = 8.6
  EXPECT_NEAR(a[3][0].item<float>(), 4.7f, 1e-5);
  EXPECT_NEAR(a[2][0].item<float>(), 1.5f, 1e-5);
  EXPECT_NEAR(a[1][0].item<float>(), 10.0f, 1e-5);
  EXPECT_NEAR(a[0][0].item<float>(), 8.6f, 1e-5);
}

TEST(GaeTest, ColumnsAreIndependent) {
  torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 1.0f, 0.0f}).reshape({2, 2});
  torch::Tensor zeros = torch::zeros({2, 2});
  torch::Tensor a = ComputeGae(rewards, zeros, zeros, zeros, 0.5, 1.0);
  // column 0: rewards 1, 1 -> a0 = 1 + 0.5 * 1; column 1: all zero
  EXPECT_NEAR(a[0][0].item<float>(), 1.5f, 1e-6);
  EXPECT_NEAR(a[1][0].item<float>(), 1.0f, 1e-6);
  EXPECT_EQ(a.select(1, 1).abs().sum().item<float>(), 0.0f);
}

TEST(PpoLossTest, FixedBatchByHand) {
  AlgorithmConfig config;
  config.clip_ratio = 0.2;
  config.value_coef = 0.5;
  config.entropy_coef = 0.01;
  torch::Tensor log_probs = torch::tensor({0.0f, std::log(1.5f)});
  torch::Tensor old_log_probs = torch::tensor({0.0f, 0.0f});
  torch::Tensor advantages = torch::tensor({1.0f, -2.0f});
  torch::Tensor values = torch::tensor({1.0f, 2.0f});
  torch::Tensor returns = torch::tensor({0.0f, 4.0f});
  torch::Tensor entropy = torch::tensor(0.7f);
  PpoLossTerms t = PpoLoss(log_probs, old_log_probs, advantages, values, returns, entropy, config);
  // ratios 1 and 1.5; min(1*1, 1*1) = 1 and min(1.5*-2, 1.2*-2) = -3 -> policy = -(1 - 3) / 2
  EXPECT_NEAR(t.policy.item<float>(), 1.0f, 1e-6);
  EXPECT_NEAR(t.value.item<float>(), 2.5f, 1e-6);  // (1 + 4) / 2
  EXPECT_NEAR(t.total.item<float>(), 1.0f + 0.5f * 2.5f - 0.01f * 0.7f, 1e-6);
  EXPECT_NEAR(t.approx_kl.item<float>(), (0.5f - std::log(1.5f)) / 2, 1e-6);
  EXPECT_NEAR(t.clip_frac.item<float>(), 0.5f, 1e-6);
}

TEST(PpoLossTest, ClippedSampleGivesNoPolicyGradient) {
  AlgorithmConfig config;
  torch::Tensor log_probs = torch::tensor({std::log(1.5f)}).requires_grad_(true);
  // positive advantage beyond 1 + eps: the clipped branch is the min, gradient 0
  PpoLossTerms t = PpoLoss(log_probs, torch::zeros({1}), torch::ones({1}), torch::zeros({1}),
                           torch::zeros({1}), torch::tensor(0.0f), config);
  t.policy.backward();
  EXPECT_EQ(log_probs.grad().item<float>(), 0.0f);
}

TEST(PpoLossTest, ClippedValueLossByHand) {
  AlgorithmConfig config;
  config.value_clip = 0.5;
  config.value_coef = 1.0;
  torch::Tensor values = torch::tensor({2.0f, 1.2f, -1.0f}).requires_grad_(true);
  torch::Tensor old_values = torch::tensor({1.0f, 1.0f, 0.0f});
  torch::Tensor returns = torch::tensor({3.0f, 0.0f, 0.2f});
  torch::Tensor zeros = torch::zeros({3});
  PpoLossTerms t =
      PpoLoss(zeros, zeros, zeros, values, returns, torch::tensor(0.0f), config, old_values);
  // sample 0: clipped value 1 + 0.5 = 1.5; max((2 - 3)^2, (1.5 - 3)^2) = 2.25 (clipped)
  // sample 1: within the clip: (1.2 - 0)^2 = 1.44 both ways
  // sample 2: clipped value -0.5; max((-1 - 0.2)^2, (-0.5 - 0.2)^2) = 1.44 (plain)
  EXPECT_NEAR(t.value.item<float>(), (2.25f + 1.44f + 1.44f) / 3, 1e-5);
  // the clipped branch passes no gradient: 0, 2 (1.2 - 0) / 3, 2 (-1 - 0.2) / 3
  t.value.backward();
  EXPECT_NEAR(values.grad()[0].item<float>(), 0.0f, 1e-6);
  EXPECT_NEAR(values.grad()[1].item<float>(), 0.8f, 1e-5);
  EXPECT_NEAR(values.grad()[2].item<float>(), -0.8f, 1e-5);
  // without the clip, the plain squared error: (1 + 1.44 + 1.44) / 3
  config.value_clip = 0.0;
  EXPECT_NEAR(PpoLoss(zeros, zeros, zeros, values, returns, torch::tensor(0.0f), config)
                  .value.item<float>(),
              (1.0f + 1.44f + 1.44f) / 3, 1e-5);
}

RolloutBatch RandomBatch(int n, int obs_dim, int act_dim) {
  RolloutBatch b;
  b.obs = torch::randn({n, obs_dim});
  b.actions = torch::randn({n, act_dim});
  b.log_probs = torch::randn({n}) - 2.0;
  b.advantages = torch::randn({n});
  b.returns = torch::randn({n}) * 10.0;
  b.values = b.returns + torch::randn({n});
  return b;
}

// A batch the policy itself sampled: its first minibatch has a KL of ~0.
RolloutBatch OnPolicyBatch(ActorCritic& policy, int n, double obs_scale = 1.0) {
  torch::NoGradGuard no_grad;
  RolloutBatch b;
  b.obs = torch::randn({n, policy->obs_dim()}) * obs_scale;
  ActionSample sample = policy->Sample(b.obs);
  b.actions = sample.raw;
  b.log_probs = sample.log_prob;
  b.advantages = torch::randn({n});
  b.values = policy->Value(b.obs);
  b.returns = b.values + b.advantages;
  return b;
}

PolicyConfig EveryOption() {
  PolicyConfig pc;
  pc.hidden = {32, 32};
  pc.shared_trunk = true;
  pc.state_dependent_std = true;
  pc.tanh_squash = true;
  pc.normalize_value = true;
  pc.init_log_std = 1.0;  // wide: many samples where tanh rounds to +-1
  return pc;
}

TEST(PpoTest, ManyUpdatesOnRandomDataStayFinite) {
  SeedTorch(3);
  PolicyConfig pc;
  pc.hidden = {32, 32};
  ActorCritic policy(6, 2, pc);
  AlgorithmConfig config;
  config.epochs = 2;
  config.minibatches = 4;
  config.lr_schedule = "adaptive";
  auto algo = CreateOnPolicyAlgorithm(config, policy);
  int hook_calls = 0;
  torch::Tensor before = FlattenParameters(*policy).clone();
  for (int i = 0; i < 50; ++i) {
    UpdateStats s = algo->Update(RandomBatch(256, 6, 2), [&](const StepAgreement& local) {
      ++hook_calls;
      return local;
    });
    ASSERT_TRUE(std::isfinite(s.policy_loss) && std::isfinite(s.value_loss) &&
                std::isfinite(s.approx_kl) && std::isfinite(s.grad_norm))
        << "update " << i;
    EXPECT_EQ(s.optimizer_steps, 8);
  }
  EXPECT_EQ(hook_calls, 50 * 8);
  torch::Tensor after = FlattenParameters(*policy);
  EXPECT_TRUE(torch::isfinite(after).all().item<bool>());
  EXPECT_GT((after - before).abs().max().item<float>(), 1e-4);
  // random targets mean large KLs: the adaptive rule must have lowered the rate
  EXPECT_LT(algo->LearningRate(), config.learning_rate);
}

TEST(PpoTest, EveryOptionOnStaysFiniteOverManyUpdates) {
  SeedTorch(5);
  ActorCritic policy(6, 2, EveryOption());
  AlgorithmConfig config;
  config.epochs = 3;
  config.minibatches = 4;
  config.value_clip = 0.2;
  config.target_kl = 0.05;
  auto algo = CreateOnPolicyAlgorithm(config, policy);
  int64_t steps = 0;
  for (int i = 0; i < 60; ++i) {
    // random batches, and the policy's own samples from observations far from
    // the normaliser's range (actions deep in tanh's saturation); returns in the thousands
    RolloutBatch batch = i % 3 == 0 ? RandomBatch(256, 6, 2) : OnPolicyBatch(policy, 256, 5.0);
    batch.returns = torch::randn({256}) * 100.0 + 1000.0;
    UpdateStats s = algo->Update(batch, {});
    ASSERT_TRUE(std::isfinite(s.policy_loss) && std::isfinite(s.value_loss) &&
                std::isfinite(s.entropy) && std::isfinite(s.approx_kl) &&
                std::isfinite(s.grad_norm))
        << "update " << i;
    EXPECT_EQ(s.skipped_steps, 0);
    EXPECT_GE(s.epochs, 1);
    EXPECT_LE(s.epochs, 3);
    steps += s.optimizer_steps;
  }
  EXPECT_GT(steps, 60);
  EXPECT_TRUE(torch::isfinite(FlattenParameters(*policy)).all().item<bool>());
  torch::NoGradGuard no_grad;
  torch::Tensor obs = torch::randn({64, 6}) * 5.0;
  ActionSample sample = policy->Sample(obs);
  EXPECT_TRUE(torch::isfinite(sample.log_prob).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(policy->Value(obs)).all().item<bool>());
  EXPECT_LE(sample.action.abs().max().item<float>(), 1.0f);
}

TEST(PpoTest, TargetKlStopsTheEpochs) {
  AlgorithmConfig config;
  config.epochs = 4;
  config.minibatches = 4;
  config.lr_schedule = "constant";
  config.learning_rate = 1e-2;
  PolicyConfig pc;
  pc.hidden = {16};
  // no target: every epoch and minibatch runs
  {
    SeedTorch(6);
    ActorCritic policy(4, 2, pc);
    auto algo = CreateOnPolicyAlgorithm(config, policy);
    UpdateStats s = algo->Update(OnPolicyBatch(policy, 128), {});
    EXPECT_EQ(s.epochs, 4);
    EXPECT_EQ(s.optimizer_steps, 16);
    EXPECT_FALSE(s.kl_stopped);
  }
  // a tiny target: the first minibatch is on-policy (KL ~ 0) and steps; the
  // second sees the moved policy and stops the update in the first epoch
  {
    SeedTorch(6);
    ActorCritic policy(4, 2, pc);
    config.target_kl = 1e-6;
    auto algo = CreateOnPolicyAlgorithm(config, policy);
    torch::Tensor before = FlattenParameters(*policy).clone();
    UpdateStats s = algo->Update(OnPolicyBatch(policy, 128), {});
    EXPECT_EQ(s.epochs, 1);
    EXPECT_EQ(s.optimizer_steps, 1);
    EXPECT_TRUE(s.kl_stopped);
    EXPECT_FALSE(torch::equal(before, FlattenParameters(*policy)));
  }
  // a target the update reaches after some epochs, not at once
  {
    SeedTorch(6);
    ActorCritic policy(4, 2, pc);
    config.target_kl = 2e-3;
    config.learning_rate = 3e-3;
    auto algo = CreateOnPolicyAlgorithm(config, policy);
    UpdateStats s = algo->Update(OnPolicyBatch(policy, 128), {});
    EXPECT_TRUE(s.kl_stopped);
    EXPECT_GT(s.optimizer_steps, 1);
    EXPECT_LT(s.optimizer_steps, 16);
    // the stop comes at minibatch `optimizer_steps`, counting from 0, of 4 per epoch
    EXPECT_EQ(s.epochs, s.optimizer_steps / 4 + 1);
  }
}

TEST(PpoTest, ValueNormalisationTrainsOnNormalisedReturns) {
  PolicyConfig pc;
  pc.hidden = {16};
  AlgorithmConfig config;
  config.epochs = 1;
  config.minibatches = 1;
  for (bool normalize : {false, true}) {
    SeedTorch(7);
    pc.normalize_value = normalize;
    ActorCritic policy(4, 1, pc);
    auto algo = CreateOnPolicyAlgorithm(config, policy);
    RolloutBatch batch = RandomBatch(512, 4, 1);
    batch.returns = batch.returns * 20.0 + 500.0;  // mean 500, std 200
    UpdateStats s = algo->Update(batch, {});
    if (normalize) {
      // targets of unit scale: the loss of a near-zero critic is about 1
      EXPECT_LT(s.value_loss, 3.0);
      torch::Tensor r = batch.returns.to(torch::kFloat64);
      EXPECT_NEAR(policy->value_mean_f32().item<float>(), r.mean().item<double>(), 1e-2);
      EXPECT_NEAR(policy->value_std_f32().item<float>(), r.std(false).item<double>(), 1e-2);
      EXPECT_DOUBLE_EQ(policy->value_count(), 512.0);
    } else {
      EXPECT_GT(s.value_loss, 1e5);
      EXPECT_DOUBLE_EQ(policy->value_count(), 0.0);
    }
  }
}

TEST(PpoTest, NonFiniteLossSkipsTheStepAndLeavesParametersAlone) {
  SeedTorch(4);
  PolicyConfig pc;
  pc.hidden = {8};
  ActorCritic policy(3, 1, pc);
  AlgorithmConfig config;
  config.epochs = 2;
  config.minibatches = 2;
  auto algo = CreateOnPolicyAlgorithm(config, policy);
  RolloutBatch batch = RandomBatch(64, 3, 1);
  batch.returns[5] = std::numeric_limits<float>::quiet_NaN();  // poisons one minibatch per epoch
  torch::Tensor before = FlattenParameters(*policy).clone();
  UpdateStats s = algo->Update(batch, {});
  EXPECT_EQ(s.skipped_steps, 2);
  EXPECT_EQ(s.optimizer_steps, 2);
  EXPECT_TRUE(torch::isfinite(FlattenParameters(*policy)).all().item<bool>());
  EXPECT_FALSE(torch::equal(before, FlattenParameters(*policy))) << "the clean steps still ran";
  // every sample poisoned: nothing moves
  batch.advantages.fill_(std::numeric_limits<float>::infinity());
  before = FlattenParameters(*policy).clone();
  s = algo->Update(batch, {});
  EXPECT_EQ(s.optimizer_steps, 0);
  EXPECT_EQ(s.skipped_steps, 4);
  EXPECT_TRUE(torch::equal(before, FlattenParameters(*policy)));
}

TEST(LearningRateScheduleTest, AdaptiveFollowsTheKlOfEachMinibatch) {
  PolicyConfig pc;
  pc.hidden = {16};
  AlgorithmConfig config;
  config.epochs = 1;
  config.minibatches = 1;
  config.learning_rate = 1e-3;
  config.desired_kl = 0.01;
  // on-policy: KL ~ 0 < desired / 2, so the rate grows by 1.5
  SeedTorch(8);
  ActorCritic policy(4, 2, pc);
  auto algo = CreateOnPolicyAlgorithm(config, policy);
  EXPECT_NEAR(algo->Update(OnPolicyBatch(policy, 64), {}).learning_rate, 1.5e-3, 1e-12);
  // far off-policy: KL > 2 desired, so it shrinks by 1.5
  RolloutBatch off = OnPolicyBatch(policy, 64);
  off.log_probs = off.log_probs + 3.0 * torch::randn({64});
  EXPECT_NEAR(algo->Update(off, {}).learning_rate, 1e-3, 1e-12);
  // and it never leaves [1e-5, 1e-2]
  algo->SetLearningRate(1e-2);
  EXPECT_NEAR(algo->Update(OnPolicyBatch(policy, 64), {}).learning_rate, 1e-2, 1e-12);
  algo->SetLearningRate(1e-5);
  EXPECT_NEAR(algo->Update(off, {}).learning_rate, 1e-5, 1e-12);
}

TEST(LearningRateScheduleTest, LinearAndConstant) {
  AlgorithmConfig c;
  c.learning_rate = 1e-3;
  c.lr_schedule = "constant";
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(c, 0.75, 5.0), 1e-3);
  c.lr_schedule = "linear";
  EXPECT_NEAR(ScheduledLearningRate(c, 0.75, 5.0), 2.5e-4, 1e-12);
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(c, 1.5, 5.0), 0.0);
  c.lr_schedule = "adaptive";
  EXPECT_DOUBLE_EQ(ScheduledLearningRate(c, 0.5, 5.0), 5.0);
}

}  // namespace
}  // namespace robofleet::algorithms

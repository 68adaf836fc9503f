#include "algorithms/ppo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

RolloutBatch RandomBatch(int n, int obs_dim, int act_dim) {
  RolloutBatch b;
  b.obs = torch::randn({n, obs_dim});
  b.actions = torch::randn({n, act_dim});
  b.log_probs = torch::randn({n}) - 2.0;
  b.advantages = torch::randn({n});
  b.returns = torch::randn({n}) * 10.0;
  return b;
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
  auto algo = CreateAlgorithm(config, policy);
  int hook_calls = 0;
  torch::Tensor before = FlattenParameters(*policy).clone();
  for (int i = 0; i < 50; ++i) {
    UpdateStats s = algo->Update(RandomBatch(256, 6, 2), [&] { ++hook_calls; });
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

TEST(PpoTest, NonFiniteLossSkipsTheStepAndLeavesParametersAlone) {
  SeedTorch(4);
  PolicyConfig pc;
  pc.hidden = {8};
  ActorCritic policy(3, 1, pc);
  AlgorithmConfig config;
  config.epochs = 2;
  config.minibatches = 2;
  auto algo = CreateAlgorithm(config, policy);
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

TEST(PpoTest, UnknownAlgorithmListsValidNames) {
  PolicyConfig pc;
  ActorCritic policy(2, 1, pc);
  AlgorithmConfig config;
  config.name = "dqn";
  try {
    CreateAlgorithm(config, policy);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("available: ppo"), std::string::npos) << e.what();
  }
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

#include "algorithms/appo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "algorithms/registry.h"

namespace robofleet::algorithms {
namespace {

torch::Tensor Column(std::vector<float> v) {
  return torch::tensor(v).reshape({static_cast<int64_t>(v.size()), 1});
}

void ExpectColumn(const torch::Tensor& x, std::vector<float> expected, const char* what) {
  ASSERT_EQ(x.size(0), static_cast<int64_t>(expected.size()));
  for (size_t t = 0; t < expected.size(); ++t) {
    EXPECT_NEAR(x[t][0].item<float>(), expected[t], 1e-5) << what << " at t = " << t;
  }
}

// Three steps of one env; the behaviour policy made step 0 half as likely as
// the target does (ratio 2) and step 1 twice as likely (ratio 0.5).
struct Steps {
  torch::Tensor log_ratios = Column({std::log(2.0f), std::log(0.5f), 0.0f});
  torch::Tensor rewards = Column({1, 2, 3});
  torch::Tensor values = Column({0.5, 1.0, 1.5});
  torch::Tensor next_values = Column({1.0, 1.5, 2.0});  // V(s3) = 2 bootstraps the last step
  torch::Tensor dones = Column({0, 0, 0});
};

TEST(VtraceTest, ClippedImportanceWeightsByHand) {
  Steps s;
  // gamma 0.9, lambda 1, rho-bar = c-bar = 1: rho = c = (1, 0.5, 1)
  Vtrace v =
      ComputeVtrace(s.log_ratios, s.rewards, s.values, s.next_values, s.dones, 0.9, 1.0, 1.0, 1.0);
  // delta2 = 3 + .9*2 - 1.5 = 3.3;  delta1 = .5 (2 + .9*1.5 - 1) = 1.175;  delta0 = 1.4
  // vs2 = 1.5 + 3.3 = 4.8
  // vs1 = 1.0 + 1.175 + .9*.5*3.3 = 3.66
  // vs0 = 0.5 + 1.4 + .9*1*2.66 = 4.294
  ExpectColumn(v.vs, {4.294f, 3.66f, 4.8f}, "vs");
  // pg2 = 3 + .9*V(s3) - 1.5 = 3.3;  pg1 = .5 (2 + .9*vs2 - 1) = 2.66;  pg0 = 1 + .9*vs1 - .5
  ExpectColumn(v.pg_advantages, {3.794f, 2.66f, 3.3f}, "pg_advantages");
}

TEST(VtraceTest, RhoAndCClipsActSeparately) {
  Steps s;
  // rho-bar 2 lets step 0's weight 2 through; c-bar 1 still cuts its trace to 1
  Vtrace v =
      ComputeVtrace(s.log_ratios, s.rewards, s.values, s.next_values, s.dones, 0.9, 1.0, 2.0, 1.0);
  // delta0 = 2 * 1.4 = 2.8; vs0 = 0.5 + 2.8 + .9*1*2.66 = 5.694; pg0 = 2 (1 + .9*3.66 - .5)
  ExpectColumn(v.vs, {5.694f, 3.66f, 4.8f}, "vs");
  ExpectColumn(v.pg_advantages, {7.588f, 2.66f, 3.3f}, "pg_advantages");
}

TEST(VtraceTest, EpisodeEndStopsTheTraceAndBootstrapsFromNextValues) {
  Steps s;
  s.dones = Column({0, 1, 0});
  s.next_values = Column({1.0, 0.0, 2.0});  // step 1 terminated
  Vtrace v =
      ComputeVtrace(s.log_ratios, s.rewards, s.values, s.next_values, s.dones, 0.9, 1.0, 1.0, 1.0);
  // vs2 = 4.8 as before; vs1 = 1 + .5 (2 + 0 - 1) = 1.5 (nothing carried back from t2)
  // vs0 = 0.5 + 1.4 + .9*1*(1.5 - 1) = 2.35
  ExpectColumn(v.vs, {2.35f, 1.5f, 4.8f}, "vs");
  // pg1 = .5 (2 + .9*0 - 1) = .5;  pg0 = 1 + .9*vs1 - .5 = 1.85
  ExpectColumn(v.pg_advantages, {1.85f, 0.5f, 3.3f}, "pg_advantages");
}

TEST(VtraceTest, OnPolicyTargetsAreGae) {
  SeedTorch(5);
  const int64_t T = 32, B = 8;
  torch::Tensor rewards = torch::randn({T, B});
  torch::Tensor values = torch::randn({T, B});
  torch::Tensor next_values = torch::randn({T, B});
  torch::Tensor dones = (torch::rand({T, B}) < 0.1).to(torch::kFloat32);
  Vtrace v = ComputeVtrace(torch::zeros({T, B}), rewards, values, next_values, dones, 0.99, 0.95,
                           1.0, 1.0);
  torch::Tensor gae = ComputeGae(rewards, values, next_values, dones, 0.99, 0.95);
  EXPECT_TRUE(torch::allclose(v.vs - values, gae, 1e-4, 1e-4));
}

TEST(AppoTest, TargetsOfTheLearnersOwnSamplesAreGae) {
  SeedTorch(6);
  PolicyConfig pc;
  pc.hidden = {16};
  ActorCritic policy(4, 2, pc);
  AlgorithmConfig config;
  config.name = "appo";
  config.gamma = 0.95;
  config.gae_lambda = 0.9;
  Appo appo(config, policy);
  Ppo ppo(config, policy);
  const int64_t T = 16, B = 4;
  Trajectory traj;
  traj.obs = torch::randn({T, B, 4});
  torch::NoGradGuard no_grad;
  ActionSample sample = policy->Sample(traj.obs.reshape({T * B, 4}));
  traj.actions = sample.raw.reshape({T, B, 2});
  traj.log_probs = sample.log_prob.reshape({T, B});
  traj.rewards = torch::randn({T, B});
  traj.values = torch::randn({T, B});
  traj.next_values = torch::randn({T, B});
  traj.dones = (torch::rand({T, B}) < 0.1).to(torch::kFloat32);
  Targets a = appo.ComputeTargets(traj);
  Targets p = ppo.ComputeTargets(traj);
  EXPECT_TRUE(torch::allclose(a.returns, p.returns, 1e-4, 1e-4));
  // the update's KL is taken against the learner's policy: here the behaviour's
  EXPECT_FALSE(p.reference_log_probs.defined());
  EXPECT_TRUE(torch::allclose(a.reference_log_probs, traj.log_probs, 1e-5, 1e-5));

  // a behaviour policy that made these actions e times likelier: ratios 1/e,
  // below the clips, so the targets are corrected and differ
  traj.log_probs = traj.log_probs + 1.0;
  Targets stale = appo.ComputeTargets(traj);
  EXPECT_FALSE(torch::allclose(stale.returns, p.returns, 1e-3, 1e-3));
}

TEST(AppoTest, ManyUpdatesOnStaleRandomDataStayFinite) {
  SeedTorch(7);
  PolicyConfig pc;
  pc.hidden = {32, 32};
  ActorCritic policy(6, 2, pc);
  AlgorithmConfig config;
  config.name = "appo";
  config.max_policy_lag = 16;
  config.epochs = 2;
  config.minibatches = 4;
  auto algo = CreateOnPolicyAlgorithm(config, policy);
  const int64_t T = 32, B = 8;
  torch::Tensor before = FlattenParameters(*policy).clone();
  for (int i = 0; i < 50; ++i) {
    Trajectory traj;
    traj.obs = torch::randn({T, B, 6}) * 3.0;
    traj.actions = torch::randn({T, B, 2}) * 2.0;
    // behaviour log-probabilities far from the learner's: ratios from e^-8 to e^8
    traj.log_probs = torch::rand({T, B}) * 16.0 - 8.0;
    traj.rewards = torch::randn({T, B}) * 10.0;
    traj.values = torch::randn({T, B});
    traj.next_values = torch::randn({T, B});
    traj.dones = (torch::rand({T, B}) < 0.05).to(torch::kFloat32);
    Targets targets = algo->ComputeTargets(traj);
    ASSERT_TRUE(torch::isfinite(targets.returns).all().item<bool>()) << "update " << i;
    RolloutBatch batch;
    batch.obs = traj.obs.reshape({T * B, 6});
    batch.actions = traj.actions.reshape({T * B, 2});
    ASSERT_TRUE(targets.reference_log_probs.defined());
    batch.log_probs = traj.log_probs.reshape({T * B});
    batch.reference_log_probs = targets.reference_log_probs.reshape({T * B});
    batch.advantages = targets.advantages.reshape({T * B});
    batch.returns = targets.returns.reshape({T * B});
    batch.values = traj.values.reshape({T * B});
    UpdateStats s = algo->Update(batch, {});
    ASSERT_TRUE(std::isfinite(s.policy_loss) && std::isfinite(s.value_loss) &&
                std::isfinite(s.grad_norm))
        << "update " << i;
  }
  torch::Tensor after = FlattenParameters(*policy);
  EXPECT_TRUE(torch::isfinite(after).all().item<bool>());
  EXPECT_GT((after - before).abs().max().item<float>(), 1e-4);
}

TEST(AppoTest, TheWatchedKlIsTheUpdatesOwnStepNotTheDistanceToOldFragments) {
  SeedTorch(8);
  PolicyConfig pc;
  pc.hidden = {64, 64};
  ActorCritic policy(17, 6, pc);
  AlgorithmConfig config;
  config.name = "appo";
  config.max_policy_lag = 16;
  config.lr_schedule = "constant";
  config.learning_rate = 1e-6;  // the update hardly moves the policy
  Appo appo(config, policy);
  const int64_t T = 64, B = 32;
  Trajectory traj;
  traj.obs = torch::randn({T, B, 17});
  ActionSample sample;
  {
    torch::NoGradGuard no_grad;
    sample = policy->Sample(traj.obs.reshape({T * B, 17}));
  }
  traj.actions = sample.raw.reshape({T, B, 6});
  // fragments of an old policy: each action's probability differs by e^(+-1)
  traj.log_probs = sample.log_prob.reshape({T, B}) + (torch::rand({T, B}) * 2.0 - 1.0);
  traj.rewards = torch::randn({T, B});
  traj.values = torch::randn({T, B});
  traj.next_values = torch::randn({T, B});
  traj.dones = torch::zeros({T, B});
  Targets targets = appo.ComputeTargets(traj);
  RolloutBatch batch;
  batch.obs = traj.obs.reshape({T * B, 17});
  batch.actions = traj.actions.reshape({T * B, 6});
  batch.log_probs = traj.log_probs.reshape({T * B});
  batch.reference_log_probs = targets.reference_log_probs.reshape({T * B});
  batch.advantages = targets.advantages.reshape({T * B});
  batch.returns = targets.returns.reshape({T * B});
  batch.values = traj.values.reshape({T * B});
  UpdateStats stats = appo.Update(batch, {});
  // the KL watched is the update's own step, not the distance to the old policy
  EXPECT_LT(stats.approx_kl, 1e-4);
  // while the surrogate still sees how far the behaviour policy is
  EXPECT_GT(stats.clip_frac, 0.3);
}

TEST(AppoTest, APolicyLagBelowTwoIsRejectedWithOneLine) {
  ExperimentConfig config;
  config.algorithm.name = "appo";
  config.algorithm.max_policy_lag = 1;
  config.Validate();  // core knows no algorithm: its checks pass
  try {
    ValidateAlgorithm(config);
    FAIL() << "accepted";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("config key 'algorithm.max_policy_lag' is 1"), std::string::npos) << what;
    EXPECT_NE(what.find("set it to 2 or more"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  config.algorithm.max_policy_lag = 2;
  EXPECT_NO_THROW(ValidateAlgorithm(config));
}

}  // namespace
}  // namespace robofleet::algorithms

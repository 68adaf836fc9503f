// Every row of the algorithm registry, with no test written per algorithm:
// the row is well formed, the algorithm it makes is of the kind it says and
// learns from one random batch without NaN, and bad names and settings fail
// with one line.
#include "algorithms/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace robofleet::algorithms {
namespace {

constexpr int kObsDim = 5, kActDim = 2;

// One config that every algorithm accepts, naming `name`: a small squashed
// policy (SAC's need) and settings no row rejects. A new algorithm whose check
// rejects it fails here first; widen this config, not the check.
ExperimentConfig SmallConfig(const std::string& name) {
  ExperimentConfig config;
  config.algorithm.name = name;
  config.policy.hidden = {16, 16};
  config.policy.tanh_squash = true;
  config.algorithm.lr_schedule = "constant";
  config.algorithm.max_policy_lag = 16;
  config.algorithm.epochs = 1;
  config.algorithm.minibatches = 2;
  return config;
}

// What `fn` throws as a UserError, or "" when it throws nothing.
template <class Fn>
std::string UserErrorOf(Fn fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

bool AllFinite(const std::vector<torch::Tensor>& tensors) {
  for (const torch::Tensor& t : tensors) {
    if (!torch::isfinite(t).all().item<bool>()) return false;
  }
  return true;
}

// A batch as the on-policy learner builds it (learner.cc BuildRolloutBatch):
// the policy's own samples over [T, B] steps, targets from the algorithm.
RolloutBatch OnPolicyBatch(OnPolicyAlgorithm& algorithm, ActorCritic& policy) {
  const int64_t T = 8, B = 4;
  Trajectory trajectory;
  trajectory.obs = torch::randn({T, B, kObsDim});
  {
    torch::NoGradGuard no_grad;
    ActionSample sample = policy->Sample(trajectory.obs.reshape({T * B, kObsDim}));
    trajectory.actions = sample.raw.reshape({T, B, kActDim});
    trajectory.log_probs = sample.log_prob.reshape({T, B});
  }
  trajectory.rewards = torch::randn({T, B});
  trajectory.values = torch::randn({T, B});
  trajectory.next_values = torch::randn({T, B});
  trajectory.dones = (torch::rand({T, B}) < 0.1).to(torch::kFloat32);
  Targets targets = algorithm.ComputeTargets(trajectory);
  EXPECT_TRUE(AllFinite({targets.advantages, targets.returns}));
  RolloutBatch batch;
  batch.obs = trajectory.obs.reshape({T * B, kObsDim});
  batch.actions = trajectory.actions.reshape({T * B, kActDim});
  batch.log_probs = trajectory.log_probs.reshape({T * B});
  if (targets.reference_log_probs.defined()) {
    batch.reference_log_probs = targets.reference_log_probs.reshape({T * B});
  }
  batch.advantages = targets.advantages.reshape({T * B});
  batch.returns = targets.returns.reshape({T * B});
  batch.values = trajectory.values.reshape({T * B});
  return batch;
}

// Transitions as a replay buffer hands them out.
TransitionBatch RandomTransitions(int n) {
  TransitionBatch batch;
  batch.obs = torch::randn({n, kObsDim});
  batch.actions = torch::rand({n, kActDim}) * 2.0 - 1.0;
  batch.rewards = torch::randn({n});
  batch.next_obs = torch::randn({n, kObsDim});
  batch.terminated = (torch::rand({n}) < 0.1).to(torch::kFloat32);
  return batch;
}

TEST(AlgorithmRegistryTest, EveryRowHasANameAndExactlyOneFactory) {
  const std::vector<std::string> names = AlgorithmNames();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size())
      << "two rows share a name";
  for (const std::string& name : names) {
    const AlgorithmEntry* row = FindAlgorithm(name);
    ASSERT_NE(row, nullptr) << name;
    EXPECT_FALSE(name.empty());
    EXPECT_NE(row->make_on_policy == nullptr, row->make_off_policy == nullptr)
        << name << ": set exactly one of make_on_policy and make_off_policy";
    EXPECT_EQ(IsOffPolicy(name), row->off_policy()) << name;
    EXPECT_EQ(&GetAlgorithm(name), row) << name;
  }
}

TEST(AlgorithmRegistryTest, TheDefaultAlgorithmIsARow) {
  EXPECT_NE(FindAlgorithm(AlgorithmConfig().name), nullptr) << AlgorithmConfig().name;
}

TEST(AlgorithmRegistryTest, EveryAlgorithmIsItsRowsKindAndLearnsFromARandomBatch) {
  for (const std::string& name : AlgorithmNames()) {
    SCOPED_TRACE(name);
    const ExperimentConfig config = SmallConfig(name);
    ASSERT_NO_THROW(config.Validate());
    ASSERT_NO_THROW(ValidateAlgorithm(config));
    SeedTorch(1);
    ActorCritic policy(kObsDim, kActDim, config.policy);
    const torch::Tensor before = FlattenParameters(*policy).clone();
    int hook_calls = 0;
    const GradientHook hook = [&](const StepAgreement& local) {
      ++hook_calls;
      return local;
    };
    UpdateStats stats;
    std::vector<torch::Tensor> parameters;
    if (!IsOffPolicy(name)) {
      // the kind is the factory's type; the other kind's factory refuses it
      std::unique_ptr<OnPolicyAlgorithm> algorithm =
          CreateOnPolicyAlgorithm(config.algorithm, policy);
      ASSERT_NE(algorithm, nullptr);
      EXPECT_THROW(CreateOffPolicyAlgorithm(config.algorithm, policy), UserError);
      stats = algorithm->Update(OnPolicyBatch(*algorithm, policy), hook);
      parameters = algorithm->parameters();
    } else {
      std::unique_ptr<OffPolicyAlgorithm> algorithm =
          CreateOffPolicyAlgorithm(config.algorithm, policy);
      ASSERT_NE(algorithm, nullptr);
      EXPECT_THROW(CreateOnPolicyAlgorithm(config.algorithm, policy), UserError);
      stats = algorithm->Step(RandomTransitions(32), hook);
      parameters = algorithm->parameters();
    }
    EXPECT_GT(stats.optimizer_steps, 0);
    EXPECT_EQ(stats.skipped_steps, 0);
    EXPECT_GT(hook_calls, 0) << "the learner averages gradients through the hook";
    for (double value :
         {stats.policy_loss, stats.value_loss, stats.grad_norm, stats.learning_rate}) {
      EXPECT_TRUE(std::isfinite(value)) << value;
    }
    EXPECT_FALSE(parameters.empty());
    EXPECT_TRUE(AllFinite(parameters));
    const torch::Tensor after = FlattenParameters(*policy);
    EXPECT_TRUE(AllFinite({after}));
    EXPECT_FALSE(torch::equal(before, after)) << "the policy did not move";
  }
}

TEST(AlgorithmRegistryTest, AnUnknownNameFailsWithOneLineListingEveryName) {
  const std::vector<std::string> names = AlgorithmNames();
  PolicyConfig policy_config;
  ActorCritic policy(kObsDim, kActDim, policy_config);
  const ExperimentConfig config = SmallConfig("dqn");
  for (const std::string& what :
       {UserErrorOf([&] { ValidateAlgorithm(config); }),
        UserErrorOf([&] { CreateOnPolicyAlgorithm(config.algorithm, policy); }),
        UserErrorOf([&] { CreateOffPolicyAlgorithm(config.algorithm, policy); }),
        UserErrorOf([&] { IsOffPolicy("dqn"); })}) {
    EXPECT_NE(what.find("config key 'algorithm.name' is 'dqn'; valid algorithms: "),
              std::string::npos)
        << what;
    for (const std::string& name : names) EXPECT_NE(what.find(name), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_EQ(FindAlgorithm("dqn"), nullptr);
  // a near miss names the likely intended one
  const std::string typo = names.front() + "x";
  EXPECT_NE(
      UserErrorOf([&] { GetAlgorithm(typo); }).find("(did you mean '" + names.front() + "'?)"),
      std::string::npos);
}

TEST(AlgorithmRegistryTest, OffPolicyRowsRejectWhatTheReplayLoopLacks) {
  for (const std::string& name : AlgorithmNames()) {
    if (!IsOffPolicy(name)) continue;
    SCOPED_TRACE(name);
    ExperimentConfig config = SmallConfig(name);
    config.train.deterministic = true;
    EXPECT_NE(UserErrorOf([&] { ValidateAlgorithm(config); }).find("train.deterministic"),
              std::string::npos);
    config = SmallConfig(name);
    config.learner.receive_during_update = true;
    EXPECT_NE(UserErrorOf([&] { ValidateAlgorithm(config); }).find("learner.receive_during_update"),
              std::string::npos);
    config = SmallConfig(name);
    config.learner.device = "cuda";
    EXPECT_NE(UserErrorOf([&] { ValidateAlgorithm(config); }).find("set learner.device: cpu"),
              std::string::npos);
  }
}

TEST(AlgorithmRegistryTest, ShippedExperimentsPassTheirAlgorithmsChecks) {
  int checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(ROBOFLEET_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(ValidateAlgorithm(LoadExperiment(entry.path().string()))) << entry.path();
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace robofleet::algorithms

// Tests of env.observe: a partially observed task keeps only the named
// entries of its observation, and the rest of the env is unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using ObserveTest = test::WarningFreeTest;

EnvConfig Config(const std::string& id, std::vector<std::string> observe) {
  EnvConfig config;
  config.id = id;
  config.observe = std::move(observe);
  return config;
}

// The index of each of `names` in `all`.
std::vector<int> IndicesOf(const std::vector<std::string>& names,
                           const std::vector<std::string>& all) {
  std::vector<int> out;
  for (const std::string& name : names) {
    const auto it = std::find(all.begin(), all.end(), name);
    EXPECT_NE(it, all.end()) << name;
    out.push_back(static_cast<int>(it - all.begin()));
  }
  return out;
}

TEST_F(ObserveTest, KeepsTheNamedEntriesInTheTasksOrderAndNothingElseChanges) {
  // cart-pole swing-up without its velocities
  const std::unique_ptr<Env> partial =
      MakeEnv(Config("cartpole_swingup", {"pole_sin", "cart_position", "pole_cos"}));
  const std::unique_ptr<Env> full = MakeEnv(Config("cartpole_swingup", {}));
  EXPECT_EQ(partial->spec().obs_names,
            (std::vector<std::string>{"cart_position", "pole_cos", "pole_sin"}));
  EXPECT_EQ(partial->spec().obs_dim, 3);
  EXPECT_EQ(full->spec().obs_dim, 5);

  // the same episodes: the kept entries bit for bit, the same rewards and ends
  const test::Trace a = test::RecordTrace(*partial, 5, 1200, 9);
  const test::Trace b = test::RecordTrace(*full, 5, 1200, 9);
  EXPECT_EQ(a.rewards, b.rewards);
  EXPECT_EQ(a.flags, b.flags);
  ASSERT_EQ(a.obs.size() / 3, b.obs.size() / 5);
  for (size_t t = 0; t < a.obs.size() / 3; ++t) {
    for (int k = 0; k < 3; ++k) ASSERT_EQ(a.obs[3 * t + k], b.obs[5 * t + k]) << t << " " << k;
  }
}

TEST_F(ObserveTest, PatternsKeepEveryEntryTheyMatchAndPrivilegedEntriesFollowTheKeptOnes) {
  const std::unique_ptr<Env> all = MakeEnv(Config("hopper", {}));
  EnvConfig config = Config("hopper", {"rootz", "*_vel"});
  config.randomize.obs_noise = 0.05;
  config.privileged_obs = true;
  const std::unique_ptr<Env> env = MakeEnv(config);
  const EnvSpec& spec = env->spec();

  std::vector<std::string> want = {"rootz"};
  for (const std::string& name : all->spec().obs_names) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, "_vel") == 0) want.push_back(name);
  }
  ASSERT_GT(want.size(), 3u);
  const int kept = static_cast<int>(want.size());
  ASSERT_EQ(spec.privileged_dim, kept);  // the noise-free copy of what the actor reads
  ASSERT_EQ(spec.obs_dim, 2 * kept);
  EXPECT_EQ(std::vector<std::string>(spec.obs_names.begin(), spec.obs_names.begin() + kept), want);
  for (int i = 0; i < kept; ++i) EXPECT_EQ(spec.obs_names[kept + i], "true:" + want[i]);

  // the noise-free copy equals the full observation's kept entries
  const std::vector<int> index = IndicesOf(want, all->spec().obs_names);
  std::vector<float> obs(spec.obs_dim), full(all->spec().obs_dim), action(spec.act_dim);
  env->Reset(3, obs.data());
  all->Reset(3, full.data());
  test::RandomPolicy policy(1);
  for (int step = 0; step < 30; ++step) {
    for (int i = 0; i < kept; ++i) ASSERT_EQ(obs[kept + i], full[index[i]]) << want[i];
    policy.Fill(action);
    const StepResult r = env->Step(action.data(), obs.data());
    all->Step(action.data(), full.data());
    if (r.terminated || r.truncated) break;
  }
}

TEST_F(ObserveTest, UnknownRepeatedOrConflictingNamesAreOneLineNamingTheKey) {
  const auto error_of = [](const EnvConfig& config) -> std::string {
    try {
      config.Validate();
      MakeEnv(config);
    } catch (const UserError& e) {
      return e.what();
    }
    return "accepted";
  };
  std::string err = error_of(Config("cartpole_swingup", {"cart_position", "pole_cosine"}));
  EXPECT_NE(err.find("env.observe[1]: task 'cartpole_swingup' has no observation entry "
                     "'pole_cosine' (did you mean 'pole_cos'?); its entries are cart_position, "
                     "pole_cos, pole_sin, cart_velocity, pole_angular_velocity"),
            std::string::npos)
      << err;
  err = error_of(Config("hopper", {"*_speed"}));
  EXPECT_NE(err.find("env.observe[0]: task 'hopper' has no observation entry '*_speed'"),
            std::string::npos)
      << err;
  err = error_of(Config("cartpole_swingup", {"pole_cos", "pole_cos"}));
  EXPECT_NE(err.find("'env.observe[1]' names 'pole_cos' twice"), std::string::npos) << err;

  // the mjcf task's observation terms already pick what the policy reads
  EnvConfig config = Config("mjcf", {"imu_gyro"});
  config.mjcf.path = std::string(ROBOFLEET_SOURCE_DIR) + "/envs/assets/quadruped.xml";
  config.mjcf.observations = {{"sensor", "imu_gyro", 1.0, 0.0}};
  err = error_of(config);
  EXPECT_NE(err.find("env.observe"), std::string::npos) << err;
  EXPECT_NE(err.find("env.mjcf.observations"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
}

}  // namespace
}  // namespace robofleet::envs

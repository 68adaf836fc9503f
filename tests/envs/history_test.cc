// Tests of env.obs_history: the actor reads its last N observations, oldest
// first, zeros before an episode's first; privileged entries follow the
// stack once; saved states carry the stack.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/registry.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using HistoryTest = test::WarningFreeTest;

EnvConfig Config(const std::string& id, int history) {
  EnvConfig config;
  config.id = id;
  config.obs_history = history;
  return config;
}

// For each observation row of a test::Trace, how many rows of its episode
// came before it (0 for the row a reset wrote).
std::vector<int> RowsBefore(const test::Trace& trace) {
  std::vector<int> before = {0};
  for (int flag : trace.flags) {
    before.push_back(before.back() + 1);
    if (flag != 0) before.push_back(0);
  }
  return before;
}

// Expects each row of `stacked` (history rows of `step` entries, then
// `privileged` entries) to hold `plain`'s rows of the same episode, oldest
// first with zeros before the episode's first, and `plain`'s privileged
// entries after them.
void ExpectStacks(const test::Trace& stacked, const test::Trace& plain, int history, int step,
                  int privileged) {
  const int plain_dim = step + privileged, stacked_dim = history * step + privileged;
  const std::vector<int> before = RowsBefore(plain);
  ASSERT_EQ(plain.obs.size(), before.size() * plain_dim);
  ASSERT_EQ(stacked.obs.size(), before.size() * stacked_dim);
  int zeros_seen = 0;
  for (size_t r = 0; r < before.size(); ++r) {
    const float* row = &stacked.obs[r * stacked_dim];
    for (int k = 0; k < history; ++k) {
      const int back = history - 1 - k;  // slot k holds the observation `back` rows ago
      for (int i = 0; i < step; ++i) {
        const float want = back <= before[r] ? plain.obs[(r - back) * plain_dim + i] : 0.0f;
        ASSERT_EQ(row[k * step + i], want) << "row " << r << " slot " << k << " entry " << i;
        zeros_seen += back > before[r];
      }
    }
    for (int i = 0; i < privileged; ++i) {
      ASSERT_EQ(row[history * step + i], plain.obs[r * plain_dim + step + i]) << r << " " << i;
    }
  }
  EXPECT_GT(zeros_seen, 0) << "no episode start was seen";
}

TEST_F(HistoryTest, StacksTheLastObservationsOldestFirstWithZerosBeforeTheEpisode) {
  EnvConfig config = Config("cartpole_swingup", 3);
  config.max_episode_steps = 40;  // many episode starts in 300 steps
  EnvConfig plain_config = config;
  plain_config.obs_history = 1;
  const std::unique_ptr<Env> env = MakeEnv(config);
  const std::unique_ptr<Env> plain = MakeEnv(plain_config);
  const EnvSpec& spec = env->spec();
  ASSERT_EQ(spec.obs_dim, 15);
  EXPECT_EQ(spec.obs_history, 3);
  EXPECT_EQ(spec.obs_dim_per_step(), 5);
  EXPECT_EQ(spec.obs_names[0], "cart_position[t-2]");
  EXPECT_EQ(spec.obs_names[5], "cart_position[t-1]");
  EXPECT_EQ(std::vector<std::string>(spec.obs_names.begin() + 10, spec.obs_names.end()),
            plain->spec().obs_names);

  // the same episodes as the plain env: rewards and ends too
  const test::Trace stacked = test::RecordTrace(*env, 4, 300, 8);
  const test::Trace one = test::RecordTrace(*plain, 4, 300, 8);
  EXPECT_EQ(stacked.rewards, one.rewards);
  EXPECT_EQ(stacked.flags, one.flags);
  ExpectStacks(stacked, one, 3, 5, 0);
}

TEST_F(HistoryTest, NoisyObservationsStackAndPrivilegedEntriesFollowTheStackOnce) {
  EnvConfig config = Config("hopper", 2);
  config.randomize.obs_noise = 0.05;
  config.randomize.body_mass_scale = {0.8, 1.2};
  config.privileged_obs = true;
  config.max_episode_steps = 30;
  EnvConfig plain_config = config;
  plain_config.obs_history = 1;
  const std::unique_ptr<Env> env = MakeEnv(config);
  const std::unique_ptr<Env> plain = MakeEnv(plain_config);
  const int step = plain->spec().obs_dim - plain->spec().privileged_dim;
  const int privileged = plain->spec().privileged_dim;
  ASSERT_GT(privileged, step);  // the mass factors and the noise-free observation
  EXPECT_EQ(env->spec().privileged_dim, privileged);
  EXPECT_EQ(env->spec().obs_dim, 2 * step + privileged);
  EXPECT_EQ(env->spec().obs_dim_per_step(), step);
  EXPECT_EQ(env->spec().obs_names.back(), plain->spec().obs_names.back());

  const test::Trace stacked = test::RecordTrace(*env, 2, 200, 3);
  const test::Trace one = test::RecordTrace(*plain, 2, 200, 3);
  EXPECT_EQ(stacked.flags, one.flags);
  ExpectStacks(stacked, one, 2, step, privileged);
}

TEST_F(HistoryTest, SavedStateCarriesTheStack) {
  // a restored env of another seed repeats the original bit for bit: the
  // older entries of its first observations come from the saved stack
  EnvConfig config = Config("cartpole_swingup", 4);
  config.max_episode_steps = 50;
  test::ExpectRestoresBitForBit(config, 3, 37, 60);
}

TEST_F(HistoryTest, ABadLengthIsOneLineNamingTheKey) {
  for (int history : {0, -1, kMaxObsHistory + 1}) {
    std::string err = "accepted";
    try {
      Config("cartpole_swingup", history).Validate();
    } catch (const UserError& e) {
      err = e.what();
    }
    EXPECT_NE(err.find("env.obs_history"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace robofleet::envs

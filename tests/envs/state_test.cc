// Saved env state: a VectorEnv restored from SaveState continues bit for bit
// like the one it was saved from, for every task, randomised or not.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/registry.h"
#include "envs/vector_env.h"

namespace robofleet::envs {
namespace {

struct Trace {
  std::vector<float> obs, reward;
  std::vector<uint8_t> terminated, truncated;
  std::vector<float> final_obs;
};

// `steps` steps with actions drawn from `rng`, everything recorded.
Trace Record(VectorEnv& venv, std::mt19937& rng, int steps) {
  const int K = venv.num_envs(), D = venv.spec().obs_dim, A = venv.spec().act_dim;
  Trace t;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> actions(K * A), obs(K * D), reward(K);
  std::vector<uint8_t> term(K), trunc(K);
  for (int s = 0; s < steps; ++s) {
    for (float& a : actions) a = u(rng);
    venv.Step(actions.data(), obs.data(), reward.data(), term.data(), trunc.data(), &t.final_obs);
    t.obs.insert(t.obs.end(), obs.begin(), obs.end());
    t.reward.insert(t.reward.end(), reward.begin(), reward.end());
    t.terminated.insert(t.terminated.end(), term.begin(), term.end());
    t.truncated.insert(t.truncated.end(), trunc.begin(), trunc.end());
  }
  return t;
}

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  // an empty vector's data() may be null, which memcmp must not be given
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

class StateTest : public ::testing::TestWithParam<std::pair<std::string, bool>> {};

TEST_P(StateTest, RestoredEnvContinuesBitForBit) {
  const auto& [id, randomized] = GetParam();
  EnvConfig config;
  config.id = id;
  config.max_episode_steps = 30;  // episodes end and restart inside the trace
  if (randomized) {
    config.randomize.body_mass_scale = {0.8, 1.2};
    config.randomize.obs_noise = 0.01;
    config.randomize.action_delay = {0, 2};
  }
  constexpr int K = 3;
  VectorEnv original(config, K, 17);
  std::vector<float> obs(K * original.spec().obs_dim);
  original.Reset(obs.data());
  original.StaggerEpisodes(30);
  std::mt19937 rng(5);
  Record(original, rng, 23);
  const std::string state = original.SaveState();
  std::mt19937 rng_copy = rng;
  const Trace expected = Record(original, rng, 50);

  // a fresh VectorEnv, made with another seed, then given the saved state
  VectorEnv restored(config, K, 999);
  restored.Reset(obs.data());
  restored.LoadState(state);
  const Trace got = Record(restored, rng_copy, 50);
  EXPECT_TRUE(BitEqual(got.obs, expected.obs));
  EXPECT_TRUE(BitEqual(got.reward, expected.reward));
  EXPECT_EQ(got.terminated, expected.terminated);
  EXPECT_EQ(got.truncated, expected.truncated);
  EXPECT_TRUE(BitEqual(got.final_obs, expected.final_obs));
  EXPECT_EQ(restored.TakeFinishedEpisodes().size(), original.TakeFinishedEpisodes().size());
}

std::vector<std::pair<std::string, bool>> Cases() {
  std::vector<std::pair<std::string, bool>> cases;
  for (const std::string& id : EnvNames()) {
    if (id == "mjcf") continue;  // needs a model path; it is a LocomotionEnv like hopper
    cases.emplace_back(id, false);
  }
  cases.emplace_back("hopper", true);
  cases.emplace_back("arm_push", true);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Tasks, StateTest, ::testing::ValuesIn(Cases()),
    [](const ::testing::TestParamInfo<std::pair<std::string, bool>>& param_info) {
      return param_info.param.first + (param_info.param.second ? "_randomized" : "");
    });

TEST(StateTest, StateOfAnotherSizeIsRefused) {
  EnvConfig config;
  VectorEnv two(config, 2, 1), three(config, 3, 1);
  std::vector<float> obs(3 * two.spec().obs_dim);
  two.Reset(obs.data());
  three.Reset(obs.data());
  EXPECT_THROW(three.LoadState(two.SaveState()), std::runtime_error);
  EXPECT_THROW(three.LoadState(two.SaveState().substr(0, 100)), std::runtime_error);
}

}  // namespace
}  // namespace robofleet::envs

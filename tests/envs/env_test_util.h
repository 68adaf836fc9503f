// Helpers shared by the envs tests.
#ifndef ROBOFLEET_TESTS_ENVS_ENV_TEST_UTIL_H_
#define ROBOFLEET_TESTS_ENVS_ENV_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/env.h"
#include "envs/mjcf_env.h"
#include "envs/mujoco_env.h"
#include "envs/vector_env.h"

namespace robofleet::envs::test {

// Writes `text` to a fresh file in the test temp dir and returns its path.
inline std::string WriteTempFile(const std::string& name, const std::string& text) {
  // the pid keeps test processes that ctest runs side by side off each other's files
  const std::string path =
      testing::TempDir() + "/robofleet_envs_test_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

// Fails the test when MuJoCo raised any warning during it.
class WarningFreeTest : public testing::Test {
 protected:
  void SetUp() override {
    InstallMujocoHandlers();
    warnings_before_ = MujocoWarningCount();
  }
  void TearDown() override {
    EXPECT_EQ(MujocoWarningCount(), warnings_before_) << "MuJoCo warned: " << LastMujocoWarning();
  }

 private:
  int64_t warnings_before_ = 0;
};

// One deterministic pseudo-random action in [-1, 1] per call.
class RandomPolicy {
 public:
  explicit RandomPolicy(uint64_t seed) : rng_(seed) {}
  float Next() { return static_cast<float>(rng_.Uniform(-1.0, 1.0)); }
  // Fills a whole action vector.
  void Fill(std::vector<float>& action) {
    for (float& a : action) a = Next();
  }

 private:
  EnvRandom rng_;
};

// Everything an episode stream produced, for bit-exact comparisons.
struct Trace {
  std::vector<float> obs;
  std::vector<float> rewards;
  std::vector<int> flags;  // terminated * 2 + truncated, per step
  bool operator==(const Trace& other) const {
    return obs == other.obs && rewards == other.rewards && flags == other.flags;
  }
};

// Steps `env` for `steps` steps with random actions from `action_seed`,
// resetting with seeds reset_seed, reset_seed + 1, ... whenever an episode
// ends, and records every observation, reward and flag.
inline Trace RecordTrace(Env& env, uint64_t reset_seed, int steps, uint64_t action_seed) {
  Trace trace;
  RandomPolicy policy(action_seed);
  std::vector<float> obs(env.spec().obs_dim), action(env.spec().act_dim);
  env.Reset(reset_seed, obs.data());
  trace.obs.insert(trace.obs.end(), obs.begin(), obs.end());
  for (int t = 0; t < steps; ++t) {
    policy.Fill(action);
    const StepResult r = env.Step(action.data(), obs.data());
    trace.obs.insert(trace.obs.end(), obs.begin(), obs.end());
    trace.rewards.push_back(r.reward);
    trace.flags.push_back(r.terminated * 2 + r.truncated);
    if (r.terminated || r.truncated) {
      env.Reset(++reset_seed, obs.data());
      trace.obs.insert(trace.obs.end(), obs.begin(), obs.end());
    }
  }
  return trace;
}

// What a VectorEnv gave over some steps: every observation and reward, and
// the episodes that finished with their episode info.
struct VectorRun {
  std::vector<float> obs, rewards, info;
  std::vector<VectorEnv::Episode> episodes;
};

// Steps `venv` `steps` times with actions from `policy` times action_scale;
// expects every observation finite.
inline VectorRun StepVector(VectorEnv& venv, int steps, RandomPolicy& policy,
                            float action_scale = 1.0f) {
  const int n = venv.num_envs(), D = venv.spec().obs_dim, A = venv.spec().act_dim;
  std::vector<float> obs(n * D), actions(n * A), reward(n);
  std::vector<uint8_t> terminated(n), truncated(n);
  VectorRun run;
  for (int s = 0; s < steps; ++s) {
    policy.Fill(actions);
    for (float& a : actions) a *= action_scale;
    venv.Step(actions.data(), obs.data(), reward.data(), terminated.data(), truncated.data(),
              nullptr);
    for (float x : obs) EXPECT_TRUE(std::isfinite(x));
    run.obs.insert(run.obs.end(), obs.begin(), obs.end());
    run.rewards.insert(run.rewards.end(), reward.begin(), reward.end());
  }
  run.episodes = venv.TakeFinishedEpisodes(&run.info);
  return run;
}

// Runs num_envs envs of `config` for `before` steps of random actions, saves
// their state and runs `after` more; expects a fresh VectorEnv of another
// seed, loaded with that state, to repeat those `after` steps (observations,
// rewards, finished episodes' info) bit for bit. Returns what the original
// gave after the save.
inline VectorRun ExpectRestoresBitForBit(const EnvConfig& config, int num_envs, int before,
                                         int after, float action_scale = 1.0f) {
  VectorEnv original(config, num_envs, 6);
  std::vector<float> obs(num_envs * original.spec().obs_dim);
  original.Reset(obs.data());
  RandomPolicy policy(2);
  StepVector(original, before, policy, action_scale);
  const std::string state = original.SaveState();
  RandomPolicy policy_copy = policy;
  const VectorRun want = StepVector(original, after, policy, action_scale);

  VectorEnv restored(config, num_envs, 99);
  restored.Reset(obs.data());
  restored.LoadState(state);
  const VectorRun got = StepVector(restored, after, policy_copy, action_scale);
  EXPECT_EQ(got.obs, want.obs);
  EXPECT_EQ(got.rewards, want.rewards);
  EXPECT_EQ(got.info, want.info);
  EXPECT_EQ(got.episodes.size(), want.episodes.size());
  return want;
}

// The one-line error of building an mjcf env from `config`; a test failure
// when it builds.
inline std::string MjcfErrorOf(const EnvConfig& config) {
  try {
    MjcfEnv env(config);
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    return what;
  }
  ADD_FAILURE() << "no UserError";
  return "";
}

}  // namespace robofleet::envs::test

#endif  // ROBOFLEET_TESTS_ENVS_ENV_TEST_UTIL_H_

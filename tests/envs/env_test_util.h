// Helpers shared by the envs tests.
#ifndef ROBOFLEET_TESTS_ENVS_ENV_TEST_UTIL_H_
#define ROBOFLEET_TESTS_ENVS_ENV_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "envs/env.h"
#include "envs/mujoco_env.h"

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

}  // namespace robofleet::envs::test

#endif  // ROBOFLEET_TESTS_ENVS_ENV_TEST_UTIL_H_

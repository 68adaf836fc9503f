// SAC end to end must learn the cart-pole swing-up well beyond what a policy
// that knows nothing gets, within a few minutes on two cores: an 80k-step run
// of experiments/cartpole_swingup_sac.yaml, its final policy run by
// `robofleet eval`.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "core/config.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

// Mean return of uniform random actions over whole episodes.
double RandomPolicyReturn(const ExperimentConfig& config) {
  std::unique_ptr<envs::Env> env = envs::MakeEnv(config.env);
  envs::EnvRandom rng(7);
  std::vector<float> obs(env->spec().obs_dim), action(env->spec().act_dim);
  double total = 0.0;
  const int episodes = 10;
  for (int e = 0; e < episodes; ++e) {
    env->Reset(1000 + e, obs.data());
    envs::StepResult r;
    while (!r.terminated && !r.truncated) {
      for (float& a : action) a = static_cast<float>(rng.Uniform(-1, 1));
      r = env->Step(action.data(), obs.data());
      total += r.reward;
    }
  }
  return total / episodes;
}

TEST(SacLearningTest, SwingsUpTheCartpoleFarBeyondRandom) {
  const std::string experiment =
      std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/cartpole_swingup_sac.yaml";
  const ExperimentConfig config = LoadExperiment(experiment);
  const double random_return = RandomPolicyReturn(config);
  const std::string dir = MakeTempDir("sac-learning");
  const std::string run = dir + "/run";
  const auto start = std::chrono::steady_clock::now();
  Child train(
      {ROBOFLEET_BINARY, "train", experiment, "--run-dir", run, "--set", "train.log_every_s=1000"},
      dir + "/train");
  // a bound against gross failure (a hang, a 10x slowdown), not the target
  ASSERT_TRUE(train.Wait(360)) << "no result within 6 minutes\n" << train.out();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(train.exit_code(), 0) << train.err();

  // the window of the last 100 episodes spans most of so short a run: the
  // final policy itself is what is judged, deterministically, as deployed
  Child eval({ROBOFLEET_BINARY, "eval", run + "/policy.pt", "--episodes", "5", "--json"},
             dir + "/eval");
  ASSERT_TRUE(eval.Wait(120));
  ASSERT_EQ(eval.exit_code(), 0) << eval.err();
  const std::string json = eval.out();
  const size_t at = json.find("\"return_mean\": ");
  ASSERT_NE(at, std::string::npos) << json;
  const double final_return = std::stod(json.substr(at + 15));
  const std::vector<double> returns = CsvColumn(run + "/metrics.csv", "episode_return_mean");
  ASSERT_FALSE(returns.empty());
  std::printf(
      "sac cartpole_swingup: final policy %.1f, last training window %.1f, random %.1f, "
      "%.0f s\n",
      final_return, returns.back(), random_return, seconds);
  EXPECT_GE(final_return, std::max(200.0, 5.0 * random_return)) << train.out();
  // and training returns already climbed above random
  EXPECT_GT(returns.back(), 2.0 * random_return) << train.out();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

// The default experiment, end to end, must learn the swing-up.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

TEST(LearningTest, DefaultExperimentSwingsUpTheCartpole) {
  const std::string dir = MakeTempDir("learning");
  const std::string run = dir + "/run";
  const auto start = std::chrono::steady_clock::now();
  Child train(
      {ROBOFLEET_BINARY, "train",
       std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/cartpole_swingup.yaml", "--run-dir", run},
      dir + "/train");
  // a bound against gross failure (a hang, a 10x slowdown), not the target
  ASSERT_TRUE(train.Wait(300)) << "no result within 5 minutes\n" << train.out();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(train.exit_code(), 0) << train.err();

  std::vector<double> returns = CsvColumn(run + "/metrics.csv", "episode_return_mean");
  ASSERT_FALSE(returns.empty());
  const double best = *std::max_element(returns.begin(), returns.end());
  std::printf("default experiment: best mean return %.1f, final %.1f, %.0f s\n", best,
              returns.back(), seconds);
  EXPECT_GE(best, 700.0) << train.out();
  EXPECT_TRUE(std::filesystem::exists(run + "/policy.pt"));
  std::filesystem::remove_all(dir);
}

TEST(LearningTest, AppoLearnsTheSwingUpFromStaleFragments) {
  const std::string dir = MakeTempDir("learning-appo");
  const std::string run = dir + "/run";
  // Twice the experiment's 4M env steps: an asynchronous run is not the same
  // run twice, and under MuJoCo 3.17 some runs of it stay near 250-370 until
  // about 4M before rising to 750-860 (five runs at 4M, two of them with the
  // learner's BLAS on two threads: 783, 849, 857, 366, 371;
  // one at 8M: 746 at 4M, 856 at 8M). The claim is that APPO learns the
  // swing-up from stale fragments, not how fast.
  Child train({ROBOFLEET_BINARY, "train",
               std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/cartpole_swingup_appo.yaml",
               "--run-dir", run, "--set", "train.total_env_steps=8000000"},
              dir + "/train");
  ASSERT_TRUE(train.Wait(400)) << "no result within 400 s\n" << train.out();
  ASSERT_EQ(train.exit_code(), 0) << train.err();

  std::vector<double> returns = CsvColumn(run + "/metrics.csv", "episode_return_mean");
  std::vector<double> lag_max = CsvColumn(run + "/metrics.csv", "policy_lag_max");
  ASSERT_FALSE(returns.empty());
  ASSERT_FALSE(lag_max.empty());
  const double best = *std::max_element(returns.begin(), returns.end());
  const double oldest = *std::max_element(lag_max.begin(), lag_max.end());
  std::printf("appo: best mean return %.1f, oldest fragment %.0f versions behind\n", best, oldest);
  // the run must have trained on fragments PPO would have dropped
  EXPECT_GE(oldest, 2.0);
  EXPECT_LE(oldest, 16.0);
  // most runs pass 750 well within the run; the bound leaves room for slow ones
  EXPECT_GE(best, 500.0) << train.out();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

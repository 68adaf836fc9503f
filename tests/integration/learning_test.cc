// Experiments, end to end, must learn: the cart-pole swing-up (PPO, APPO)
// and the quadruped following commands.
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

TEST(LearningTest, QuadrupedFollowsForwardCommandsBetterThanStandingStill) {
  // the flat joystick experiment cut to what fits here: forward commands of
  // 0.3-0.6 m/s, the model as it is (no randomisation, no pushes), 4096-step
  // batches. Walking appears at about 1.5M env steps (0.23 m/s RMS at 2M
  // against 0.43 standing still, in one run); 2.5M leave room for slower runs.
  const std::string dir = MakeTempDir("learning-quadruped");
  const std::string run = dir + "/run";
  std::vector<std::string> args = {
      ROBOFLEET_BINARY, "train",
      std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/quadruped_joystick_flat.yaml", "--run-dir",
      run};
  for (const char* set :
       {"train.total_env_steps=2500000", "env.mjcf.commands.lin_vel_x=[0.3, 0.6]",
        "env.mjcf.commands.lin_vel_y=[0.0, 0.0]", "env.mjcf.commands.yaw_rate=[0.0, 0.0]",
        "env.mjcf.commands.standing_share=0.0", "env.randomize.body_mass_scale=[1.0, 1.0]",
        "env.randomize.geom_friction_scale=[1.0, 1.0]",
        "env.randomize.actuator_gain_scale=[1.0, 1.0]", "env.privileged_obs=false",
        "env.mjcf.push.max_vel=0.0", "learner.batch_size=4096", "algorithm.minibatches=4"}) {
    args.insert(args.end(), {"--set", set});
  }
  Child train(args, dir + "/train");
  ASSERT_TRUE(train.Wait(480)) << "no result within 480 s\n" << train.out();
  ASSERT_EQ(train.exit_code(), 0) << train.err();

  Child eval({ROBOFLEET_BINARY, "eval", run + "/policy.pt", "--episodes", "5", "--json"},
             dir + "/eval");
  ASSERT_TRUE(eval.Wait(120));
  ASSERT_EQ(eval.exit_code(), 0) << eval.err();
  const double walked = JsonNumber(eval.out(), "lin_vel_rms_error");
  const double stood = JsonNumber(eval.out(), "still_lin_vel_rms_error");
  std::printf("quadruped: RMS linear tracking error %.3f m/s, standing still %.3f m/s\n", walked,
              stood);
  ASSERT_GT(stood, 0.3) << eval.out();
  EXPECT_LT(walked, 0.75 * stood) << eval.out();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

// SAC end to end: a tiny run through the real binary, its resume, and the
// one-line errors of a bad SAC config.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

const char* kTinySac = R"(name: tiny_sac
seed: 3
env:
  id: cartpole_swingup
  max_episode_steps: 40
actors:
  count: 2
  envs_per_actor: 4
  rollout_length: 16
policy:
  hidden: [16, 16]
  activation: relu
  tanh_squash: true
  state_dependent_std: true
algorithm:
  name: sac
  lr_schedule: constant
  replay_capacity: 5000
  sac_batch_size: 32
  utd_ratio: 0.25
  warmup_steps: 256
learner:
  batch_size: 128
train:
  checkpoint_every: 4
  log_every_s: 0.01
)";

class SacCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    experiment_ = dir_ + "/sac.yaml";
    std::ofstream(experiment_) << kTinySac;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_, experiment_;
};

TEST_F(SacCliTest, TinyRunTrainsFromReplayAndResumes) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", experiment_, "--run-dir", run, "--set",
               "train.total_env_steps=1280"},
              dir_ + "/train");
  ASSERT_TRUE(train.Wait(120)) << "training did not finish\n" << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.out() << train.err();
  EXPECT_TRUE(fs::exists(run + "/policy.pt"));
  const std::vector<double> steps = CsvColumn(run + "/metrics.csv", "env_steps");
  const std::vector<double> gradient_steps = CsvColumn(run + "/metrics.csv", "gradient_steps");
  const std::vector<double> replay_size = CsvColumn(run + "/metrics.csv", "replay_size");
  const std::vector<double> replay_bytes = CsvColumn(run + "/metrics.csv", "replay_bytes");
  ASSERT_EQ(steps.size(), 10u);  // 1280 env steps in rounds of 128
  ASSERT_EQ(replay_size.size(), steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(replay_size[i], steps[i]);
    // 5000 transitions of (2 * 5 obs + 1 action + 2) floats
    EXPECT_EQ(replay_bytes[i], 5000.0 * 13 * 4);
    // none during the warm-up, then 0.25 per env step collected after it
    EXPECT_EQ(gradient_steps[i], std::max(0.0, 0.25 * (steps[i] - 256))) << i;
  }
  EXPECT_NE(train.out().find("upd/s"), std::string::npos) << train.out();

  // --resume continues from the last checkpoint with a longer budget
  Child resume({ROBOFLEET_BINARY, "train", "--resume", run, "--set", "train.total_env_steps=1792"},
               dir_ + "/resume");
  ASSERT_TRUE(resume.Wait(120)) << resume.err();
  ASSERT_EQ(resume.exit_code(), 0) << resume.out() << resume.err();
  EXPECT_NE(resume.out().find("resuming from"), std::string::npos) << resume.out();
  // the buffer saved with the final checkpoint comes back: no second warm-up
  EXPECT_NE(resume.out().find("replay buffer restored (1280 transitions)"), std::string::npos)
      << resume.out();
  const std::vector<double> after = CsvColumn(run + "/metrics.csv", "env_steps");
  const std::vector<double> steps_after = CsvColumn(run + "/metrics.csv", "gradient_steps");
  const std::vector<double> size_after = CsvColumn(run + "/metrics.csv", "replay_size");
  ASSERT_EQ(after.size(), 14u);
  EXPECT_EQ(after.back(), 1792.0);
  EXPECT_TRUE(std::is_sorted(after.begin(), after.end()));
  EXPECT_EQ(size_after[10], 1280.0 + 128);
  EXPECT_EQ(steps_after[10], 32.0);  // this process's first round: 0.25 * 128
  EXPECT_EQ(steps_after.back(), 128.0);

  // without the buffer file, the resumed run warms up again from an empty buffer
  fs::remove(run + "/checkpoints/replay-rank0.pt");
  Child again({ROBOFLEET_BINARY, "train", "--resume", run, "--set", "train.total_env_steps=2304"},
              dir_ + "/again");
  ASSERT_TRUE(again.Wait(120)) << again.err();
  ASSERT_EQ(again.exit_code(), 0) << again.out() << again.err();
  EXPECT_NE(again.out().find("the replay buffer starts empty"), std::string::npos) << again.out();
  const std::vector<double> size_again = CsvColumn(run + "/metrics.csv", "replay_size");
  const std::vector<double> steps_again = CsvColumn(run + "/metrics.csv", "gradient_steps");
  ASSERT_EQ(size_again.size(), 18u);
  EXPECT_EQ(size_again[14], 128.0);
  EXPECT_EQ(steps_again[14], 0.0);            // warming up for 256 env steps
  EXPECT_EQ(steps_again.back(), 0.25 * 256);  // 512 collected, 256 after the warm-up
}

TEST_F(SacCliTest, TwoLearnerRanksStayIdentical) {
  // each rank samples its own buffer; the averaged gradients of actor,
  // critics and temperature keep every parameter equal on both
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", experiment_, "--run-dir", run, "--set", "learner.count=2",
               "--set", "train.total_env_steps=1536"},
              dir_ + "/train");
  ASSERT_TRUE(train.Wait(120)) << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.out() << train.err();
  const std::string out = train.out();
  std::smatch rank0, rank1;
  ASSERT_TRUE(std::regex_search(out, rank0, std::regex("learner: parameters crc32c (\\w+)")))
      << out;
  ASSERT_TRUE(std::regex_search(out, rank1, std::regex("learner rank 1: parameters crc32c (\\w+)")))
      << out;
  EXPECT_EQ(rank0[1].str(), rank1[1].str());
  const std::vector<double> replay_size = CsvColumn(run + "/metrics.csv", "replay_size");
  const std::vector<double> gradient_steps = CsvColumn(run + "/metrics.csv", "gradient_steps");
  ASSERT_FALSE(replay_size.empty());
  EXPECT_EQ(replay_size.back(), 1536 / 2);  // rank 0's share
  EXPECT_EQ(gradient_steps.back(), 0.25 * (1536 - 256));
}

void ExpectOneLineError(const std::vector<std::string>& args, const std::string& dir,
                        const std::vector<std::string>& expected) {
  Child train(args, dir + "/bad");
  ASSERT_TRUE(train.Wait(30));
  EXPECT_EQ(train.exit_code(), 2) << train.err();
  const std::string err = train.err();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  for (const auto& fragment : expected) EXPECT_NE(err.find(fragment), std::string::npos) << err;
}

TEST_F(SacCliTest, BadSacConfigsGiveOneClearLine) {
  const std::string run = dir_ + "/run";
  ExpectOneLineError({ROBOFLEET_BINARY, "train", experiment_, "--run-dir", run, "--set",
                      "policy.tanh_squash=false"},
                     dir_, {"policy.tanh_squash", "set policy.tanh_squash: true"});
  ExpectOneLineError(
      {ROBOFLEET_BINARY, "train", experiment_, "--run-dir", run, "--set",
       "algorithm.replay_capacity=100000000", "--set", "algorithm.replay_max_mib=512"},
      dir_,
      {"algorithm.replay_capacity", "4959.1 MiB", "replay_max_mib 512",
       "raise algorithm.replay_max_mib"});
  ExpectOneLineError({ROBOFLEET_BINARY, "train", experiment_, "--run-dir", run, "--set",
                      "algorithm.lr_schedule=adaptive"},
                     dir_, {"algorithm.lr_schedule", "constant"});
  ExpectOneLineError(
      {ROBOFLEET_BINARY, "train", experiment_, "--run-dir", run, "--set", "algorithm.name=sack"},
      dir_, {"algorithm.name", "ppo, sac"});
  EXPECT_FALSE(fs::exists(run)) << "a run directory was left behind";
}

}  // namespace
}  // namespace robofleet::testing

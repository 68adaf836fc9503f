// learner.count = 2: two learner processes over Gloo, each fed by its own actor.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

// The learner process of rank 1 of this run (other tests' runs may be alive).
std::vector<pid_t> RankOne(const std::string& run) {
  std::vector<pid_t> found;
  for (pid_t pid : ProcessesMatching("learner --run-dir " + run + " ")) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(std::string("--rank\0" "1\0", 9)) != std::string::npos) found.push_back(pid);
  }
  return found;
}

class RanksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Experiment(int64_t steps, int max_restarts) {
    const std::string path = dir_ + "/exp.yaml";
    std::ofstream(path) << "name: ranks\nseed: 4\nenv:\n  max_episode_steps: 40\n"
                           "actors:\n  count: 2\n  envs_per_actor: 4\n  rollout_length: 16\n"
                           "policy:\n  hidden: [16, 16]\nalgorithm:\n  epochs: 2\n"
                           "  minibatches: 2\n  max_policy_lag: 1000\n"
                           "learner:\n  batch_size: 256\n  count: 2\n"
                           "  collective_timeout_s: 20\ntrain:\n  total_env_steps: "
                        << steps << "\n  checkpoint_every: 5\nlauncher:\n  max_restarts: "
                        << max_restarts << "\n";
    return path;
  }

  std::string dir_;
};

TEST_F(RanksTest, TwoRanksEndWithBitIdenticalParameters) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", Experiment(20 * 256, 0), "--run-dir", run},
              dir_ + "/train");
  ASSERT_TRUE(train.Wait(120)) << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.err();
  // each rank prints a checksum of its parameters at the end
  const std::string out = train.out();
  std::smatch rank0, rank1;
  ASSERT_TRUE(std::regex_search(out, rank0, std::regex("learner: parameters crc32c (\\w+)")))
      << out;
  ASSERT_TRUE(std::regex_search(out, rank1, std::regex("learner rank 1: parameters crc32c (\\w+)")))
      << out;
  EXPECT_EQ(rank0[1], rank1[1]);
  // one metrics row per update of the whole (two-rank) batch
  const std::vector<double> steps = CsvColumn(run + "/metrics.csv", "env_steps");
  ASSERT_EQ(steps.size(), 20u);
  EXPECT_EQ(steps.back(), 20 * 256);
  EXPECT_TRUE(fs::exists(run + "/policy.pt"));
}

TEST_F(RanksTest, ADeadRankEndsTheRunWithAClearErrorAndNothingLeft) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", Experiment(1000000000, 0), "--run-dir", run},
              dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= 3; }, 60)) << train.err();
  std::vector<pid_t> rank1 = RankOne(run);
  ASSERT_EQ(rank1.size(), 1u);
  kill(rank1[0], SIGKILL);
  ASSERT_TRUE(train.Wait(30)) << "the run hung after a rank died";
  EXPECT_EQ(train.exit_code(), 1);
  EXPECT_NE(train.err().find("learner rank 1 ended (signal Killed)"), std::string::npos)
      << train.err();
  EXPECT_TRUE(WaitFor([&] { return ProcessesMatching(run).empty(); }, 10));
}

TEST_F(RanksTest, ADeadRankRestartsEveryRankFromTheCheckpoint) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", Experiment(60 * 256, 2), "--run-dir", run},
              dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= 12; }, 60)) << train.err();
  std::vector<pid_t> rank1 = RankOne(run);
  ASSERT_EQ(rank1.size(), 1u);
  kill(rank1[0], SIGKILL);
  ASSERT_TRUE(train.Wait(120)) << train.err();
  EXPECT_EQ(train.exit_code(), 0) << train.err();
  EXPECT_NE(train.err().find("restarting every rank"), std::string::npos) << train.err();
  const std::vector<double> steps = CsvColumn(run + "/metrics.csv", "env_steps");
  ASSERT_EQ(steps.size(), 60u);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], (i + 1) * 256.0) << i;
}

}  // namespace
}  // namespace robofleet::testing

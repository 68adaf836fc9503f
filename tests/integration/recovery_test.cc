// Crash recovery and resume, with real processes killed for real.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kBatch = 128;

std::string Experiment(const std::string& dir, int64_t steps) {
  std::string path = dir + "/exp.yaml";
  std::ofstream(path) << "name: tiny\nenv:\n  max_episode_steps: 40\n"
                         "actors:\n  count: 2\n  envs_per_actor: 4\n  rollout_length: 16\n"
                         "policy:\n  hidden: [16, 16]\nlearner:\n  batch_size: "
                      << kBatch << "\ntrain:\n  total_env_steps: " << steps
                      << "\n  checkpoint_every: 3\n";
  return path;
}

// The env_steps column of a metrics file.
std::vector<int64_t> Steps(const std::string& run) {
  std::ifstream in(run + "/metrics.csv");
  std::string line;
  std::getline(in, line);
  std::vector<int64_t> steps;
  while (std::getline(in, line)) steps.push_back(std::stoll(line));
  return steps;
}

// Rows one update apart from the first to the last: nothing duplicated or missing.
void ExpectContiguous(const std::vector<int64_t>& steps, size_t rows) {
  ASSERT_EQ(steps.size(), rows);
  for (size_t i = 0; i < steps.size(); ++i) {
    ASSERT_EQ(steps[i], static_cast<int64_t>(i + 1) * kBatch) << "row " << i;
  }
}

// A column of the last metrics row.
std::string LastValue(const std::string& run, const std::string& column) {
  std::ifstream in(run + "/metrics.csv");
  std::string header, line, last, cell;
  std::getline(in, header);
  while (std::getline(in, line)) last = line;
  std::stringstream h(header), l(last);
  while (std::getline(h, cell, ',')) {
    std::string value;
    std::getline(l, value, ',');
    if (cell == column) return value;
  }
  return "";
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    run_ = dir_ + "/run";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, run_;
};

TEST_F(RecoveryTest, KilledLearnerRestartsFromCheckpointAndRowsStayContiguous) {
  Child train({ROBOFLEET_BINARY, "train", Experiment(dir_, 60 * kBatch), "--run-dir", run_},
              dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run_ + "/metrics.csv") >= 10; }, 60)) << train.err();
  std::vector<pid_t> learners = ProcessesMatching("learner --run-dir " + run_);
  ASSERT_EQ(learners.size(), 1u);
  kill(learners[0], SIGKILL);
  ASSERT_TRUE(train.Wait(120)) << train.err();
  EXPECT_EQ(train.exit_code(), 0) << train.err();
  EXPECT_NE(train.err().find("restarting it from its last checkpoint"), std::string::npos)
      << train.err();
  ExpectContiguous(Steps(run_), 60);
  EXPECT_TRUE(fs::exists(run_ + "/policy.pt"));
}

TEST_F(RecoveryTest, KilledActorIsRestartedAndCounted) {
  Child train({ROBOFLEET_BINARY, "train", Experiment(dir_, 80 * kBatch), "--run-dir", run_},
              dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run_ + "/metrics.csv") >= 5; }, 60)) << train.err();
  std::vector<pid_t> actors = ProcessesMatching("actor --run-dir " + run_ + " --index 1");
  ASSERT_EQ(actors.size(), 1u);
  kill(actors[0], SIGKILL);
  ASSERT_TRUE(train.Wait(120)) << train.err();
  EXPECT_EQ(train.exit_code(), 0) << train.err();
  EXPECT_NE(train.err().find("actor 1 ended"), std::string::npos) << train.err();
  EXPECT_EQ(LastValue(run_, "actor_restarts"), "1");
  ExpectContiguous(Steps(run_), 80);
}

TEST_F(RecoveryTest, ResumeContinuesTheRunWhereItStopped) {
  {
    Child first({ROBOFLEET_BINARY, "train", Experiment(dir_, 10 * kBatch), "--run-dir", run_},
                dir_ + "/first");
    ASSERT_TRUE(first.Wait(120)) << first.err();
    ASSERT_EQ(first.exit_code(), 0) << first.err();
  }
  ExpectContiguous(Steps(run_), 10);
  Child resumed({ROBOFLEET_BINARY, "train", "--resume", run_, "--set",
                 "train.total_env_steps=" + std::to_string(20 * kBatch)},
                dir_ + "/resumed");
  ASSERT_TRUE(resumed.Wait(120)) << resumed.err();
  ASSERT_EQ(resumed.exit_code(), 0) << resumed.err();
  EXPECT_NE(resumed.out().find("resuming from"), std::string::npos) << resumed.out();
  ExpectContiguous(Steps(run_), 20);
  // resuming something that is not a run is one clear line
  Child bad({ROBOFLEET_BINARY, "train", "--resume", dir_ + "/nothing"}, dir_ + "/bad");
  ASSERT_TRUE(bad.Wait(30));
  EXPECT_EQ(bad.exit_code(), 2);
  EXPECT_NE(bad.err().find("not a run directory"), std::string::npos) << bad.err();
}

}  // namespace
}  // namespace robofleet::testing

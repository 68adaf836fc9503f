// A robot task end to end: a short run of experiments/quadruped_joystick_flat.yaml
// through real actors and a learner, whose reward terms reach metrics.csv
// and TensorBoard as columns of their own.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  return cells;
}

class RobotTaskTest : public ::testing::Test {
 protected:
  // one short run shared by the tests here: 20-step episodes, so that many end
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("robot"));
    Child train({ROBOFLEET_BINARY, "train",
                 std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/quadruped_joystick_flat.yaml",
                 "--run-dir", Run(), "--set", "env.max_episode_steps=20", "--set",
                 "actors.count=1", "--set", "actors.envs_per_actor=8", "--set",
                 "actors.rollout_length=16", "--set", "learner.batch_size=256", "--set",
                 "policy.hidden=[16, 16]", "--set", "train.total_env_steps=2048"},
                *dir_ + "/train");
    ASSERT_TRUE(train.Wait(120)) << train.err();
    ASSERT_EQ(train.exit_code(), 0) << train.err();
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Run() { return *dir_ + "/run"; }
  static std::string* dir_;
};
std::string* RobotTaskTest::dir_ = nullptr;

TEST_F(RobotTaskTest, EachRewardTermIsAMetricAndTheySumToTheReturn) {
  std::ifstream in(Run() + "/metrics.csv");
  std::string header, line, last;
  ASSERT_TRUE(std::getline(in, header));
  while (std::getline(in, line)) last = line;
  const std::vector<std::string> columns = SplitCsv(header), values = SplitCsv(last);
  ASSERT_EQ(columns.size(), values.size()) << last;
  double sum = 0.0, magnitude = 0.0, episode_return = std::nan("");
  int terms = 0;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == "episode_return_mean") episode_return = std::stod(values[i]);
    if (columns[i].rfind("reward/", 0) != 0) continue;
    ++terms;
    const double value = std::stod(values[i]);
    EXPECT_TRUE(std::isfinite(value)) << columns[i] << " = " << values[i];
    sum += value;
    magnitude += std::abs(value);
  }
  EXPECT_EQ(terms, 13) << header;  // the experiment weighs every term but base_height
  for (const char* name : {"reward/track_lin_vel", "reward/feet_air_time", "reward/termination"}) {
    EXPECT_NE(header.find(name), std::string::npos) << header;
  }
  // both are means over the same last 100 episodes, written with 6 digits
  EXPECT_NEAR(sum, episode_return, 1e-4 * magnitude + 1e-3);
  EXPECT_GT(magnitude, 0.0);
}

TEST_F(RobotTaskTest, TensorBoardHasTheRewardTermsToo) {
  const std::string python = ROBOFLEET_TEST_PYTHON;
  ASSERT_TRUE(fs::exists(python)) << python
                                  << " is missing: run scripts/setup.sh, which makes "
                                     "it and installs TensorBoard's reader into it";
  Child check(
      {python, std::string(ROBOFLEET_SOURCE_DIR) + "/tests/integration/check_tensorboard.py",
       Run()},
      *dir_ + "/tensorboard");
  ASSERT_TRUE(check.Wait(120));
  EXPECT_EQ(check.exit_code(), 0) << check.out() << check.err();
  EXPECT_NE(check.out().find("0 problems"), std::string::npos) << check.out();
}

}  // namespace
}  // namespace robofleet::testing

// Determinism mode: the same seed gives bit-identical metrics and parameters,
// and a run stopped halfway and resumed ends exactly as an uninterrupted one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

std::string Experiment(const std::string& dir, int seed) {
  const std::string path = dir + "/exp" + std::to_string(seed) + ".yaml";
  std::ofstream(path) << "name: exact\nseed: " << seed
                      << "\nenv:\n  max_episode_steps: 40\n"
                         "actors:\n  count: 1\n  envs_per_actor: 4\n  rollout_length: 16\n"
                         "policy:\n  hidden: [16, 16]\nalgorithm:\n  epochs: 2\n"
                         "  minibatches: 2\nlearner:\n  batch_size: 128\ntrain:\n"
                         "  total_env_steps: 5120\n  checkpoint_every: 5\n"
                         "  deterministic: true\n";
  return path;
}

// metrics.csv without the columns that measure time.
std::vector<std::string> MetricsWithoutTimes(const std::string& run) {
  std::ifstream in(run + "/metrics.csv");
  std::vector<std::string> rows;
  std::vector<bool> keep;
  std::string line;
  for (bool header = true; std::getline(in, line); header = false) {
    std::stringstream cells(line);
    std::string cell, row;
    for (size_t i = 0; std::getline(cells, cell, ','); ++i) {
      if (header) keep.push_back(cell != "wall_s" && cell != "sps");
      if (i < keep.size() && keep[i]) row += cell + ",";
    }
    rows.push_back(row);
  }
  return rows;
}

// The parameter checksum the learner prints at the end.
std::string ParameterChecksum(const Child& train) {
  const std::string out = train.out();
  const std::regex checksum("parameters crc32c (\\w+)");
  std::string last;
  for (std::sregex_iterator it(out.begin(), out.end(), checksum), end; it != end; ++it) {
    last = (*it)[1];
  }
  return last;
}

class DeterminismTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("determinism"); }
  void TearDown() override { fs::remove_all(dir_); }

  // A whole run; returns its parameter checksum.
  std::string Train(const std::string& name, int seed) {
    Child train({ROBOFLEET_BINARY, "train", Experiment(dir_, seed), "--run-dir", dir_ + "/" + name},
                dir_ + "/" + name);
    EXPECT_TRUE(train.Wait(120)) << name << " did not finish";
    EXPECT_EQ(train.exit_code(), 0) << train.err();
    return ParameterChecksum(train);
  }

  std::string dir_;
};

TEST_F(DeterminismTest, SameSeedSameRunAndResumeContinuesExactly) {
  const std::string a = Train("a", 9), b = Train("b", 9);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  const std::vector<std::string> metrics = MetricsWithoutTimes(dir_ + "/a");
  ASSERT_EQ(metrics.size(), 41u);  // header and 40 updates
  EXPECT_EQ(MetricsWithoutTimes(dir_ + "/b"), metrics);
  // the checksum does tell runs apart
  EXPECT_NE(Train("other_seed", 10), a);

  // stopped after at least 20 updates, then resumed
  const std::string c = dir_ + "/c";
  {
    Child train({ROBOFLEET_BINARY, "train", Experiment(dir_, 9), "--run-dir", c}, dir_ + "/c1");
    ASSERT_TRUE(WaitFor([&] { return CsvRows(c + "/metrics.csv") >= 20; }, 60)) << train.err();
    kill(train.pid(), SIGINT);
    ASSERT_TRUE(train.Wait(30));
    ASSERT_EQ(train.exit_code(), 130) << train.err();  // stopped, not finished
  }
  ASSERT_LT(CsvRows(c + "/metrics.csv"), 40) << "the run ended before it could be stopped";
  Child resumed({ROBOFLEET_BINARY, "train", "--resume", c}, dir_ + "/c2");
  ASSERT_TRUE(resumed.Wait(120));
  ASSERT_EQ(resumed.exit_code(), 0) << resumed.err();
  EXPECT_NE(resumed.out().find("resuming from"), std::string::npos) << resumed.out();
  EXPECT_EQ(ParameterChecksum(resumed), a);
  EXPECT_EQ(MetricsWithoutTimes(c), metrics);
}

TEST_F(DeterminismTest, NeedsOneActor) {
  const std::string path = Experiment(dir_, 9);
  Child train(
      {ROBOFLEET_BINARY, "train", path, "--set", "actors.count=2", "--run-dir", dir_ + "/two"},
      dir_ + "/two");
  ASSERT_TRUE(train.Wait(30));
  EXPECT_EQ(train.exit_code(), 2);
  EXPECT_NE(train.err().find("train.deterministic"), std::string::npos) << train.err();
  EXPECT_NE(train.err().find("actors.count: 1"), std::string::npos) << train.err();
}

}  // namespace
}  // namespace robofleet::testing

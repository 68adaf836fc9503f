// Chaos: the default experiment while actors are killed every few seconds
// and the learner once. It must finish, learn as well as without faults, and
// lose no checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int64_t kBatch = 8192;  // learner.batch_size of the default experiment

std::string Newest(const std::string& run) {
  std::ifstream in(run + "/checkpoints/latest");
  std::string name;
  std::getline(in, name);
  return name;
}

TEST(ChaosTest, KilledActorsAndLearnerStillLearnTheDefaultExperiment) {
  const std::string dir = MakeTempDir("chaos");
  const std::string run = dir + "/run";
  Child train(
      {ROBOFLEET_BINARY, "train",
       std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/cartpole_swingup.yaml", "--run-dir", run,
       "--set", "train.checkpoint_every=10", "--set", "launcher.actor_restarts_per_minute=40"},
      dir + "/train");
  std::mt19937 rng(3);
  int actor_kills = 0;
  std::string newest_at_learner_kill;
  const Clock::time_point start = Clock::now();
  Clock::time_point next_kill = start + std::chrono::seconds(3);
  while (!train.Wait(0.1)) {
    ASSERT_LT(Clock::now() - start, std::chrono::seconds(300)) << "no result in 5 minutes";
    if (Clock::now() < next_kill) continue;
    next_kill = Clock::now() + std::chrono::seconds(3);
    // the learner once, a third of the way in, just after a checkpoint
    if (newest_at_learner_kill.empty() && CsvRows(run + "/metrics.csv") >= 100) {
      std::vector<pid_t> learner = ProcessesMatching("learner --run-dir " + run);
      if (learner.size() == 1) {
        newest_at_learner_kill = Newest(run);
        kill(learner[0], SIGKILL);
        continue;
      }
    }
    std::vector<pid_t> actors = ProcessesMatching("actor --run-dir " + run);
    if (!actors.empty()) {
      kill(actors[rng() % actors.size()], SIGKILL);
      ++actor_kills;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(train.exit_code(), 0) << train.err();
  ASSERT_FALSE(newest_at_learner_kill.empty()) << "the learner was never killed";

  // it learned as the fault-free learning test demands
  std::vector<double> returns = CsvColumn(run + "/metrics.csv", "episode_return_mean");
  ASSERT_FALSE(returns.empty());
  const double best = *std::max_element(returns.begin(), returns.end());
  const std::vector<double> restarts = CsvColumn(run + "/metrics.csv", "actor_restarts");
  std::printf(
      "chaos: %d actor kills (%g counted by the learner), learner killed after %s; "
      "best mean return %.1f, final %.1f, %.0f s\n",
      actor_kills, restarts.back(), newest_at_learner_kill.c_str(), best, returns.back(), seconds);
  EXPECT_GE(actor_kills, 5);
  EXPECT_GE(restarts.back(), 1.0);
  EXPECT_GE(best, 700.0) << train.out();

  // the restarted learner went on from the newest checkpoint there was
  std::smatch m;
  const std::string out = train.out();
  ASSERT_TRUE(std::regex_search(out, m, std::regex("resuming from \\S*/(ckpt-\\d+\\.pt)"))) << out;
  const auto update_of = [](const std::string& name) {
    return std::stoll(name.substr(name.find('-') + 1));
  };
  EXPECT_GE(update_of(m[1]), update_of(newest_at_learner_kill));

  // metrics: one row per update, none duplicated or missing across the restart
  const std::vector<double> steps = CsvColumn(run + "/metrics.csv", "env_steps");
  for (size_t i = 0; i < steps.size(); ++i) {
    ASSERT_EQ(static_cast<int64_t>(steps[i]), static_cast<int64_t>(i + 1) * kBatch) << "row " << i;
  }
  // every checkpoint kept is whole: each one exports
  int checkpoints = 0;
  for (const auto& entry : fs::directory_iterator(run + "/checkpoints")) {
    if (entry.path().extension() != ".pt") continue;
    Child exported({ROBOFLEET_BINARY, "export", run, "--checkpoint", entry.path().string(), "--out",
                    dir + "/exported.pt"},
                   dir + "/export");
    ASSERT_TRUE(exported.Wait(60));
    EXPECT_EQ(exported.exit_code(), 0) << entry.path() << ": " << exported.err();
    ++checkpoints;
  }
  EXPECT_EQ(checkpoints, 5);  // train.keep_checkpoints
  fs::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

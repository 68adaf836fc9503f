// Stopping a run as a user does: Ctrl-C at a terminal, which reaches the
// whole foreground process group (the launcher leads a session of its own
// here, and the signal goes to its group). Once: the final checkpoint, a
// stopped run that resumes. Twice: every process of the run ends at once,
// and none outlives the launcher.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 128;

const char* kTinyExperiment = R"(name: tiny
seed: 4
env:
  id: cartpole_swingup
  max_episode_steps: 40
actors:
  count: 2
  envs_per_actor: 4
  rollout_length: 16
policy:
  hidden: [16, 16]
algorithm:
  epochs: 2
  minibatches: 2
  max_policy_lag: 1000
learner:
  batch_size: 128
train:
  total_env_steps: 1000000000
  checkpoint_every: 2
  log_every_s: 0.2
)";

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The fields of /proc/PID/stat after the command name: [0] state, [1] ppid,
// [2] process group, [3] session; empty when there is no such process.
std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::stringstream rest(text.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string field; fields.size() < 4 && rest >> field;) fields.push_back(field);
  return fields;
}

// Every process of session `sid`, zombies included: all that a launcher
// leading that session started, and their children.
std::vector<pid_t> SessionProcesses(pid_t sid) {
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::vector<std::string> fields = StatFields(std::stoi(name));
    if (fields.size() == 4 && fields[3] == std::to_string(sid)) pids.push_back(std::stoi(name));
  }
  return pids;
}

// Whether process `pid` exists, zombie or not.
bool Exists(pid_t pid) { return !StatFields(pid).empty(); }

// The signal numbers set in a mask line of /proc/PID/status ("SigIgn:",
// "SigCgt:") hold `signo`.
bool InSignalMask(pid_t pid, const std::string& key, int signo) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    const unsigned long long mask = std::stoull(line.substr(key.size()), nullptr, 16);
    return (mask >> (signo - 1)) & 1u;
  }
  return false;
}

// Env steps of the newest checkpoint, as its manifest (written last, so
// only whole checkpoints have one) says; -1 when there is none.
int64_t NewestCheckpointSteps(const std::string& run) {
  int64_t newest = -1, steps = -1;
  const std::regex manifest_name(R"(ckpt-(\d+)\.json)");
  const std::regex env_steps(R"("env_steps": (\d+))");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run + "/checkpoints", ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, m, manifest_name) || std::stoll(m[1]) < newest) continue;
    const std::string text = Child::Slurp(entry.path().string());
    std::smatch s;
    if (!std::regex_search(text, s, env_steps)) continue;
    newest = std::stoll(m[1]);
    steps = std::stoll(s[1]);
  }
  return steps;
}

// The percentages of the progress lines in `out` ("[ 42%] steps ...").
std::vector<int> ProgressPercents(const std::string& out) {
  std::vector<int> percents;
  const std::regex line(R"(\[\s*(\d+)%\] steps)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
       ++it) {
    percents.push_back(std::stoi((*it)[1]));
  }
  return percents;
}

class StopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    run_ = dir_ + "/run";
    std::ofstream(dir_ + "/exp.yaml") << kTinyExperiment;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // robofleet train as a terminal's foreground job: a session of its own.
  std::unique_ptr<Child> StartTrain() {
    return std::make_unique<Child>(
        std::vector<std::string>{ROBOFLEET_BINARY, "train", dir_ + "/exp.yaml", "--run-dir", run_},
        dir_ + "/train", /*new_session=*/true);
  }

  // Ctrl-C at the terminal: SIGINT to the job's whole process group.
  static void CtrlC(const Child& job) { ASSERT_EQ(kill(-job.pid(), SIGINT), 0); }

  // After the launcher's exit: nothing of its session is left, zombies
  // included, and none of `seen` (processes of the run while it ran) lives.
  void ExpectNothingLeft(pid_t launcher, const std::vector<pid_t>& seen) {
    const bool empty = WaitFor([&] { return SessionProcesses(launcher).empty(); }, 5);
    EXPECT_TRUE(empty) << SessionProcesses(launcher).size()
                       << " processes of the run outlived the launcher";
    for (pid_t pid : seen) EXPECT_FALSE(Exists(pid)) << "process " << pid << " survived";
  }

  std::string dir_, run_;
};

TEST_F(StopTest, OneCtrlCStopsAfterTheFinalCheckpointSaysWhereAndResumeGoesOn) {
  std::unique_ptr<Child> train = StartTrain();
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run_ + "/metrics.csv") >= 3; }, 60)) << train->err();
  const std::vector<pid_t> seen = SessionProcesses(train->pid());
  ASSERT_GE(seen.size(), 4u);  // launcher, learner, 2 actors
  const Clock::time_point start = Clock::now();
  CtrlC(*train);
  ASSERT_TRUE(train->Wait(20)) << "no exit within 20 s of Ctrl-C\n" << train->err();
  std::printf("Ctrl-C to exit: %.2f s\n", SecondsSince(start));
  EXPECT_EQ(train->exit_code(), 130) << train->err();
  ExpectNothingLeft(train->pid(), seen);

  // the final checkpoint holds every update the run made, and the last word says so
  const int64_t steps = NewestCheckpointSteps(run_);
  const std::vector<double> rows = CsvColumn(run_ + "/metrics.csv", "env_steps");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(steps, static_cast<int64_t>(rows.back()));
  const std::string out = train->out();
  EXPECT_NE(out.find("robofleet: stopped at " + std::to_string(steps) +
                     " env steps; resume with robofleet train --resume " + run_ + "\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("robofleet: done"), std::string::npos) << out;

  // resumed with a total that is no multiple of the batch: the last batch
  // goes past it, and the progress lines stay honest about that
  const int64_t total = steps + kBatch + kBatch / 2;
  Child resumed(
      {ROBOFLEET_BINARY, "train", "--resume", run_, "--set",
       "train.total_env_steps=" + std::to_string(total), "--set", "train.log_every_s=0.000001"},
      dir_ + "/resumed");
  ASSERT_TRUE(resumed.Wait(90)) << resumed.err();
  ASSERT_EQ(resumed.exit_code(), 0) << resumed.out() << resumed.err();
  const std::string resumed_out = resumed.out();
  EXPECT_NE(resumed_out.find("at " + std::to_string(steps) + " env steps"), std::string::npos)
      << resumed_out;
  EXPECT_NE(resumed_out.find("robofleet: done; policy at"), std::string::npos) << resumed_out;
  const std::vector<double> after = CsvColumn(run_ + "/metrics.csv", "env_steps");
  ASSERT_EQ(after.size(), rows.size() + 2);
  EXPECT_EQ(after[rows.size()], static_cast<double>(steps + kBatch));
  EXPECT_EQ(after.back(), static_cast<double>(steps + 2 * kBatch));
  const std::vector<int> percents = ProgressPercents(resumed_out);
  ASSERT_FALSE(percents.empty()) << resumed_out;
  EXPECT_LE(*std::max_element(percents.begin(), percents.end()), 100) << resumed_out;
  EXPECT_EQ(percents.back(), 100) << resumed_out;
  const size_t last_line = resumed_out.rfind("] steps ");
  const std::string last =
      resumed_out.substr(last_line, resumed_out.find('\n', last_line) - last_line);
  EXPECT_NE(last.find("| eta 0s"), std::string::npos) << last;
}

TEST_F(StopTest, TwoCtrlCsWhileTheLearnerStartsEndEveryProcessOfTheRun) {
  std::unique_ptr<Child> train = StartTrain();
  // the learner is there, but has not trained yet
  ASSERT_TRUE(WaitFor([&] { return !ProcessesMatching("learner --run-dir " + run_).empty(); }, 30))
      << train->err();
  const std::vector<pid_t> seen = SessionProcesses(train->pid());
  ASSERT_GE(seen.size(), 2u);
  const Clock::time_point start = Clock::now();
  CtrlC(*train);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CtrlC(*train);
  ASSERT_TRUE(train->Wait(10)) << "no exit within 10 s of two Ctrl-Cs\n" << train->err();
  std::printf("two Ctrl-Cs to exit: %.2f s\n", SecondsSince(start));
  EXPECT_EQ(train->exit_code(), 130) << train->err();
  ExpectNothingLeft(train->pid(), seen);
  EXPECT_EQ(train->out().find("robofleet: done"), std::string::npos) << train->out();
}

TEST_F(StopTest, TwoCtrlCsWhileTrainingEndEveryProcessAtOnce) {
  std::unique_ptr<Child> train = StartTrain();
  // the third row comes after the second update's checkpoint
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run_ + "/metrics.csv") >= 3; }, 60)) << train->err();
  const std::vector<pid_t> seen = SessionProcesses(train->pid());
  ASSERT_GE(seen.size(), 4u);  // launcher, learner, 2 actors
  // the launcher's children take the terminal's SIGINT from the launcher
  // alone: they ignore it, and stop on its SIGTERM
  for (pid_t pid : seen) {
    if (pid == train->pid()) continue;
    EXPECT_TRUE(InSignalMask(pid, "SigIgn:", SIGINT)) << "process " << pid;
    EXPECT_TRUE(InSignalMask(pid, "SigCgt:", SIGTERM)) << "process " << pid;
  }
  const Clock::time_point start = Clock::now();
  CtrlC(*train);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CtrlC(*train);
  ASSERT_TRUE(train->Wait(5)) << "no exit within 5 s of two Ctrl-Cs\n" << train->err();
  std::printf("two Ctrl-Cs to exit: %.2f s\n", SecondsSince(start));
  EXPECT_EQ(train->exit_code(), 130) << train->err();
  ExpectNothingLeft(train->pid(), seen);
  // what is left to resume from is the newest checkpoint, and the launcher
  // names it (the final checkpoint of the stop, started by the first Ctrl-C
  // and cut short by the second, never leaves a checkpoint half rewritten)
  const int64_t newest = NewestCheckpointSteps(run_);
  ASSERT_GT(newest, 0);
  const std::string out = train->out();
  std::smatch named;
  ASSERT_TRUE(std::regex_search(
      out, named, std::regex(R"(robofleet: stopped at (\d+) env steps; resume with)")))
      << out;
  const int64_t steps = std::stoll(named[1]);
  EXPECT_GT(steps, 0) << out;
  EXPECT_EQ(steps, newest) << out;
  EXPECT_EQ(steps % kBatch, 0) << "a checkpoint is taken after each update\n" << out;
  EXPECT_EQ(out.find("robofleet: done"), std::string::npos) << out;
}

}  // namespace
}  // namespace robofleet::testing

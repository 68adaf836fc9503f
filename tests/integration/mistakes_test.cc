// Ordinary mistakes against real runs: each is refused with one line and
// exit 2, and no file of any run changes. Two tiny runs are trained once for
// the whole suite; every refused command is checked against a snapshot of
// every byte under the test's folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

const char* kTiny = R"(name: tiny
seed: 3
env:
  id: cartpole_swingup
  max_episode_steps: 40
actors:
  count: 1
  envs_per_actor: 4
  rollout_length: 16
policy:
  hidden: [16, 16]
algorithm:
  epochs: 1
  minibatches: 2
learner:
  batch_size: 128
train:
  total_env_steps: 384
  checkpoint_every: 1
  log_every_s: 0.01
)";

// Every file under `root` with its bytes and modification time.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_directory()) {
      files[entry.path().string() + "/"] = "";
      continue;
    }
    if (!entry.is_regular_file()) continue;  // sockets of finished runs are gone
    const auto mtime = fs::last_write_time(entry.path()).time_since_epoch().count();
    files[entry.path().string()] = std::to_string(mtime) + ":" + Child::Slurp(entry.path());
  }
  return files;
}

class MistakesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = MakeTempDir("mistakes");
    std::ofstream(dir_ + "/tiny.yaml") << kTiny;
    Train("run_a", {});
    Train("run_b", {"--set", "policy.hidden=[8, 8]"});
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static void Train(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {ROBOFLEET_BINARY, "train", dir_ + "/tiny.yaml", "--run-dir",
                                     dir_ + "/" + name};
    args.insert(args.end(), extra.begin(), extra.end());
    Child train(args, dir_ + "/" + name + "-train");
    ASSERT_TRUE(train.Wait(120)) << train.err();
    ASSERT_EQ(train.exit_code(), 0) << train.err();
  }

  // Runs robofleet with `args`; expects exit 2, one line on stderr holding
  // `fragment`, and no file under the test's folder changed.
  static void ExpectRefused(const std::vector<std::string>& args, const std::string& fragment) {
    std::string shown = "robofleet";
    for (const auto& a : args) shown += " " + a;
    SCOPED_TRACE(shown);
    const auto before = Snapshot(dir_);
    std::vector<std::string> argv = {ROBOFLEET_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    Child child(argv, "/tmp/rf-mistakes-" + std::to_string(getpid()));
    ASSERT_TRUE(child.Wait(60)) << "hung";
    const std::string err = child.err();
    EXPECT_EQ(child.exit_code(), 2) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find(fragment), std::string::npos) << err;
    const auto after = Snapshot(dir_);
    for (const auto& [path, stamp] : after) {
      EXPECT_TRUE(before.count(path)) << "made " << path;
      if (before.count(path)) {
        EXPECT_EQ(before.at(path), stamp) << "changed " << path;
      }
    }
    for (const auto& [path, stamp] : before) EXPECT_TRUE(after.count(path)) << "removed " << path;
  }

  static std::string Newest(const std::string& run) {
    std::string latest;
    std::ifstream(run + "/checkpoints/latest") >> latest;
    return run + "/checkpoints/" + latest;
  }

  static std::string dir_;
};

std::string MistakesTest::dir_;

TEST_F(MistakesTest, ResumeRefusesNewShapes) {
  const std::string run = dir_ + "/run_a";
  ExpectRefused({"train", "--resume", run, "--set", "env.id=hopper"},
                "--resume cannot change 'env.id'");
  ExpectRefused({"train", "--resume", run, "--set", "policy.hidden=[32,32]"},
                "--resume cannot change 'policy.hidden'");
  ExpectRefused({"train", dir_ + "/tiny.yaml", "--resume", run}, "would be ignored");
  ExpectRefused({"train", "--resume", run, "--run-dir", dir_ + "/elsewhere"}, "keep --resume");
}

TEST_F(MistakesTest, ExportRefusesAnotherRunsCheckpoint) {
  ExpectRefused({"export", dir_ + "/run_b", "--checkpoint", Newest(dir_ + "/run_a")},
                "was written by another run");
  ExpectRefused({"export", dir_ + "/run_a", "--checkpoint", dir_ + "/run_a/config.yaml"},
                "not a sound checkpoint");
}

TEST_F(MistakesTest, OutputPathsAreCheckedFirst) {
  const std::string run = dir_ + "/run_a";
  ExpectRefused({"export", run, "--out", dir_ + "/missing/policy.pt"},
                "the folder " + dir_ + "/missing does not exist");
  ExpectRefused({"export", run, "--out", run}, "is a folder");
  ExpectRefused({"eval", run + "/policy.pt", "--episodes", "1", "--video", dir_ + "/no/v.mp4"},
                "does not exist");
}

TEST_F(MistakesTest, ArgumentsAreNeverIgnored) {
  const std::string exp = dir_ + "/tiny.yaml";
  ExpectRefused({"train", exp, exp}, "unexpected argument");
  ExpectRefused({"config", exp, "--set", "actors.count=100000"}, "above the limit of 1024");
  ExpectRefused({"train", dir_}, "is a folder, not an experiment file");
  ExpectRefused({"config", dir_}, "is a folder, not an experiment file");
  ExpectRefused({"train", exp, "--nnodes", "100000"}, "--nnodes must be in [1, 4096]");
  ExpectRefused({"eval", dir_ + "/run_a/policy.pt", "--episodes", "1", "--video", dir_ + "/v.mp4",
                 "--width", "100000"},
                "at most 7680 x 4320");
}

TEST_F(MistakesTest, ModelsWithoutActuatorsOrFilesAreRefused) {
  fs::create_directories(dir_ + "/robots");
  std::ofstream(dir_ + "/robots/still.xml") << R"(<mujoco>
  <worldbody>
    <body name="torso" pos="0 0 1">
      <joint name="slide" type="slide" axis="1 0 0"/>
      <geom type="sphere" size="0.1"/>
    </body>
  </worldbody>
</mujoco>
)";
  std::ofstream(dir_ + "/robots/still.yaml") << "extends: ../tiny.yaml\n"
                                                "env:\n  id: mjcf\n  mjcf:\n    path: still.xml\n";
  std::ofstream(dir_ + "/robots/lost.yaml") << "extends: ../tiny.yaml\n"
                                               "env:\n  id: mjcf\n  mjcf:\n    path: lost.xml\n";
  // relative paths are the file's: the error names the resolved file and the key
  ExpectRefused({"train", dir_ + "/robots/still.yaml", "--run-dir", dir_ + "/r1"}, "no actuators");
  ExpectRefused({"train", dir_ + "/robots/lost.yaml", "--run-dir", dir_ + "/r2"},
                "env.mjcf.path: cannot read the MJCF file " + dir_ + "/robots/lost.xml");
  fs::remove_all(dir_ + "/robots");
}

TEST_F(MistakesTest, ExportReplacesThePolicyWithOneThatRuns) {
  const std::string run = dir_ + "/run_a";
  const auto before = fs::last_write_time(run + "/policy.pt");
  Child exported({ROBOFLEET_BINARY, "export", run}, dir_ + "/export");
  ASSERT_TRUE(exported.Wait(60));
  ASSERT_EQ(exported.exit_code(), 0) << exported.err();
  EXPECT_GT(fs::last_write_time(run + "/policy.pt"), before);
  for (const auto& entry : fs::directory_iterator(run)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
  Child eval({ROBOFLEET_BINARY, "eval", run + "/policy.pt", "--episodes", "1"}, dir_ + "/eval");
  ASSERT_TRUE(eval.Wait(60));
  EXPECT_EQ(eval.exit_code(), 0) << eval.err();
}

TEST_F(MistakesTest, ResumeMayLengthenTheRun) {
  const std::string run = dir_ + "/run_b";
  Child resumed({ROBOFLEET_BINARY, "train", "--resume", run, "--set", "train.total_env_steps=640"},
                dir_ + "/resume");
  ASSERT_TRUE(resumed.Wait(120));
  ASSERT_EQ(resumed.exit_code(), 0) << resumed.err();
  EXPECT_EQ(CsvRows(run + "/metrics.csv"), 5);
}

TEST_F(MistakesTest, AnActorThatCannotTakeTheWeightsEndsTheRun) {
  // a run whose config.yaml is changed under it: the restarted actor builds
  // the new network, cannot use the learner's weights and exits 2, and the
  // launcher ends the run instead of restarting it forever
  const std::string run = dir_ + "/run_c";
  Child train({ROBOFLEET_BINARY, "train", dir_ + "/tiny.yaml", "--run-dir", run, "--set",
               "train.total_env_steps=100000000"},
              dir_ + "/run_c-train");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(run + "/checkpoints/latest"); }, 60)) << train.err();
  std::string config = Child::Slurp(run + "/config.yaml");
  const size_t at = config.find("hidden: [16, 16]");
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, 16, "hidden: [8, 8]");
  std::ofstream(run + "/config.yaml.new") << config;
  fs::rename(run + "/config.yaml.new", run + "/config.yaml");
  const std::vector<pid_t> actors = ProcessesMatching("actor --run-dir " + run);
  ASSERT_EQ(actors.size(), 1u);
  kill(actors[0], SIGKILL);
  ASSERT_TRUE(train.Wait(60)) << "the run went on\n" << train.err();
  const std::string err = train.err();
  EXPECT_EQ(train.exit_code(), 1) << err;
  EXPECT_NE(err.find("the learner's weights do not fit this actor's policy"), std::string::npos)
      << err;
  EXPECT_NE(err.find("actor 0 cannot run"), std::string::npos) << err;
  EXPECT_LT(std::count(err.begin(), err.end(), '\n'), 10) << err;
  EXPECT_TRUE(ProcessesMatching("--run-dir " + run).empty());
}

}  // namespace
}  // namespace robofleet::testing

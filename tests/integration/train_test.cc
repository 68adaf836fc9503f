// End to end: the real robofleet binary, real child processes, real ipc sockets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

const char* kTinyExperiment = R"(name: tiny
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
algorithm:
  epochs: 2
  minibatches: 2
  max_policy_lag: 1000
learner:
  batch_size: 128
train:
  total_env_steps: %STEPS%
  checkpoint_every: 2
  log_every_s: 0.01
)";

class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WriteExperiment(int64_t steps, const std::string& name = "exp.yaml") {
    std::string text = kTinyExperiment;
    text.replace(text.find("%STEPS%"), 7, std::to_string(steps));
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

TEST_F(TrainTest, FiveUpdatesOverIpcEndWithPolicyAndCheckpoints) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", WriteExperiment(5 * 128), "--run-dir", run},
              dir_ + "/train");
  ASSERT_TRUE(train.Wait(120)) << "training did not finish\n" << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.out() << train.err();

  EXPECT_EQ(CsvRows(run + "/metrics.csv"), 5);
  std::string header = Child::Slurp(run + "/metrics.csv").substr(0, 200);
  for (const char* column : {"env_steps", "wall_s", "sps", "episode_return_mean",
                             "episode_len_mean", "policy_loss", "value_loss", "entropy",
                             "approx_kl", "clip_frac", "policy_lag_mean", "dropped_fragments"}) {
    EXPECT_NE(header.find(column), std::string::npos) << column;
  }
  EXPECT_TRUE(fs::exists(run + "/policy.pt"));
  EXPECT_GT(fs::file_size(run + "/policy.pt"), 1000u);
  EXPECT_TRUE(fs::exists(run + "/checkpoints/latest"));
  EXPECT_TRUE(fs::exists(run + "/checkpoints/ckpt-5.pt"));
  // the resolved config repeats the run: it holds the experiment's values and every default
  std::string config = Child::Slurp(run + "/config.yaml");
  EXPECT_NE(config.find("total_env_steps: 640"), std::string::npos) << config;
  EXPECT_NE(config.find("gae_lambda:"), std::string::npos) << config;
  EXPECT_NE(train.out().find("policy at"), std::string::npos) << train.out();
  // no socket files or children left behind
  EXPECT_TRUE(ProcessesMatching(run).empty());
}

TEST_F(TrainTest, ReceivingDuringTheUpdateTrainsEveryBatch) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", WriteExperiment(30 * 128), "--run-dir", run, "--set",
               "learner.receive_during_update=true", "--set", "algorithm.epochs=8"},
              dir_ + "/train");
  ASSERT_TRUE(train.Wait(120)) << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.err();
  const std::vector<double> steps = CsvColumn(run + "/metrics.csv", "env_steps");
  ASSERT_EQ(steps.size(), 30u);
  // one row per update, none lost or doubled by the second batch filling beside the update
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], (i + 1) * 128.0);
}

TEST_F(TrainTest, SetOverridesReachTheRun) {
  const std::string run = dir_ + "/run";
  Child train(
      {ROBOFLEET_BINARY, "train", WriteExperiment(10000), "--run-dir", run, "--set",
       "train.total_env_steps=256", "--set", "actors.count=1", "--set", "policy.hidden=[8, 12]"},
      dir_ + "/train");
  ASSERT_TRUE(train.Wait(120)) << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.err();
  EXPECT_EQ(CsvRows(run + "/metrics.csv"), 2);
  std::string config = Child::Slurp(run + "/config.yaml");
  EXPECT_NE(config.find("count: 1"), std::string::npos) << config;
  // a list value keeps its commas
  EXPECT_NE(config.find("hidden: [8, 12]"), std::string::npos) << config;
}

TEST_F(TrainTest, KillingTheLauncherLeavesNoStrayProcess) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", WriteExperiment(1000000000), "--run-dir", run},
              dir_ + "/train");
  // wait until the learner has trained, so all children are up and busy
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= 2; }, 60)) << train.err();
  ASSERT_EQ(ProcessesMatching(run).size(), 4u);  // launcher, learner, 2 actors
  kill(train.pid(), SIGKILL);
  ASSERT_TRUE(train.Wait(10));
  EXPECT_TRUE(WaitFor([&] { return ProcessesMatching(run).empty(); }, 15))
      << ProcessesMatching(run).size() << " processes of the run still alive";
}

TEST_F(TrainTest, InterruptStopsCleanlyWithCheckpointAndPolicy) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", WriteExperiment(1000000000), "--run-dir", run},
              dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= 3; }, 60)) << train.err();
  kill(train.pid(), SIGINT);
  ASSERT_TRUE(train.Wait(30)) << "launcher did not stop after SIGINT";
  EXPECT_EQ(train.exit_code(), 130) << train.err();
  EXPECT_TRUE(fs::exists(run + "/policy.pt"));
  EXPECT_TRUE(fs::exists(run + "/checkpoints/latest"));
  // a stopped run is not a finished one
  EXPECT_NE(train.out().find("robofleet: stopped at "), std::string::npos) << train.out();
  EXPECT_EQ(train.out().find("robofleet: done"), std::string::npos) << train.out();
  EXPECT_TRUE(WaitFor([&] { return ProcessesMatching(run).empty(); }, 10));
}

// Bad input: exit status 2, one line on stderr naming the problem, no run directory.
struct BadInput {
  const char* name;
  std::string yaml;  // written to exp.yaml unless empty
  std::vector<std::string> extra_args;
  std::vector<std::string> expected;  // fragments of the error line
};

void PrintTo(const BadInput& p, std::ostream* os) { *os << p.name; }

class BadInputTest : public TrainTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(BadInputTest, OneClearLineExitTwoNothingLeftBehind) {
  const BadInput& p = GetParam();
  std::string exp = dir_ + "/exp.yaml";
  if (!p.yaml.empty())
    std::ofstream(exp) << p.yaml;
  else
    exp = dir_ + "/missing.yaml";
  const std::string run = dir_ + "/run";
  std::vector<std::string> args = {ROBOFLEET_BINARY, "train", exp, "--run-dir", run};
  args.insert(args.end(), p.extra_args.begin(), p.extra_args.end());
  Child train(args, dir_ + "/train");
  ASSERT_TRUE(train.Wait(30));
  EXPECT_EQ(train.exit_code(), 2) << train.err();
  std::string err = train.err();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  for (const auto& fragment : p.expected) EXPECT_NE(err.find(fragment), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(run)) << "a run directory was left behind";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadInputTest,
    ::testing::Values(
        BadInput{"MissingFile", "", {}, {"missing.yaml", "cannot read"}},
        BadInput{"SyntaxError", "name: x\nactors: {count: 2\n", {}, {"exp.yaml:", "syntax"}},
        BadInput{"UnknownKey",
                 "actors:\n  envs_per_actr: 4\n",
                 {},
                 {"exp.yaml:2", "actors.envs_per_actr", "actors.envs_per_actor"}},
        BadInput{"WrongType",
                 "train:\n  total_env_steps: lots\n",
                 {},
                 {"exp.yaml:2", "train.total_env_steps", "integer"}},
        BadInput{"UnknownEnv",
                 "env:\n  id: cartpol\n",
                 {},
                 {"unknown env 'cartpol'", "cartpole_swingup"}},
        BadInput{"NonPositiveCount",
                 "actors:\n  envs_per_actor: 0\n",
                 {},
                 {"actors.envs_per_actor", ">= 1"}},
        BadInput{"BadOverride",
                 "name: ok\n",
                 {"--set", "actors.count=two"},
                 {"actors.count", "integer"}},
        BadInput{"BindWithScheme",
                 "transport:\n  bind: tcp://0.0.0.0:5555\n",
                 {},
                 {"transport.bind", "no scheme, no port"}},
        BadInput{"BindNotThisHost",
                 "transport:\n  bind: 192.0.2.7\n",
                 {},
                 {"transport.bind", "cannot listen on 192.0.2.7"}},
        BadInput{"UnknownFlag", "name: ok\n", {"--no-such-flag"}, {"no-such-flag"}}),
    [](const ::testing::TestParamInfo<BadInput>& param_info) { return param_info.param.name; });

TEST(CliTest, HelpListsSubcommands) {
  std::string dir = MakeTempDir("help");
  Child help({ROBOFLEET_BINARY, "--help"}, dir + "/help");
  ASSERT_TRUE(help.Wait(10));
  EXPECT_EQ(help.exit_code(), 0);
  for (const char* cmd : {"train", "learner", "actor", "bench"}) {
    EXPECT_NE(help.out().find(cmd), std::string::npos) << cmd;
  }
  Child train_help({ROBOFLEET_BINARY, "train", "--help"}, dir + "/train_help");
  ASSERT_TRUE(train_help.Wait(10));
  EXPECT_EQ(train_help.exit_code(), 0);
  EXPECT_NE(train_help.out().find("--set"), std::string::npos);
  fs::remove_all(dir);
}

TEST(CliTest, ConfigReferenceDocIsInStepWithTheStructs) {
  std::string dir = MakeTempDir("reference");
  Child ref({ROBOFLEET_BINARY, "config", "--reference"}, dir + "/ref");
  ASSERT_TRUE(ref.Wait(10));
  ASSERT_EQ(ref.exit_code(), 0) << ref.err();
  const std::string doc = Child::Slurp(std::string(ROBOFLEET_SOURCE_DIR) + "/docs/config.md");
  EXPECT_NE(doc.find(ref.out()), std::string::npos)
      << "docs/config.md is out of date; regenerate its table with "
         "`robofleet config --reference`";
  fs::remove_all(dir);
}

TEST(CliTest, ConfigPrintsResolvedExperiment) {
  std::string dir = MakeTempDir("config");
  Child config({ROBOFLEET_BINARY, "config",
                std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/cartpole_swingup.yaml", "--set",
                "seed=77"},
               dir + "/config");
  ASSERT_TRUE(config.Wait(10));
  ASSERT_EQ(config.exit_code(), 0) << config.err();
  EXPECT_NE(config.out().find("seed: 77"), std::string::npos) << config.out();
  EXPECT_NE(config.out().find("id: \"cartpole_swingup\""), std::string::npos) << config.out();
  fs::remove_all(dir);
}

TEST(CliTest, BenchLearnerPrintsJson) {
  std::string dir = MakeTempDir("bench");
  Child bench({ROBOFLEET_BINARY, "bench", "learner", "--hidden", "16,16", "--batch", "512",
               "--minibatch", "128", "--epochs", "1", "--seconds", "0.2", "--json"},
              dir + "/bench");
  ASSERT_TRUE(bench.Wait(60));
  EXPECT_EQ(bench.exit_code(), 0) << bench.err();
  std::string out = bench.out();
  size_t at = out.find("\"samples_per_s\": ");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GT(std::stod(out.substr(at + 17)), 0.0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

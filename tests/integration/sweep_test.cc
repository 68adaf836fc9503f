// End to end: `robofleet sweep` with real training runs, here and on a real
// single-node SLURM cluster (scripts/ci/start_slurm.sh starts it).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

// A run of a few hundred env steps: seconds each on two cores.
const char* kTinyBase = R"(name: tiny
seed: 1
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
  epochs: 2
  minibatches: 2
  max_policy_lag: 1000
learner:
  batch_size: 64
train:
  total_env_steps: 256
  checkpoint_every: 100
  log_every_s: 0.5
)";

// Last non-empty value of `column` in a CSV file, NaN when none.
double LastValue(const std::string& path, const std::string& column) {
  const std::vector<double> values = CsvColumn(path, column);
  return values.empty() ? std::nan("") : values.back();
}

// Rows of summary.csv as column -> value maps, in file order.
std::vector<std::map<std::string, std::string>> ReadSummary(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  std::stringstream header(line);
  for (std::string cell; std::getline(header, cell, ',');) names.push_back(cell);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    // the overrides and run_ids columns may be quoted; these tests' are not
    std::map<std::string, std::string> row;
    std::stringstream cells(line);
    std::string cell;
    for (size_t i = 0; i < names.size() && std::getline(cells, cell, ','); ++i)
      row[names[i]] = cell;
    rows.push_back(row);
  }
  return rows;
}

int64_t ModifiedNs(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::ofstream(dir_ + "/base.yaml") << kTinyBase;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes an experiment that extends the tiny base with `sweep_block`.
  std::string WriteSweep(const std::string& sweep_block, const std::string& extra = "") {
    const std::string path = dir_ + "/sweep.yaml";
    std::ofstream(path) << "extends: base.yaml\nname: tinysweep\n" << extra << sweep_block;
    return path;
  }

  std::string dir_;
};

TEST_F(SweepTest, LocalSweepLayoutRankingAndResume) {
  const std::string exp = WriteSweep(
      "sweep:\n"
      "  seeds: [1, 2]\n"
      "  grid:\n"
      "    algorithm.learning_rate: [0.001, 0.003]\n");
  const std::string sweep_dir = dir_ + "/sw";
  const std::vector<std::string> command = {ROBOFLEET_BINARY, "sweep",  exp, "--parallel", "2",
                                            "--sweep-dir",    sweep_dir};
  Child first(command, dir_ + "/first");
  ASSERT_TRUE(first.Wait(240)) << "the sweep did not finish\n" << first.out() << first.err();
  ASSERT_EQ(first.exit_code(), 0) << first.out() << first.err();

  // the layout: plan, base config, one run directory and log per run, the summary
  const std::vector<std::string> ids = {"c00-s1", "c00-s2", "c01-s1", "c01-s2"};
  for (const char* file : {"plan.yaml", "base.yaml", "summary.csv"}) {
    EXPECT_TRUE(fs::exists(sweep_dir + "/" + file)) << file;
  }
  for (const auto& id : ids) {
    const std::string run = sweep_dir + "/" + id;
    EXPECT_TRUE(fs::exists(run + "/policy.pt")) << id;
    EXPECT_GE(CsvRows(run + "/metrics.csv"), 4) << id;
    EXPECT_EQ(Child::Slurp(run + "/exit_status"), "0\n") << id;
    EXPECT_NE(Child::Slurp(sweep_dir + "/logs/" + id + ".log").find("policy at"), std::string::npos)
        << id;
  }
  // each run got its overrides
  const std::string config = Child::Slurp(sweep_dir + "/c01-s2/config.yaml");
  EXPECT_NE(config.find("learning_rate: 0.003"), std::string::npos) << config;
  EXPECT_NE(config.find("seed: 2"), std::string::npos) << config;
  EXPECT_NE(config.find("total_env_steps: 256"), std::string::npos) << config;  // from the base

  // the ranking: configurations by the mean over seeds of the last episode_return_mean
  std::map<std::string, double> mean;
  for (const char* c : {"c00", "c01"}) {
    const double a = LastValue(sweep_dir + "/" + c + "-s1/metrics.csv", "episode_return_mean");
    const double b = LastValue(sweep_dir + "/" + c + "-s2/metrics.csv", "episode_return_mean");
    mean[c] = (a + b) / 2;
  }
  const auto rows = ReadSummary(sweep_dir + "/summary.csv");
  ASSERT_EQ(rows.size(), 2u) << Child::Slurp(sweep_dir + "/summary.csv");
  const std::string best = mean["c00"] >= mean["c01"] ? "c00" : "c01";
  EXPECT_EQ(rows[0].at("rank"), "1");
  EXPECT_EQ(rows[0].at("config"), best);
  EXPECT_EQ(rows[0].at("runs_done"), "2");
  for (const auto& row : rows) {
    EXPECT_NEAR(std::stod(row.at("episode_return_mean_mean")), mean[row.at("config")],
                1e-5 * (1 + std::fabs(mean[row.at("config")])));
    EXPECT_LE(std::stod(row.at("episode_return_mean_min")),
              std::stod(row.at("episode_return_mean_max")));
  }
  // the printed table ranks the same way
  const std::string out = first.out();
  ASSERT_NE(out.find("rank"), std::string::npos) << out;
  const std::string table = out.substr(out.find("rank"));
  EXPECT_LT(table.find(best + " "), table.find((best == "c00" ? "c01" : "c00") + std::string(" ")))
      << table;

  // resume: a deleted run and a run that was cut off (no exit status) run
  // again; the finished ones are left alone
  std::map<std::string, int64_t> before;
  for (const auto& id : ids) before[id] = ModifiedNs(sweep_dir + "/" + id + "/policy.pt");
  fs::remove_all(sweep_dir + "/c01-s1");
  fs::remove(sweep_dir + "/c00-s2/exit_status");
  Child second(command, dir_ + "/second");
  ASSERT_TRUE(second.Wait(240)) << second.out() << second.err();
  ASSERT_EQ(second.exit_code(), 0) << second.out() << second.err();
  EXPECT_NE(second.out().find("2 finished before, 2 to run"), std::string::npos) << second.out();
  EXPECT_NE(second.out().find("c00-s2 will run again"), std::string::npos) << second.out();
  for (const auto& id : ids) {
    const int64_t now = ModifiedNs(sweep_dir + "/" + id + "/policy.pt");
    const bool reran = id == "c01-s1" || id == "c00-s2";
    EXPECT_GT(now, 0) << id;
    if (reran)
      EXPECT_NE(now, before[id]) << id << " did not run again";
    else
      EXPECT_EQ(now, before[id]) << id << " ran again though it had finished";
    // each run's log holds one training per time it ran
    EXPECT_EQ(Count(Child::Slurp(sweep_dir + "/logs/" + id + ".log"), "robofleet: training"),
              reran ? 2u : 1u)
        << id;
  }
  EXPECT_EQ(ReadSummary(sweep_dir + "/summary.csv").size(), 2u);

  // once more: nothing left to run
  Child third(command, dir_ + "/third");
  ASSERT_TRUE(third.Wait(60)) << third.err();
  EXPECT_EQ(third.exit_code(), 0) << third.err();
  EXPECT_NE(third.out().find("4 finished before, 0 to run"), std::string::npos) << third.out();
}

TEST_F(SweepTest, KilledSweepRerunsOnlyTheRunItCutOff) {
  // runs long enough to be caught in the middle
  const std::string exp =
      WriteSweep("sweep:\n  seeds: [1, 2]\n", "train:\n  total_env_steps: 6400\n");
  const std::string sweep_dir = dir_ + "/sw";
  const std::vector<std::string> command = {ROBOFLEET_BINARY, "sweep", exp, "--sweep-dir",
                                            sweep_dir};
  Child first(command, dir_ + "/first");
  const std::string cut = sweep_dir + "/c00-s2";
  ASSERT_TRUE(WaitFor([&] { return CsvRows(cut + "/metrics.csv") >= 1; }, 180))
      << first.out() << first.err();
  kill(first.pid(), SIGKILL);
  ASSERT_TRUE(first.Wait(10));
  ASSERT_FALSE(fs::exists(cut + "/exit_status")) << "the run finished before it was cut off";
  const int64_t finished = ModifiedNs(sweep_dir + "/c00-s1/policy.pt");
  ASSERT_GT(finished, 0);

  // the rerun waits for the cut-off run's processes to go, then runs it alone
  Child status({ROBOFLEET_BINARY, "sweep", "--status", sweep_dir}, dir_ + "/status");
  ASSERT_TRUE(status.Wait(30));
  EXPECT_NE(status.out().find("c00-s1       done"), std::string::npos) << status.out();
  Child second(command, dir_ + "/second");
  ASSERT_TRUE(second.Wait(180)) << second.out() << second.err();
  ASSERT_EQ(second.exit_code(), 0) << second.out() << second.err();
  EXPECT_NE(second.out().find("1 finished before, 1 to run"), std::string::npos) << second.out();
  EXPECT_EQ(ModifiedNs(sweep_dir + "/c00-s1/policy.pt"), finished);
  EXPECT_EQ(Child::Slurp(cut + "/exit_status"), "0\n");
  EXPECT_EQ(LastValue(cut + "/metrics.csv", "env_steps"), 6400);
  EXPECT_TRUE(WaitFor([&] { return ProcessesMatching(sweep_dir).empty(); }, 15));
}

// Bad sweep specs: exit status 2, one line on stderr, no sweep directory.
struct BadSweep {
  const char* name;
  std::string sweep;  // the sweep block
  std::vector<std::string> expected;
};

void PrintTo(const BadSweep& p, std::ostream* os) { *os << p.name; }

class BadSweepTest : public SweepTest, public ::testing::WithParamInterface<BadSweep> {};

TEST_P(BadSweepTest, OneLineBeforeAnythingIsMade) {
  const BadSweep& p = GetParam();
  const std::string exp = WriteSweep(p.sweep);
  const std::string sweep_dir = dir_ + "/sw";
  Child sweep({ROBOFLEET_BINARY, "sweep", exp, "--sweep-dir", sweep_dir}, dir_ + "/sweep");
  ASSERT_TRUE(sweep.Wait(30));
  EXPECT_EQ(sweep.exit_code(), 2) << sweep.out() << sweep.err();
  const std::string err = sweep.err();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  for (const auto& fragment : p.expected) EXPECT_NE(err.find(fragment), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(sweep_dir)) << "a sweep directory was made";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadSweepTest,
    ::testing::Values(
        BadSweep{"NoSweepBlock", "seed: 2\n", {"no sweep: block", "docs/sweeps.md"}},
        BadSweep{"EmptyGrid", "sweep:\n  grid: {}\n", {"sweep.yaml:4", "sweep.grid is empty"}},
        BadSweep{
            "UnknownDistribution",
            "sweep:\n  random:\n    count: 2\n    params:\n"
            "      algorithm.gamma: {distribution: gaussian, low: 0.9, high: 0.99}\n",
            {"sweep.yaml:7", "unknown distribution 'gaussian'", "uniform, log_uniform, choice"}},
        BadSweep{"KeyNotInConfig",
                 "sweep:\n  grid:\n    algorithm.clip: [0.1, 0.2]\n",
                 {"sweep.yaml:5", "'algorithm.clip' is not a config key"}},
        BadSweep{"WrongType",
                 "sweep:\n  grid:\n    actors.envs_per_actor: [4, many]\n",
                 {"sweep.yaml:5", "actors.envs_per_actor=many", "integer"}},
        BadSweep{"UnknownTask",
                 "sweep:\n  grid:\n    env.id: [cartpole_swingup, cartpol]\n",
                 {"unknown env 'cartpol'"}}),
    [](const ::testing::TestParamInfo<BadSweep>& param_info) { return param_info.param.name; });

TEST_F(SweepTest, ExtendsCycleIsOneLine) {
  std::ofstream(dir_ + "/a.yaml") << "extends: b.yaml\nsweep:\n  seeds: [1]\n";
  std::ofstream(dir_ + "/b.yaml") << "extends: a.yaml\n";
  Child sweep({ROBOFLEET_BINARY, "sweep", dir_ + "/a.yaml", "--sweep-dir", dir_ + "/sw"},
              dir_ + "/sweep");
  ASSERT_TRUE(sweep.Wait(30));
  EXPECT_EQ(sweep.exit_code(), 2);
  EXPECT_NE(sweep.err().find("cycle"), std::string::npos) << sweep.err();
  EXPECT_EQ(Count(sweep.err(), "\n"), 1u) << sweep.err();
  EXPECT_FALSE(fs::exists(dir_ + "/sw"));
}

// ---- SLURM ----

class SlurmTest : public SweepTest {
 protected:
  void SetUp() override {
    SweepTest::SetUp();
    // a single-node cluster on this machine; quick when it is already up
    Child start({"/bin/bash", std::string(ROBOFLEET_SOURCE_DIR) + "/scripts/ci/start_slurm.sh"},
                dir_ + "/start_slurm");
    ASSERT_TRUE(start.Wait(120)) << "start_slurm.sh did not return";
    if (start.exit_code() == 3) {
      FAIL() << "SLURM is not installed: install slurm-wlm munge (scripts/setup.sh does)\n"
             << start.err();
    }
    ASSERT_EQ(start.exit_code(), 0) << start.out() << start.err();
  }
};

TEST_F(SlurmTest, SweepRunsAsAJobArrayAndSummarizes) {
  const std::string exp = WriteSweep("sweep:\n  seeds: [1, 2, 3]\n");
  const std::string sweep_dir = dir_ + "/sw";
  Child submit({ROBOFLEET_BINARY, "sweep", exp, "--sweep-dir", sweep_dir, "--backend", "slurm",
                "--cpus-per-run", "1", "--time", "10:00"},
               dir_ + "/submit");
  ASSERT_TRUE(submit.Wait(60));
  ASSERT_EQ(submit.exit_code(), 0) << submit.out() << submit.err();
  EXPECT_NE(submit.out().find("SLURM job array"), std::string::npos) << submit.out();
  const std::string script = Child::Slurp(sweep_dir + "/sweep.sbatch");
  EXPECT_NE(script.find("#SBATCH --array=0,1,2"), std::string::npos) << script;
  EXPECT_NE(script.find("--set 'seed=3'"), std::string::npos) << script;
  EXPECT_NE(script.find(" train "), std::string::npos) << script;

  // wait for the three runs to end, one way or the other
  const auto ended = [&] {
    for (const char* id : {"c00-s1", "c00-s2", "c00-s3"}) {
      if (!fs::exists(sweep_dir + "/" + id + "/exit_status")) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(ended, 300)) << Child::Slurp(sweep_dir + "/logs/c00-s1.log");
  Child status({ROBOFLEET_BINARY, "sweep", "--status", sweep_dir}, dir_ + "/status");
  ASSERT_TRUE(status.Wait(30));
  ASSERT_EQ(status.exit_code(), 0) << status.err();
  EXPECT_NE(status.out().find("3 runs: 3 done"), std::string::npos) << status.out();
  EXPECT_NE(status.out().find("3 of 3 runs finished"), std::string::npos) << status.out();
  const auto rows = ReadSummary(sweep_dir + "/summary.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("runs_done"), "3");
  double sum = 0;
  for (const char* id : {"c00-s1", "c00-s2", "c00-s3"}) {
    sum += LastValue(sweep_dir + "/" + id + "/metrics.csv", "episode_return_mean");
  }
  EXPECT_NEAR(std::stod(rows[0].at("episode_return_mean_mean")), sum / 3,
              1e-5 + 1e-5 * std::fabs(sum));
  // each array task wrote its own SLURM log
  size_t slurm_logs = 0;
  for (const auto& entry : fs::directory_iterator(sweep_dir + "/logs")) {
    slurm_logs += entry.path().filename().string().rfind("slurm-", 0) == 0;
  }
  EXPECT_EQ(slurm_logs, 3u);

  // submitting again finds nothing to do and prints the summary
  Child again({ROBOFLEET_BINARY, "sweep", exp, "--sweep-dir", sweep_dir, "--backend", "slurm"},
              dir_ + "/again");
  ASSERT_TRUE(again.Wait(60));
  EXPECT_EQ(again.exit_code(), 0) << again.err();
  EXPECT_NE(again.out().find("every run"), std::string::npos) << again.out();
}

// The lines of a command's standard output (a SLURM client tool).
std::vector<std::string> OutputLines(const std::vector<std::string>& command,
                                     const std::string& log_prefix) {
  Child tool(command, log_prefix);
  EXPECT_TRUE(tool.Wait(30)) << command[0];
  EXPECT_EQ(tool.exit_code(), 0) << command[0] << ": " << tool.err();
  std::vector<std::string> lines;
  std::stringstream out(tool.out());
  for (std::string line; std::getline(out, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST_F(SlurmTest, ARunLargerThanEveryNodeIsRefusedBeforeAnythingIsWrittenOrSubmitted) {
  // the test cluster's one node, as SLURM sees it
  const std::vector<std::string> cpus =
      OutputLines({"/usr/bin/sinfo", "-h", "-N", "-p", "debug", "-o", "%c"}, dir_ + "/sinfo");
  ASSERT_EQ(cpus.size(), 1u);
  const int node_cpus = std::stoi(cpus[0]);
  ASSERT_GT(node_cpus, 0);
  // a name of its own, so that squeue can tell whether this sweep's array went in
  const std::string name = "toobig" + std::to_string(getpid());
  const std::string exp = WriteSweep("sweep:\n  seeds: [1, 2]\n", "");
  const std::string sweep_dir = dir_ + "/sw";
  const auto refused = [&](const std::vector<std::string>& extra, const std::string& expected,
                           const std::string& label) {
    std::vector<std::string> command = {
        ROBOFLEET_BINARY, "sweep",     exp,     "--sweep-dir", sweep_dir, "--set",
        "name=" + name,   "--backend", "slurm", "--time",      "10:00"};
    command.insert(command.end(), extra.begin(), extra.end());
    Child sweep(command, dir_ + "/" + label);
    ASSERT_TRUE(sweep.Wait(60)) << label;
    EXPECT_EQ(sweep.exit_code(), 2) << label << ": " << sweep.out() << sweep.err();
    EXPECT_EQ(sweep.err(), "robofleet sweep: error: " + expected + "\n") << label;
    EXPECT_EQ(sweep.out(), "") << label;
    EXPECT_FALSE(fs::exists(sweep_dir)) << label << ": the sweep folder was made";
    EXPECT_EQ(OutputLines({"/usr/bin/squeue", "-h", "-n", "rf-" + name, "-o", "%i"},
                          dir_ + "/squeue-" + label),
              std::vector<std::string>{})
        << label << ": a job was submitted";
  };
  const std::string n = std::to_string(node_cpus);
  const std::string more = std::to_string(node_cpus + 1);
  refused({"--cpus-per-run", more, "--partition", "debug"},
          "--cpus-per-run " + more + " exceeds the largest node of partition debug (" + n +
              " CPUs); lower --cpus-per-run or actors.count",
          "given");
  // the default, actors.count + 1, on the default partition
  refused({"--set", "actors.count=" + n},
          "--cpus-per-run " + more + " (actors.count + 1) exceeds the largest node of partition " +
              "debug (" + n + " CPUs); lower --cpus-per-run or actors.count",
          "default");
  refused({"--cpus-per-run", "1", "--partition", "nosuch"},
          "partition nosuch has no nodes in sinfo; partitions: debug; choose one with --partition",
          "unknown");
}

TEST_F(SlurmTest, TwoTaskSrunTrainsOneRunPerTask) {
  // what a multi-node launch does per node, here as two tasks on one node
  const std::string runs = dir_ + "/runs";
  Child srun({"/usr/bin/srun", "-N1", "-n2", "--cpus-per-task=1", "--time=10:00", "/bin/bash", "-c",
              std::string("exec ") + ROBOFLEET_BINARY + " train " + dir_ + "/base.yaml --run-dir " +
                  runs + "/rank$SLURM_PROCID --set seed=$((SLURM_PROCID + 10))"},
             dir_ + "/srun");
  ASSERT_TRUE(srun.Wait(300)) << srun.err();
  ASSERT_EQ(srun.exit_code(), 0) << srun.out() << srun.err();
  for (int rank : {0, 1}) {
    const std::string run = runs + "/rank" + std::to_string(rank);
    EXPECT_TRUE(fs::exists(run + "/policy.pt")) << run;
    EXPECT_NE(Child::Slurp(run + "/config.yaml").find("seed: " + std::to_string(10 + rank)),
              std::string::npos);
  }
}

TEST_F(SlurmTest, MultinodeScriptTrainsOnOneNode) {
  const std::string run = dir_ + "/mn";
  Child sbatch({"/usr/bin/sbatch", "--wait", "--nodes=1", "--cpus-per-task=1", "--time=10:00",
                "--output=" + dir_ + "/mn.out", "--export=ALL,ROBOFLEET=" ROBOFLEET_BINARY,
                std::string(ROBOFLEET_SOURCE_DIR) + "/scripts/slurm/train_multinode.sbatch",
                dir_ + "/base.yaml", "--run-dir", run},
               dir_ + "/sbatch");
  ASSERT_TRUE(sbatch.Wait(300)) << sbatch.err();
  const std::string log = Child::Slurp(dir_ + "/mn.out");
  ASSERT_EQ(sbatch.exit_code(), 0) << sbatch.err() << log;
  EXPECT_TRUE(fs::exists(run + "/policy.pt")) << log;
  EXPECT_NE(log.find("master"), std::string::npos) << log;
}

}  // namespace
}  // namespace robofleet::testing

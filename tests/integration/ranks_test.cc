// learner.count = 2: two learner processes over Gloo, each fed by its own actor.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
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
    if (cmdline.find(std::string("--rank\0"
                                 "1\0",
                                 9)) != std::string::npos)
      found.push_back(pid);
  }
  return found;
}

// The first of `n` consecutive tcp ports on 127.0.0.1 that are free now.
int FreePortRun(int n) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = 20000 + static_cast<int>(rng() % 30000);
    bool free = true;
    for (int i = 0; i < n && free; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      sa.sin_port = htons(static_cast<uint16_t>(base + i));
      free = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
      close(fd);
    }
    if (free) return base;
  }
  return 0;
}

// The checksum a learner's output line prints, or "" without one.
std::string Checksum(const std::string& out, const std::string& who) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(who + ": parameters crc32c (\\w+)"))) return "";
  return m[1];
}

class RanksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `nodes` > 1: one learner rank and one actor per node, on tcp from `port`
  std::string Experiment(int64_t steps, int max_restarts, int nodes = 1, int port = 0) {
    const std::string path = dir_ + "/exp.yaml";
    const int per_node = nodes > 1 ? 1 : 2;
    std::ofstream out(path);
    out << "name: ranks\nseed: 4\nenv:\n  max_episode_steps: 40\n"
           "actors:\n  count: "
        << per_node
        << "\n  envs_per_actor: 4\n  rollout_length: 16\n"
           "policy:\n  hidden: [16, 16]\nalgorithm:\n  epochs: 2\n"
           "  minibatches: 2\n  max_policy_lag: 1000\n"
           "learner:\n  batch_size: 256\n  count: "
        << per_node
        << "\n"
           "  collective_timeout_s: 20\ntrain:\n  total_env_steps: "
        << steps << "\n  checkpoint_every: 5\nlauncher:\n  max_restarts: " << max_restarts << "\n";
    if (nodes > 1) out << "transport:\n  bind: 127.0.0.1\n  port: " << port << "\n";
    return path;
  }

  // Node `node` of two, its run directory dir_/node<node>, meeting at `master`.
  std::vector<std::string> NodeArgs(const std::string& exp, int node, const std::string& master) {
    std::vector<std::string> args = {ROBOFLEET_BINARY,
                                     "train",
                                     exp,
                                     "--run-dir",
                                     dir_ + "/node" + std::to_string(node),
                                     "--nnodes",
                                     "2",
                                     "--node-rank",
                                     std::to_string(node),
                                     "--master",
                                     master};
    // node 0's keys, as a shared filesystem would show them
    if (node > 0) args.insert(args.end(), {"--keys", dir_ + "/node0/keys"});
    return args;
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

TEST_F(RanksTest, ValueNormalisationKeepsRanksBitIdentical) {
  const std::string run = dir_ + "/run";
  Child train({ROBOFLEET_BINARY, "train", Experiment(10 * 256, 0), "--run-dir", run, "--set",
               "policy.normalize_value=true"},
              dir_ + "/train");
  ASSERT_TRUE(train.Wait(120)) << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.err();
  const std::string rank0 = Checksum(train.out(), "learner");
  ASSERT_NE(rank0, "") << train.out();
  EXPECT_EQ(rank0, Checksum(train.out(), "learner rank 1"));
}

TEST_F(RanksTest, TwoNodesOnLoopbackEndWithBitIdenticalParameters) {
  const int port = FreePortRun(4);
  ASSERT_GT(port, 0);
  const std::string master = "127.0.0.1:" + std::to_string(FreePortRun(1));
  const std::string exp = Experiment(12 * 256, 0, 2, port);
  Child node0(NodeArgs(exp, 0, master), dir_ + "/node0");
  // node 1 starts once node 0 has made the run's keys
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ + "/node0/endpoints"); }, 30)) << node0.err();
  Child node1(NodeArgs(exp, 1, master), dir_ + "/node1");
  ASSERT_TRUE(node0.Wait(180)) << node0.err();
  ASSERT_TRUE(node1.Wait(60)) << node1.err();
  ASSERT_EQ(node0.exit_code(), 0) << node0.err();
  ASSERT_EQ(node1.exit_code(), 0) << node1.err();
  const std::string rank0 = Checksum(node0.out(), "learner");
  ASSERT_NE(rank0, "") << node0.out();
  EXPECT_EQ(rank0, Checksum(node1.out(), "learner rank 1")) << node1.out();
  // rank 0 counts both nodes' steps; node 1 keeps no policy of its own
  const std::vector<double> steps = CsvColumn(dir_ + "/node0/metrics.csv", "env_steps");
  ASSERT_EQ(steps.size(), 12u);
  EXPECT_EQ(steps.back(), 12 * 256);
  EXPECT_TRUE(fs::exists(dir_ + "/node0/policy.pt"));
  EXPECT_NE(node1.out().find("node 1 done"), std::string::npos) << node1.out();
}

TEST_F(RanksTest, ANodeThatDiesEndsTheOtherWithAClearError) {
  const int port = FreePortRun(4);
  ASSERT_GT(port, 0);
  const std::string master = "127.0.0.1:" + std::to_string(FreePortRun(1));
  const std::string exp = Experiment(1000000000, 0, 2, port);
  Child node0(NodeArgs(exp, 0, master), dir_ + "/node0");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ + "/node0/endpoints"); }, 30)) << node0.err();
  Child node1(NodeArgs(exp, 1, master), dir_ + "/node1");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(dir_ + "/node0/metrics.csv") >= 3; }, 90))
      << node0.err() << node1.err();
  // the whole node at once, as when a machine goes down
  kill(node1.pid(), SIGKILL);
  for (pid_t pid : ProcessesMatching(dir_ + "/node1")) kill(pid, SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(node0.Wait(60)) << "node 0 hung after node 1 died";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(node0.exit_code(), 1);
  EXPECT_LT(seconds, 20 + 15);  // within learner.collective_timeout_s and the teardown
  EXPECT_NE(node0.err().find("learner ranks failed"), std::string::npos) << node0.err();
  EXPECT_NE(node0.err().find("learner rank 0 ended"), std::string::npos) << node0.err();
  EXPECT_TRUE(WaitFor([&] { return ProcessesMatching(dir_ + "/node0").empty(); }, 10));
}

TEST_F(RanksTest, ANodeThatHangsEndsTheOtherWithinTheCollectiveTimeout) {
  const int port = FreePortRun(4);
  ASSERT_GT(port, 0);
  const std::string master = "127.0.0.1:" + std::to_string(FreePortRun(1));
  const std::string exp = Experiment(1000000000, 0, 2, port);
  Child node0(NodeArgs(exp, 0, master), dir_ + "/node0");
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ + "/node0/endpoints"); }, 30)) << node0.err();
  Child node1(NodeArgs(exp, 1, master), dir_ + "/node1");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(dir_ + "/node0/metrics.csv") >= 3; }, 90))
      << node0.err() << node1.err();
  // node 1 stops answering without closing a connection
  std::vector<pid_t> frozen = ProcessesMatching(dir_ + "/node1");
  frozen.push_back(node1.pid());
  for (pid_t pid : frozen) kill(pid, SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  const bool ended = node0.Wait(60);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (pid_t pid : frozen) kill(pid, SIGKILL);
  ASSERT_TRUE(ended) << "node 0 hung behind a frozen node 1";
  EXPECT_EQ(node0.exit_code(), 1);
  EXPECT_LT(seconds, 20 + 15);  // learner.collective_timeout_s and the teardown
  EXPECT_NE(node0.err().find("learner ranks failed"), std::string::npos) << node0.err();
}

TEST_F(RanksTest, NodesWithoutWhatTheyNeedFailWithOneLineBeforeAnythingIsMade) {
  const std::string tcp = dir_ + "/tcp.yaml", ipc = dir_ + "/ipc.yaml";
  fs::rename(Experiment(256, 0, 2, 30000), tcp);
  fs::rename(Experiment(256, 0), ipc);
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{tcp, "--nnodes", "2", "--node-rank", "1"}, "needs --master HOST:PORT"},
      {{ipc, "--nnodes", "2", "--node-rank", "0", "--master", "127.0.0.1:1"},
       "needs transport.bind"},
      {{tcp, "--nnodes", "2", "--node-rank", "1", "--master", "127.0.0.1:1"}, "needs --keys DIR"},
      {{tcp, "--nnodes", "2", "--node-rank", "1", "--master", "127.0.0.1:1", "--keys",
        dir_ + "/none"},
       "none"},
      {{tcp, "--nnodes", "2", "--node-rank", "2", "--master", "127.0.0.1:1"},
       "--node-rank must be in [0, --nnodes)"},
      {{tcp, "--master", "nohostport"}, "use HOST:PORT"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string run = dir_ + "/run" + std::to_string(i);
    std::vector<std::string> args = {ROBOFLEET_BINARY, "train"};
    args.insert(args.end(), cases[i].args.begin(), cases[i].args.end());
    args.insert(args.end(), {"--run-dir", run});
    Child train(args, dir_ + "/bad" + std::to_string(i));
    ASSERT_TRUE(train.Wait(30));
    EXPECT_NE(train.exit_code(), 0) << i;
    const std::string err = train.err();
    EXPECT_NE(err.find(cases[i].expected), std::string::npos) << i << ": " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << i << ": " << err;
    EXPECT_FALSE(fs::exists(run)) << i;
  }
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

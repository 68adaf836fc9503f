// Every process computes on the threads its config gives it (issue: the BLAS
// under LibTorch starts a thread per core of its own, which
// torch::set_num_threads does not reach; core/compute_threads.h). A real
// SAC run, whose 256-wide layers are large enough for OpenBLAS to split its
// matrix products, with learner.threads: 1: the learner and the actor each
// keep one thread busy.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

// CPU time (user + system, in clock ticks) of each thread of `pid`.
std::map<std::string, long> ThreadTicks(pid_t pid) {
  std::map<std::string, long> ticks;
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code error;
  for (const auto& task : fs::directory_iterator(tasks, error)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // the fields after the command name, which may hold spaces: state is the
    // first, utime the 12th, stime the 13th
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string field; fields >> field && f.size() < 13;) f.push_back(field);
    if (f.size() == 13) ticks[task.path().filename()] = std::stol(f[11]) + std::stol(f[12]);
  }
  return ticks;
}

// Threads of `pid` that computed over `seconds`: those with at least a
// quarter of the busiest one's CPU time (a relative bar, so that a loaded
// machine, which slows every thread alike, does not change the count), and
// the busiest one's ticks.
std::pair<int, long> BusyThreads(pid_t pid, double seconds) {
  const std::map<std::string, long> before = ThreadTicks(pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const std::map<std::string, long> after = ThreadTicks(pid);
  std::vector<long> used;
  for (const auto& [tid, t] : after) {
    const auto it = before.find(tid);
    used.push_back(t - (it == before.end() ? 0 : it->second));
  }
  const long busiest = used.empty() ? 0 : *std::max_element(used.begin(), used.end());
  const int busy = static_cast<int>(
      std::count_if(used.begin(), used.end(), [&](long u) { return u > 0 && 4 * u >= busiest; }));
  return {busy, busiest};
}

pid_t OnlyProcess(const std::string& needle) {
  const std::vector<pid_t> pids = ProcessesMatching(needle);
  return pids.size() == 1 ? pids.front() : -1;
}

TEST(ThreadsTest, SacLearnerAndActorComputeOnOneThreadEach) {
  const std::string dir = MakeTempDir("threads");
  const std::string run = dir + "/run";
  Child train({ROBOFLEET_BINARY, "train", ROBOFLEET_SOURCE_DIR "/experiments/halfcheetah_sac.yaml",
               "--run-dir", run, "--set", "actors.count=1", "--set", "learner.threads=1", "--set",
               "algorithm.warmup_steps=256", "--set", "train.total_env_steps=100000000"},
              dir + "/train");
  // training: gradient steps are being taken
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= 2; }, 90.0)) << train.err();
  const pid_t learner = OnlyProcess("learner --run-dir " + run + " ");
  const pid_t actor = OnlyProcess("actor --run-dir " + run + " ");
  ASSERT_GT(learner, 0) << "one learner process of " << run;
  ASSERT_GT(actor, 0) << "one actor process of " << run;

  // a process may wait out a whole window on the other (an actor blocked on
  // its send queue while a loaded machine slows the learner's gradient
  // steps): up to three windows, until it computed in one
  const auto busy_threads = [](pid_t pid) {
    std::pair<int, long> busy = {0, 0};
    for (int window = 0; window < 3 && busy.second == 0; ++window) busy = BusyThreads(pid, 4.0);
    return busy;
  };
  const auto [learner_busy, learner_ticks] = busy_threads(learner);
  const auto [actor_busy, actor_ticks] = busy_threads(actor);
  EXPECT_GT(learner_ticks, 0) << "the learner should be computing";
  EXPECT_EQ(learner_busy, 1) << "learner.threads is 1";
  EXPECT_GT(actor_ticks, 0) << "the actor should be stepping its envs";
  EXPECT_EQ(actor_busy, 1) << "actors compute on one thread";

  kill(train.pid(), SIGTERM);
  EXPECT_TRUE(train.Wait(60.0));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

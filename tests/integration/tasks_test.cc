// The robot task suite end to end: for every task, a short PPO run of its
// experiment file (the real robofleet binary, real actors and learner) must
// beat the random policy by a clear margin, the random policy's return being
// measured here by stepping the same env directly. Plus `bench env --json`.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

std::string Experiment(const std::string& task) {
  return std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/" + task + ".yaml";
}

// Mean undiscounted return of `policy` over whole episodes, at least
// `min_episodes` of them and until `min_steps` env steps have passed.
template <class Policy>
double MeanReturn(envs::Env& env, Policy policy, int min_episodes, int64_t min_steps) {
  std::vector<float> obs(env.spec().obs_dim), action(env.spec().act_dim);
  double total = 0.0;
  int64_t steps = 0;
  int episodes = 0;
  for (; episodes < min_episodes || steps < min_steps; ++episodes) {
    env.Reset(1000 + episodes, obs.data());
    envs::StepResult r;
    while (!r.terminated && !r.truncated) {
      for (float& a : action) a = policy();
      r = env.Step(action.data(), obs.data());
      total += r.reward;
      ++steps;
    }
  }
  return total / episodes;
}

// The better of two policies that know nothing: uniform actions in [-1, 1],
// and the untrained Gaussian policy (zero mean, the experiment's initial
// standard deviation), which is where PPO starts.
double RandomPolicyReturn(const ExperimentConfig& config) {
  std::unique_ptr<envs::Env> env = envs::MakeEnv(config.env);
  envs::EnvRandom rng(7);
  const double std_dev = std::exp(config.policy.init_log_std);
  const double uniform = MeanReturn(
      *env, [&] { return static_cast<float>(rng.Uniform(-1, 1)); }, 10, 20000);
  const double gaussian = MeanReturn(
      *env, [&] { return static_cast<float>(std_dev * rng.Normal()); }, 10, 20000);
  std::printf("%s: random policy %.1f (uniform), %.1f (untrained Gaussian)\n",
              config.env.id.c_str(), uniform, gaussian);
  return std::max(uniform, gaussian);
}

struct TaskRun {
  TaskRun(const char* task_id, int64_t budget, double beat_by, std::vector<std::string> sets,
          std::string yaml = "", std::vector<std::string> must_hold = {})
      : task(task_id),
        env_steps(budget),
        margin(beat_by),
        overrides(std::move(sets)),
        extra_yaml(std::move(yaml)),
        resolved(std::move(must_hold)) {}
  const char* task;
  int64_t env_steps;                   // PPO budget
  double margin;                       // the best mean return must beat the random one by this
  std::vector<std::string> overrides;  // extra --set key=value
  std::string extra_yaml;              // laid over the experiment file (through extends:)
  std::vector<std::string> resolved;   // lines the run's resolved config must hold
};

void PrintTo(const TaskRun& run, std::ostream* os) { *os << run.task; }

class TasksTest : public ::testing::TestWithParam<TaskRun> {};

TEST_P(TasksTest, ShortPpoRunBeatsTheRandomPolicy) {
  const TaskRun& p = GetParam();
  std::vector<std::string> overrides = p.overrides;
  overrides.push_back("train.total_env_steps=" + std::to_string(p.env_steps));
  overrides.push_back("train.log_every_s=1000");
  const std::string dir = MakeTempDir(std::string("tasks-") + p.task);
  std::string experiment = Experiment(p.task);
  if (!p.extra_yaml.empty()) {
    experiment = dir + "/experiment.yaml";
    std::ofstream(experiment) << "extends: " << Experiment(p.task) << "\n" << p.extra_yaml;
  }
  const ExperimentConfig config = LoadExperiment(experiment, overrides);
  const double random_return = RandomPolicyReturn(config);

  const std::string run = dir + "/run";
  std::vector<std::string> args = {ROBOFLEET_BINARY, "train", experiment, "--run-dir", run};
  for (const std::string& o : overrides) {
    args.push_back("--set");
    args.push_back(o);
  }
  const auto start = std::chrono::steady_clock::now();
  Child train(args, dir + "/train");
  // a bound against a hang, far above the expected time
  ASSERT_TRUE(train.Wait(240)) << "no result within 4 minutes\n" << train.out() << train.err();
  ASSERT_EQ(train.exit_code(), 0) << train.out() << train.err();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::vector<double> returns = CsvColumn(run + "/metrics.csv", "episode_return_mean");
  ASSERT_FALSE(returns.empty()) << "no finished episodes reported";
  const double best = *std::max_element(returns.begin(), returns.end());
  std::printf("%s: PPO best mean return %.1f after %lld env steps (%.0f s); random %.1f\n", p.task,
              best, static_cast<long long>(p.env_steps), seconds, random_return);
  EXPECT_GE(best, random_return + p.margin) << train.out();
  for (const std::string& setting : p.resolved) {
    // the run really used the extra settings
    EXPECT_NE(Child::Slurp(run + "/config.yaml").find(setting), std::string::npos) << setting;
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Suite, TasksTest,
    ::testing::Values(
        TaskRun{"reacher", 100000, 8, {}}, TaskRun{"hopper", 60000, 80, {}},
        TaskRun{"walker2d", 80000, 80, {}}, TaskRun{"halfcheetah", 100000, 150, {}},
        TaskRun{"ant", 100000, 20, {}}, TaskRun{"humanoid", 60000, 60, {}},
        TaskRun{"arm_reach", 200000, 25, {}}, TaskRun{"arm_push", 100000, 30, {}},
        TaskRun{"mjcf",
                60000,
                80,
                {"env.mjcf.path=" + std::string(ROBOFLEET_SOURCE_DIR) + "/envs/assets/hopper.xml"}},
        // domain randomisation through the whole pipeline: actors build
        // randomised envs from the resolved config
        TaskRun{"hopper",
                60000,
                60,
                {"env.randomize.obs_noise=0.01"},
                "env:\n"
                "  randomize:\n"
                "    body_mass_scale: [0.8, 1.2]\n"
                "    geom_friction_scale: [0.7, 1.3]\n"
                "    actuator_gain_scale: [0.9, 1.1]\n"
                "    action_delay: [0, 1]\n",
                {"body_mass_scale: [0.8, 1.2]", "action_delay: [0, 1]", "obs_noise: 0.01"}}),
    [](const ::testing::TestParamInfo<TaskRun>& param_info) {
      std::string name = param_info.param.task;
      return param_info.param.extra_yaml.empty() ? name : name + "_randomized";
    });

TEST(BenchEnvTest, PrintsEnvAndRawThroughputAndTheirRatio) {
  const std::string dir = MakeTempDir("bench-env");
  Child bench({ROBOFLEET_BINARY, "bench", "env", "--env", "hopper", "--envs", "2", "--seconds",
               "0.2", "--json"},
              dir + "/bench");
  ASSERT_TRUE(bench.Wait(60));
  ASSERT_EQ(bench.exit_code(), 0) << bench.err();
  const std::string out = bench.out();
  for (const char* key : {"\"env_steps_per_s\": ", "\"raw_steps_per_s\": ", "\"ratio\": "}) {
    const size_t at = out.find(key);
    ASSERT_NE(at, std::string::npos) << key << " missing from " << out;
    EXPECT_GT(std::stod(out.substr(at + std::string(key).size())), 0.0) << key;
  }
  Child unknown({ROBOFLEET_BINARY, "bench", "env", "--env", "hoper", "--seconds", "0.1"},
                dir + "/unknown");
  ASSERT_TRUE(unknown.Wait(30));
  EXPECT_EQ(unknown.exit_code(), 2);
  EXPECT_NE(unknown.err().find("did you mean 'hopper'"), std::string::npos) << unknown.err();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

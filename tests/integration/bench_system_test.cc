// The throughput benchmarks end to end: the robofleet binary with real actor
// processes and real sockets. Figures on a shared machine vary, so only gross
// failures are asserted.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

// Runs `robofleet bench ARGS... --json` to completion; returns its stdout.
std::string RunBench(const std::vector<std::string>& args, const std::string& name,
                     double timeout_s) {
  const std::string dir = MakeTempDir(name);
  std::vector<std::string> argv = {ROBOFLEET_BINARY, "bench"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  Child bench(argv, dir + "/bench");
  EXPECT_TRUE(bench.Wait(timeout_s)) << "bench did not finish in " << timeout_s << " s";
  EXPECT_EQ(bench.exit_code(), 0) << bench.err();
  return bench.out();
}

void ExpectSystemFields(const std::string& json) {
  for (const char* key :
       {"sps", "ceiling_sps", "ratio", "bytes_per_env_step", "learner_peak_rss_mb",
        "actor_peak_rss_mb", "simulate", "inference", "serialise", "send", "wait", "total"}) {
    EXPECT_FALSE(std::isnan(JsonNumber(json, key))) << "no " << key << " in " << json;
  }
  EXPECT_GT(JsonNumber(json, "sps"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "ceiling_sps"), 0.0) << json;
  const double ratio = JsonNumber(json, "ratio");
  EXPECT_GT(ratio, 0.0) << json;
  EXPECT_LE(ratio, 1.5) << json;
  // a fragment carries at least the observation, action, log-prob and reward of each step
  EXPECT_GT(JsonNumber(json, "bytes_per_env_step"), 4.0 * (5 + 1 + 1 + 1)) << json;
  EXPECT_GT(JsonNumber(json, "learner_peak_rss_mb"), 1.0) << json;
  EXPECT_GT(JsonNumber(json, "actor_peak_rss_mb"), 1.0) << json;
  // the actors spend most of an env step simulating or waiting, never nothing
  EXPECT_GT(JsonNumber(json, "simulate"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "total"), JsonNumber(json, "simulate")) << json;
}

TEST(BenchSystemTest, PpoLearnerOnCartpole) {
  const std::string json =
      RunBench({"system", "--env", "cartpole_swingup", "--learner", "ppo", "--seconds", "2",
                "--warmup", "0.5", "--set", "learner.batch_size=2048"},
               "bench-ppo", 60);
  ExpectSystemFields(json);
  EXPECT_GT(JsonNumber(json, "update_s"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "learner_capacity_sps"), 0.0) << json;
  EXPECT_NE(json.find("\"bound\": "), std::string::npos) << json;
}

TEST(BenchSystemTest, NullLearnerOnHalfcheetahWithOneActor) {
  const std::string json = RunBench({"system", "--env", "halfcheetah", "--learner", "null",
                                     "--actors", "1", "--seconds", "2", "--warmup", "0.5"},
                                    "bench-null", 60);
  ExpectSystemFields(json);
  // halfcheetah: 17 observations, 6 actions
  EXPECT_GT(JsonNumber(json, "bytes_per_env_step"), 4.0 * (17 + 6 + 1 + 1)) << json;
  EXPECT_GT(JsonNumber(json, "received_fragments"), 0.0) << json;
  EXPECT_EQ(JsonNumber(json, "dropped_fragments"), 0.0) << json;
}

TEST(BenchSystemTest, BadLearnerFlagIsOneLine) {
  const std::string dir = MakeTempDir("bench-bad");
  Child bench({ROBOFLEET_BINARY, "bench", "system", "--learner", "fast"}, dir + "/bench");
  ASSERT_TRUE(bench.Wait(30));
  EXPECT_EQ(bench.exit_code(), 2);
  EXPECT_NE(bench.err().find("--learner fast: expected null or ppo"), std::string::npos)
      << bench.err();
}

TEST(BenchLearnerTest, PythonBaselineOnASmallBatch) {
  const std::string json =
      RunBench({"learner", "--hidden", "16,16", "--batch", "256", "--minibatch", "64", "--epochs",
                "1", "--seconds", "0.2", "--python"},
               "bench-learner", 120);
  EXPECT_GT(JsonNumber(json, "samples_per_s"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "update_gflops"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "matmul_gflops"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "python_samples_per_s"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "ratio_to_python"), 0.0) << json;
}

TEST(BenchSacTest, PythonBaselineOnSmallNetworks) {
  const std::string json = RunBench({"sac", "--hidden", "16,16", "--batch", "32", "--replay",
                                     "1000", "--steps", "5", "--seconds", "0.2", "--python"},
                                    "bench-sac", 120);
  EXPECT_GT(JsonNumber(json, "steps_per_s"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "python_steps_per_s"), 0.0) << json;
  EXPECT_GT(JsonNumber(json, "ratio_to_python"), 0.0) << json;
  // actor 17-16-16-12: 720 weights, 272 in its first layer; each critic
  // 23-16-16-1: 640, 368 in its first layer
  EXPECT_EQ(JsonNumber(json, "flops_per_step"), 32.0 * (8 * 720 - 2 * 272 + 24 * 640 - 4 * 368))
      << json;
}

TEST(BenchSacTest, BadSizeIsOneLine) {
  const std::string dir = MakeTempDir("bench-sac-bad");
  Child bench({ROBOFLEET_BINARY, "bench", "sac", "--batch", "0"}, dir + "/bench");
  ASSERT_TRUE(bench.Wait(30));
  EXPECT_EQ(bench.exit_code(), 2);
  EXPECT_NE(bench.err().find("must be positive"), std::string::npos) << bench.err();
}

}  // namespace
}  // namespace robofleet::testing

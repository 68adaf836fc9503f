#include "core/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace robofleet {
namespace {

// Expects `fn` to throw UserError whose message contains every fragment.
template <class Fn>
void ExpectUserError(Fn fn, std::initializer_list<const char*> fragments) {
  try {
    fn();
    FAIL() << "no UserError thrown";
  } catch (const UserError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "error spans lines: " << what;
    for (const char* f : fragments) EXPECT_NE(what.find(f), std::string::npos) << what;
  }
}

TEST(ConfigTest, DefaultsValidate) {
  ExperimentConfig config;
  EXPECT_NO_THROW(config.Validate());
}

TEST(ConfigTest, ParsesSectionsAndKeepsDefaults) {
  ExperimentConfig c = ParseExperiment(
      "name: demo\nseed: 7\nactors:\n  count: 3\npolicy:\n  hidden: [32, 16]\n"
      "train:\n  total_env_steps: 2e6\n",
      "demo.yaml");
  EXPECT_EQ(c.name, "demo");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.actors.count, 3);
  EXPECT_EQ(c.actors.envs_per_actor, ActorsConfig{}.envs_per_actor);
  EXPECT_EQ(c.policy.hidden, (std::vector<int>{32, 16}));
  EXPECT_EQ(c.train.total_env_steps, 2000000);
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndClosestKey) {
  ExpectUserError([] { ParseExperiment("name: x\nactors:\n  cuont: 2\n", "exp.yaml"); },
                  {"exp.yaml:3", "actors.cuont", "did you mean 'actors.count'"});
  ExpectUserError([] { ParseExperiment("algoritm:\n  gamma: 0.9\n", "exp.yaml"); },
                  {"exp.yaml:1", "did you mean 'algorithm'"});
}

TEST(ConfigTest, WrongTypeIsRejected) {
  ExpectUserError([] { ParseExperiment("actors:\n  count: many\n", "e.yaml"); },
                  {"e.yaml:2", "actors.count", "integer"});
  ExpectUserError([] { ParseExperiment("actors:\n  count: 2.5\n", "e.yaml"); }, {"integer"});
  ExpectUserError([] { ParseExperiment("policy:\n  hidden: 64\n", "e.yaml"); }, {"list of int"});
  ExpectUserError([] { ParseExperiment("normalizer:\n  enabled: maybe\n", "e.yaml"); }, {"bool"});
  ExpectUserError([] { ParseExperiment("seed: -1\n", "e.yaml"); }, {"seed"});
}

TEST(ConfigTest, SyntaxErrorNamesLine) {
  ExpectUserError([] { ParseExperiment("name: x\nactors: [1, 2\n", "bad.yaml"); },
                  {"bad.yaml:", "YAML syntax error"});
}

TEST(ConfigTest, NonPositiveCountsAreRejected) {
  ExpectUserError([] { ParseExperiment("actors:\n  count: 0\n", "e.yaml"); },
                  {"e.yaml", "actors.count", ">= 1"});
  ExpectUserError([] { ParseExperiment("actors:\n  rollout_length: -3\n", "e.yaml"); },
                  {"actors.rollout_length"});
  ExpectUserError([] { ParseExperiment("learner:\n  batch_size: 0\n", "e.yaml"); },
                  {"learner.batch_size"});
  ExpectUserError([] { ParseExperiment("train:\n  total_env_steps: 0\n", "e.yaml"); },
                  {"train.total_env_steps"});
}

TEST(ConfigTest, PpoOptionsAreCheckedWithTheirFix) {
  ExperimentConfig c = ParseExperiment(
      "policy:\n  shared_trunk: true\n  state_dependent_std: true\n  tanh_squash: true\n"
      "  normalize_value: true\n  log_std_range: [-3, 1]\nalgorithm:\n  value_clip: 0.2\n"
      "  target_kl: 0.02\n",
      "e.yaml");
  EXPECT_TRUE(c.policy.shared_trunk && c.policy.state_dependent_std && c.policy.tanh_squash &&
              c.policy.normalize_value);
  EXPECT_EQ(c.policy.log_std_range, (std::vector<double>{-3.0, 1.0}));
  EXPECT_DOUBLE_EQ(c.algorithm.value_clip, 0.2);
  EXPECT_DOUBLE_EQ(c.algorithm.target_kl, 0.02);
  ExpectUserError([] { ParseExperiment("policy:\n  log_std_range: [1, -1]\n", "e.yaml"); },
                  {"e.yaml", "policy.log_std_range", "low > high"});
  ExpectUserError([] { ParseExperiment("policy:\n  log_std_range: [-1]\n", "e.yaml"); },
                  {"policy.log_std_range", "[low, high]"});
  ExpectUserError(
      [] { ParseExperiment("policy:\n  init_log_std: -6\n", "e.yaml"); },
      {"policy.init_log_std", "outside policy.log_std_range [-5.0, 2.0]", "move it inside"});
  ExpectUserError([] { ParseExperiment("algorithm:\n  value_clip: -0.1\n", "e.yaml"); },
                  {"algorithm.value_clip", ">= 0", "0 disables"});
  ExpectUserError([] { ParseExperiment("algorithm:\n  target_kl: -1\n", "e.yaml"); },
                  {"algorithm.target_kl", ">= 0"});
}

TEST(ConfigTest, LearnerDeviceAndBackendAreCheckedWithTheirFix) {
  ExperimentConfig c = ParseExperiment(
      "actors:\n  count: 2\npolicy:\n  normalize_value: true\nlearner:\n  device: cuda\n"
      "  backend: nccl\n  count: 2\n",
      "e.yaml");
  EXPECT_EQ(c.learner.device, "cuda");
  EXPECT_EQ(c.learner.backend, "nccl");
  EXPECT_TRUE(c.policy.normalize_value);  // ranks merge the return statistics
  ExpectUserError([] { ParseExperiment("learner:\n  device: tpu\n", "e.yaml"); },
                  {"learner.device", "'tpu'", "cpu, cuda"});
  ExpectUserError([] { ParseExperiment("learner:\n  backend: mpi\n", "e.yaml"); },
                  {"learner.backend", "'mpi'", "auto, gloo, nccl"});
  ExpectUserError([] { ParseExperiment("learner:\n  backend: nccl\n", "e.yaml"); },
                  {"learner.backend", "learner.device: cuda", "gloo on cpu"});
  ExpectUserError(
      [] {
        ParseExperiment("learner:\n  device: cuda\ntrain:\n  deterministic: true\n", "e.yaml");
      },
      {"train.deterministic", "learner.device: cpu"});
}

TEST(ConfigTest, OverridesAreTypeChecked) {
  ExperimentConfig c;
  ApplyOverrides(c,
                 {"actors.count=5", "algorithm.gamma=0.5", "policy.hidden=[8,8,8]", "name=other"});
  EXPECT_EQ(c.actors.count, 5);
  EXPECT_DOUBLE_EQ(c.algorithm.gamma, 0.5);
  EXPECT_EQ(c.policy.hidden, (std::vector<int>{8, 8, 8}));
  EXPECT_EQ(c.name, "other");
  ExpectUserError([&] { ApplyOverrides(c, {"actors.count=x"}); }, {"actors.count", "integer"});
  ExpectUserError([&] { ApplyOverrides(c, {"actors.cont=3"}); }, {"did you mean 'actors.count'"});
  ExpectUserError([&] { ApplyOverrides(c, {"nosuchsection.key=3"}); }, {"unknown key"});
  ExpectUserError([&] { ApplyOverrides(c, {"actors.count"}); }, {"key=value"});
  ExpectUserError([&] { ApplyOverrides(c, {"actors.count=0"}); }, {"actors.count"});
}

TEST(ConfigTest, ResolvedYamlRoundTrips) {
  ExperimentConfig c;
  ApplyOverrides(
      c, {"name=round trip: \"quoted\"", "algorithm.learning_rate=0.000123456789", "seed=42"});
  std::string yaml = ToYaml(c);
  ExperimentConfig back = ParseExperiment(yaml, "resolved");
  EXPECT_EQ(ToYaml(back), yaml);
  EXPECT_EQ(back.name, c.name);
  EXPECT_DOUBLE_EQ(back.algorithm.learning_rate, 0.000123456789);
}

TEST(ConfigTest, MissingFileIsAUserError) {
  ExpectUserError([] { LoadExperiment("/nonexistent/exp.yaml"); },
                  {"/nonexistent/exp.yaml", "cannot read"});
}

TEST(ConfigTest, ReferenceListsEveryKey) {
  std::string doc = ConfigReferenceMarkdown();
  for (const char* key : {"`env.id`", "`actors.count`", "`algorithm.gae_lambda`",
                          "`learner.batch_size`", "`train.total_env_steps`", "`seed`"}) {
    EXPECT_NE(doc.find(key), std::string::npos) << key;
  }
}

TEST(ConfigTest, ShippedExperimentsLoad) {
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(ROBOFLEET_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(LoadExperiment(entry.path().string())) << entry.path();
  }
}

TEST(ConfigTest, ClosestName) {
  EXPECT_EQ(ClosestName("cuont", {"count", "envs_per_actor"}), "count");
  EXPECT_EQ(ClosestName("zzzzzzzz", {"count", "seed"}), "");
}

}  // namespace
}  // namespace robofleet

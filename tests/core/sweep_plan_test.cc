#include "core/sweep_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace robofleet {
namespace {

// The UserError message of `fn`, or "" when it does not throw one.
template <class Fn>
std::string ErrorOf(Fn fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

// Expands the sweep block of an experiment text over the text's own config.
SweepPlan Expand(const std::string& text) {
  return ExpandSweep(ParseSweepSpec(text, "s.yaml"), ParseExperiment(text, "s.yaml"));
}

TEST(SweepSpecTest, GridCrossesSeedsConfigMajor) {
  const SweepPlan plan = Expand(
      "name: x\n"
      "sweep:\n"
      "  seeds: [1, 2]\n"
      "  grid:\n"
      "    algorithm.clip_ratio: [0.1, 0.2]\n"
      "    policy.hidden: [[8, 8], [16]]\n");
  ASSERT_EQ(plan.configs.size(), 4u);
  EXPECT_EQ(plan.configs[0],
            (std::vector<std::string>{"algorithm.clip_ratio=0.1", "policy.hidden=[8,8]"}));
  EXPECT_EQ(plan.configs[1],
            (std::vector<std::string>{"algorithm.clip_ratio=0.1", "policy.hidden=[16]"}));
  EXPECT_EQ(plan.configs[3],
            (std::vector<std::string>{"algorithm.clip_ratio=0.2", "policy.hidden=[16]"}));
  ASSERT_EQ(plan.runs.size(), 8u);
  EXPECT_EQ(plan.runs[0].id, "c00-s1");
  EXPECT_EQ(plan.runs[1].id, "c00-s2");
  EXPECT_EQ(plan.runs[7].id, "c03-s2");
  EXPECT_EQ(plan.runs[7].config, 3);
  EXPECT_EQ(plan.Overrides(7),
            (std::vector<std::string>{"algorithm.clip_ratio=0.2", "policy.hidden=[16]", "seed=2"}));
}

TEST(SweepSpecTest, SeedsAloneRunTheBaseConfig) {
  SweepPlan plan = Expand("seed: 11\nsweep:\n  seeds: [3, 4, 5]\n");
  ASSERT_EQ(plan.configs.size(), 1u);
  EXPECT_TRUE(plan.configs[0].empty());
  EXPECT_EQ(plan.runs.size(), 3u);
  EXPECT_EQ(plan.runs[2].seed, 5u);
  // no seeds: once, with the base seed
  plan = Expand("seed: 11\nsweep:\n  grid:\n    algorithm.epochs: [1, 2]\n");
  ASSERT_EQ(plan.runs.size(), 2u);
  EXPECT_EQ(plan.runs[0].seed, 11u);
  EXPECT_EQ(plan.runs[1].id, "c01-s11");
}

TEST(SweepSpecTest, RandomDrawsAreReproducibleInRangeAndTyped) {
  const std::string text =
      "sweep:\n"
      "  random:\n"
      "    count: 50\n"
      "    seed: 7\n"
      "    params:\n"
      "      algorithm.learning_rate: {distribution: log_uniform, low: 1.0e-4, high: 1.0e-2}\n"
      "      algorithm.entropy_coef: {distribution: uniform, low: 0.0, high: 0.5}\n"
      "      algorithm.epochs: {distribution: uniform, low: 1, high: 4}\n"
      "      policy.activation: {distribution: choice, values: [elu, tanh]}\n";
  const SweepPlan a = Expand(text);
  const SweepPlan b = Expand(text);
  ASSERT_EQ(a.configs.size(), 50u);
  EXPECT_EQ(a.configs, b.configs);
  std::set<std::string> activations;
  std::set<int> epochs;
  int low_decade = 0;
  for (const auto& config : a.configs) {
    ASSERT_EQ(config.size(), 4u);
    const double lr = std::stod(config[0].substr(config[0].find('=') + 1));
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-2);
    if (lr < 1e-3) ++low_decade;
    const double entropy = std::stod(config[1].substr(config[1].find('=') + 1));
    EXPECT_GE(entropy, 0.0);
    EXPECT_LE(entropy, 0.5);
    // an integer key gets whole numbers
    const std::string e = config[2].substr(config[2].find('=') + 1);
    EXPECT_EQ(e.find('.'), std::string::npos) << e;
    epochs.insert(std::stoi(e));
    activations.insert(config[3]);
  }
  // log-uniform: about half the draws in the lower decade
  EXPECT_GT(low_decade, 10);
  EXPECT_LT(low_decade, 40);
  EXPECT_EQ(activations.size(), 2u);
  EXPECT_GE(epochs.size(), 3u);
  for (int e : epochs) EXPECT_TRUE(e >= 1 && e <= 4) << e;
  // another seed, other draws
  std::string other = text;
  other.replace(other.find("seed: 7"), 7, "seed: 8");
  EXPECT_NE(Expand(other).configs, a.configs);
}

TEST(SweepSpecTest, RandomDrawsCrossTheGrid) {
  const SweepPlan plan = Expand(
      "sweep:\n"
      "  grid:\n"
      "    algorithm.clip_ratio: [0.1, 0.3]\n"
      "  random:\n"
      "    count: 3\n"
      "    params:\n"
      "      algorithm.gamma: {distribution: uniform, low: 0.9, high: 0.99}\n");
  ASSERT_EQ(plan.configs.size(), 6u);
  EXPECT_EQ(plan.configs[0][0], "algorithm.clip_ratio=0.1");
  EXPECT_EQ(plan.configs[3][0], "algorithm.clip_ratio=0.3");
  // the same draws under each grid point
  EXPECT_EQ(plan.configs[0][1], plan.configs[3][1]);
  EXPECT_NE(plan.configs[0][1], plan.configs[1][1]);
}

struct BadSpec {
  const char* name;
  const char* sweep;  // appended after "name: x\n"
  std::vector<const char*> expected;
};

void PrintTo(const BadSpec& p, std::ostream* os) { *os << p.name; }

class BadSpecTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(BadSpecTest, OneLineNamingTheProblem) {
  const BadSpec& p = GetParam();
  const std::string err = ErrorOf([&] { Expand(std::string("name: x\n") + p.sweep); });
  ASSERT_FALSE(err.empty()) << "accepted:\n" << p.sweep;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  for (const char* fragment : p.expected) {
    EXPECT_NE(err.find(fragment), std::string::npos) << err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadSpecTest,
    ::testing::Values(
        BadSpec{"NoBlock", "seed: 1\n", {"s.yaml", "no sweep: block"}},
        BadSpec{"EmptyBlock", "sweep:\n", {"s.yaml:2", "empty"}},
        BadSpec{"EmptyGrid", "sweep:\n  grid: {}\n", {"s.yaml:3", "sweep.grid is empty"}},
        BadSpec{"EmptyValues",
                "sweep:\n  grid:\n    algorithm.gamma: []\n",
                {"s.yaml:4", "algorithm.gamma", "empty"}},
        BadSpec{"ScalarValues",
                "sweep:\n  grid:\n    algorithm.gamma: 0.9\n",
                {"algorithm.gamma", "list"}},
        BadSpec{"DuplicateValue", "sweep:\n  grid:\n    algorithm.gamma: [0.9, 0.9]\n", {"twice"}},
        BadSpec{"UnknownKey",
                "sweep:\n  grid:\n    algorithm.learnig_rate: [0.1]\n",
                {"s.yaml:4", "algorithm.learnig_rate", "did you mean 'algorithm.learning_rate'"}},
        BadSpec{"UnknownSweepKey",
                "sweep:\n  gird:\n    seed: [1]\n",
                {"s.yaml:3", "sweep.gird", "did you mean 'sweep.grid'"}},
        BadSpec{"WrongType",
                "sweep:\n  grid:\n    actors.count: [1, two]\n",
                {"s.yaml:4", "actors.count=two", "integer"}},
        BadSpec{"OutOfRange",
                "sweep:\n  grid:\n    algorithm.learning_rate: [0.1, -1]\n",
                {"s.yaml:4", "algorithm.learning_rate", "> 0"}},
        BadSpec{"ValueBadForTheBase",
                "learner:\n  batch_size: 8\nsweep:\n  grid:\n    algorithm.minibatches: [4, 16]\n",
                {"s.yaml:6", "algorithm.minibatches=16", "learner.batch_size"}},
        BadSpec{"ClashingValues",
                "sweep:\n  grid:\n    learner.batch_size: [8, 64]\n"
                "    algorithm.minibatches: [4, 16]\n",
                {"s.yaml:2", "c01", "algorithm.minibatches=16", "learner.batch_size=8"}},
        BadSpec{"UnknownDistribution",
                "sweep:\n  random:\n    count: 2\n    params:\n"
                "      algorithm.gamma: {distribution: normal, low: 0.9, high: 0.99}\n",
                {"s.yaml:6", "unknown distribution 'normal'", "log_uniform"}},
        BadSpec{"NoDistribution",
                "sweep:\n  random:\n    count: 2\n    params:\n      algorithm.gamma: {low: 0.9}\n",
                {"algorithm.gamma", "distribution"}},
        BadSpec{"LowAboveHigh",
                "sweep:\n  random:\n    count: 2\n    params:\n"
                "      algorithm.gamma: {distribution: uniform, low: 0.99, high: 0.9}\n",
                {"low > high"}},
        BadSpec{"LogUniformFromZero",
                "sweep:\n  random:\n    count: 2\n    params:\n"
                "      algorithm.entropy_coef: {distribution: log_uniform, low: 0, high: 0.1}\n",
                {"log_uniform", "> 0"}},
        BadSpec{"UniformOnString",
                "sweep:\n  random:\n    count: 2\n    params:\n"
                "      policy.activation: {distribution: uniform, low: 0, high: 1}\n",
                {"policy.activation", "string", "choice"}},
        BadSpec{"ChoiceWithoutValues",
                "sweep:\n  random:\n    count: 2\n    params:\n"
                "      policy.activation: {distribution: choice}\n",
                {"values", "list"}},
        BadSpec{"BadChoiceValue",
                "sweep:\n  random:\n    count: 2\n    params:\n"
                "      policy.activation: {distribution: choice, values: [elu, swish]}\n",
                {"policy.activation=swish", "elu, tanh, relu"}},
        BadSpec{"ZeroCount",
                "sweep:\n  random:\n    count: 0\n    params:\n"
                "      algorithm.gamma: {distribution: uniform, low: 0.9, high: 0.99}\n",
                {"sweep.random.count"}},
        BadSpec{"NoParams", "sweep:\n  random:\n    count: 2\n", {"no params"}},
        BadSpec{
            "KeyInGridAndRandom",
            "sweep:\n  grid:\n    algorithm.gamma: [0.9]\n  random:\n    count: 2\n"
            "    params:\n      algorithm.gamma: {distribution: uniform, low: 0.9, high: 0.99}\n",
            {"both"}},
        BadSpec{"SeedAsGridKey", "sweep:\n  grid:\n    seed: [1, 2]\n", {"sweep.seeds"}},
        BadSpec{"BadSeeds", "sweep:\n  seeds: [1, -2]\n", {"sweep.seeds", ">= 0"}},
        BadSpec{"DuplicateSeeds", "sweep:\n  seeds: [1, 1]\n", {"twice"}},
        BadSpec{"SeedsNotAList", "sweep:\n  seeds: 3\n", {"sweep.seeds", "list"}}),
    [](const ::testing::TestParamInfo<BadSpec>& param_info) { return param_info.param.name; });

TEST(SweepPlanTest, YamlRoundTrips) {
  const SweepPlan plan = Expand(
      "sweep:\n  seeds: [1, 2]\n  grid:\n    policy.hidden: [[8, 8]]\n"
      "    policy.activation: [\"tanh\", relu]\n");
  const std::string yaml = SweepPlanToYaml(plan);
  const SweepPlan back = ParseSweepPlan(yaml, "plan.yaml");
  EXPECT_EQ(back.configs, plan.configs);
  ASSERT_EQ(back.runs.size(), plan.runs.size());
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    EXPECT_EQ(back.runs[i].id, plan.runs[i].id);
    EXPECT_EQ(back.runs[i].config, plan.runs[i].config);
    EXPECT_EQ(back.runs[i].seed, plan.runs[i].seed);
  }
  EXPECT_EQ(SweepPlanToYaml(back), yaml);
  EXPECT_NE(ErrorOf([] { ParseSweepPlan("name: x\n", "d/plan.yaml"); }).find("d/plan.yaml"),
            std::string::npos);
  EXPECT_FALSE(ErrorOf([] {
                 ParseSweepPlan("configs: [[]]\nruns:\n  - {id: a, config: 3, seed: 1}\n", "p");
               }).empty());
}

TEST(SweepSummaryTest, FinalMetricIsTheLastNonEmptyCell) {
  const std::string csv =
      "env_steps,episode_return_mean,value_loss\n"
      "64,,1.5\n"
      "128,-3.5,1.25\n"
      "192,,1\n";
  EXPECT_DOUBLE_EQ(*FinalMetric(csv, "episode_return_mean"), -3.5);
  EXPECT_DOUBLE_EQ(*FinalMetric(csv, "value_loss"), 1.0);
  EXPECT_FALSE(FinalMetric("env_steps,episode_return_mean\n64,\n", "episode_return_mean"));
  const std::string err = ErrorOf([&] { FinalMetric(csv, "retrun"); });
  EXPECT_NE(err.find("'retrun'"), std::string::npos) << err;
  EXPECT_NE(err.find("episode_return_mean"), std::string::npos) << err;
}

TEST(SweepSummaryTest, RanksByMeanOverSeedsWithSpread) {
  const SweepPlan plan =
      Expand("sweep:\n  seeds: [1, 2]\n  grid:\n    algorithm.clip_ratio: [0.1, 0.2, 0.3]\n");
  const std::map<std::string, double> finals = {
      {"c00-s1", 1.0},
      {"c00-s2", 3.0},  // mean 2
      {"c01-s1", 10.0},
      {"c01-s2", 6.0},  // mean 8, the best
                        // c02 has no finished run
  };
  std::vector<ConfigResult> ranked = RankConfigs(plan, finals, false);
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_EQ(ranked[0].name, "c01");
  EXPECT_DOUBLE_EQ(ranked[0].mean, 8.0);
  EXPECT_NEAR(ranked[0].std, std::sqrt(8.0), 1e-12);  // sample std of {10, 6}
  EXPECT_DOUBLE_EQ(ranked[0].min, 6.0);
  EXPECT_DOUBLE_EQ(ranked[0].max, 10.0);
  EXPECT_EQ(ranked[1].name, "c00");
  EXPECT_EQ(ranked[2].name, "c02");
  EXPECT_TRUE(ranked[2].values.empty());
  EXPECT_EQ(ranked[2].run_ids, (std::vector<std::string>{"c02-s1", "c02-s2"}));

  // lower is better: c00 first, the unfinished one still last
  ranked = RankConfigs(plan, finals, true);
  EXPECT_EQ(ranked[0].name, "c00");
  EXPECT_EQ(ranked[2].name, "c02");

  const std::string csv = SummaryCsv(RankConfigs(plan, finals, false), "episode_return_mean");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "rank,config,runs_done,runs,episode_return_mean_mean,episode_return_mean_std,"
            "episode_return_mean_min,episode_return_mean_max,overrides,run_ids");
  EXPECT_NE(csv.find("\n1,c01,2,2,8,2.82843,6,10,algorithm.clip_ratio=0.2,c01-s1 c01-s2\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\n,c02,0,2,,,,,algorithm.clip_ratio=0.3,c02-s1 c02-s2\n"), std::string::npos)
      << csv;

  const std::string table =
      SummaryTable(RankConfigs(plan, finals, false), "episode_return_mean", false);
  EXPECT_NE(table.find("4 of 6 runs finished"), std::string::npos) << table;
  EXPECT_LT(table.find("c01"), table.find("c00")) << table;
  EXPECT_NE(table.find("2/2"), std::string::npos) << table;
}

TEST(SweepSummaryTest, CsvQuotesOverridesWithCommas) {
  const SweepPlan plan = Expand("sweep:\n  grid:\n    policy.hidden: [[8, 8]]\n");
  const std::string csv = SummaryCsv(RankConfigs(plan, {{plan.runs[0].id, 1.0}}, false), "r");
  EXPECT_NE(csv.find("\"policy.hidden=[8,8]\""), std::string::npos) << csv;
}

TEST(SweepSpecTest, ShippedExampleExpands) {
  const std::string path = std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/cartpole_sweep.yaml";
  SweepSource source;
  const ExperimentConfig base = LoadExperiment(path, {}, &source);
  ASSERT_EQ(source.path, path);
  EXPECT_EQ(base.env.id, "cartpole_swingup");  // from the file it extends
  const SweepPlan plan = ExpandSweep(ParseSweepSpec(source.text, source.path), base);
  EXPECT_EQ(plan.configs.size(), 4u);
  EXPECT_EQ(plan.runs.size(), 12u);
}

}  // namespace
}  // namespace robofleet

// Hyperparameter sweeps: the `sweep:` block of an experiment file, its
// expansion into runs, and the summary that ranks the configurations.
// Everything here is pure (text in, values out); launcher/sweep_runner.cc makes the
// directories, starts the runs and reads their metrics.
//
// A sweep block (docs/sweeps.md has the whole story):
//
//   sweep:
//     seeds: [1, 2, 3]                    # every configuration once per seed
//     grid:                               # every combination of these values
//       algorithm.clip_ratio: [0.1, 0.2]
//       policy.hidden: [[32, 32], [64, 64]]
//     random:                             # `count` draws, each crossed with the grid
//       count: 4
//       seed: 7                           # seeds the draws, not the runs
//       params:
//         algorithm.learning_rate: {distribution: log_uniform, low: 1.0e-4, high: 1.0e-2}
//         algorithm.entropy_coef: {distribution: uniform, low: 0.0, high: 0.01}
//         policy.activation: {distribution: choice, values: [elu, tanh]}
//
// Configurations are the grid's points crossed with the random draws; runs
// are the configurations crossed with the seeds.
#ifndef ROBOFLEET_CORE_SWEEP_PLAN_H_
#define ROBOFLEET_CORE_SWEEP_PLAN_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"

namespace robofleet {

// One swept key: its grid values, or how its random draws are made.
struct SweepParam {
  std::string key;                  // dotted config key, e.g. "algorithm.learning_rate"
  std::string type;                 // the key's type, as ConfigKeyTypes() names it
  std::string distribution;         // "grid", or "uniform", "log_uniform", "choice"
  std::vector<std::string> values;  // grid and choice values, as `--set` text
  double low = 0.0;                 // uniform and log_uniform: the closed range
  double high = 0.0;
  std::string where;  // "FILE:LINE" of its entry, for errors
};

// A parsed, checked sweep block.
struct SweepSpec {
  std::string where;               // "FILE:LINE" of the sweep block
  std::vector<SweepParam> grid;    // in file order; the first varies slowest
  std::vector<SweepParam> random;  // in file order
  int random_count = 0;            // draws of the random params (0: no random search)
  uint64_t random_seed = 0;        // seed of those draws
  std::vector<uint64_t> seeds;     // empty: one run per configuration, with the base seed
};

// Parses the top-level `sweep:` block of an experiment file's text. Checks
// everything that needs no base config: structure, known keys (with the
// closest valid name), distributions, ranges, types that a distribution
// cannot produce. Throws UserError "FILE:LINE: problem; fix".
SweepSpec ParseSweepSpec(const std::string& file_text, const std::string& source);

// One run of a sweep.
struct SweepRun {
  std::string id;  // its directory's name in the sweep directory, e.g. "c03-s2"
  int config = 0;  // index into SweepPlan::configs
  uint64_t seed = 0;
};

// What a sweep runs. Runs with the same `config` differ only in their seed.
struct SweepPlan {
  std::vector<std::vector<std::string>> configs;  // each one's key=value overrides, seed aside
  std::vector<SweepRun> runs;                     // config-major, seeds in the spec's order

  // The `robofleet train --set` overrides of runs[i]: its configuration's,
  // then seed=N.
  std::vector<std::string> Overrides(size_t i) const;
};

// Expands `spec` over `base` (the experiment's resolved config). Every grid
// and choice value, and then every run's whole set of overrides, is applied
// to a copy of `base` and validated, so a bad value fails here, naming the
// spec's line, before anything runs. Random draws depend only on
// spec.random_seed. Throws UserError.
SweepPlan ExpandSweep(const SweepSpec& spec, const ExperimentConfig& base);

// The plan as YAML (the sweep directory's plan.yaml), and back. Parsing
// throws UserError naming `source` when the text is not a plan.
std::string SweepPlanToYaml(const SweepPlan& plan);
SweepPlan ParseSweepPlan(const std::string& text, const std::string& source);

// The last non-empty value of `column` in a metrics.csv text; nullopt when
// the column has no value yet. Throws UserError when there is no such column
// (the message lists the columns).
std::optional<double> FinalMetric(const std::string& csv_text, const std::string& column);

// One configuration's results over its seeds.
struct ConfigResult {
  int config = 0;                      // index into SweepPlan::configs
  std::string name;                    // as its run ids start: "c03"
  std::vector<std::string> overrides;  // as in SweepPlan::configs
  std::vector<std::string> run_ids;    // all of its runs
  std::vector<double> values;          // the metric of those that finished
  double mean = 0.0;                   // over `values`; meaningless when it is empty
  double std = 0.0;                    // sample standard deviation (0 for one value)
  double min = 0.0;
  double max = 0.0;
};

// Ranks the configurations by the mean of their finished runs' metric
// (`final_metric`: run id -> value), best first: highest, or lowest when
// `minimize`. Ties keep plan order; configurations without a finished run
// come last.
std::vector<ConfigResult> RankConfigs(const SweepPlan& plan,
                                      const std::map<std::string, double>& final_metric,
                                      bool minimize);

// summary.csv: one row per configuration in rank order, with a header.
std::string SummaryCsv(const std::vector<ConfigResult>& ranked, const std::string& metric);

// The ranking as a fixed-width table for the terminal, with a title line.
std::string SummaryTable(const std::vector<ConfigResult>& ranked, const std::string& metric,
                         bool minimize);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_SWEEP_PLAN_H_

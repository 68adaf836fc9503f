#include "core/sweep_plan.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <sstream>

namespace robofleet {
namespace {

std::string At(const std::string& source, const YAML::Node& node) {
  if (!node || node.Mark().is_null()) return source;
  return source + ":" + std::to_string(node.Mark().line + 1);
}

// The key node of `name` in a map (its mark survives an empty value).
YAML::Node KeyNode(const YAML::Node& map, const std::string& name) {
  for (const auto& kv : map) {
    if (kv.first.Scalar() == name) return kv.first;
  }
  return YAML::Node();
}

// Rejects keys of `map` outside `valid`, suggesting the closest.
void CheckKeys(const YAML::Node& map, const std::string& source, const std::string& path,
               const std::vector<std::string>& valid) {
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    if (std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    std::string msg = At(source, kv.first) + ": unknown key '" + path + key + "'";
    const std::string closest = ClosestName(key, valid);
    if (!closest.empty()) {
      msg += "; did you mean '" + path + closest + "'?";
    } else {
      msg += "; valid keys here:";
      for (const auto& v : valid) msg += " " + v;
    }
    throw UserError(msg);
  }
}

// A grid or choice value as `--set` text: a scalar as written, a list as
// [a,b] (lists of scalars only).
std::string ValueText(const YAML::Node& node, const std::string& source, const std::string& key) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsSequence()) {
    std::string text = "[";
    for (size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar()) {
        throw UserError(At(source, node) + ": a value of sweep key '" + key +
                        "' nests lists or maps; give scalars or lists of scalars");
      }
      text += (i ? "," : "") + node[i].Scalar();
    }
    return text + "]";
  }
  throw UserError(At(source, node) + ": a value of sweep key '" + key +
                  "' is not a scalar or list; give one value per entry, e.g. [0.1, 0.2]");
}

// The values of a list node, each as `--set` text, non-empty and distinct.
std::vector<std::string> ValueList(const YAML::Node& node, const std::string& source,
                                   const std::string& key, const std::string& what) {
  if (!node || !node.IsSequence()) {
    throw UserError(At(source, node) + ": " + what + " must be a list of values, e.g. [0.1, 0.2]");
  }
  if (node.size() == 0) {
    throw UserError(At(source, node) + ": " + what + " is empty; list at least one value");
  }
  std::vector<std::string> values;
  for (const auto& item : node) {
    std::string text = ValueText(item, source, key);
    if (std::find(values.begin(), values.end(), text) != values.end()) {
      throw UserError(At(source, item) + ": " + what + " lists " + text + " twice");
    }
    values.push_back(std::move(text));
  }
  return values;
}

double NumberAt(const YAML::Node& node, const std::string& source, const std::string& what) {
  char* end = nullptr;
  const std::string text = node && node.IsScalar() ? node.Scalar() : "";
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(x)) {
    throw UserError(At(source, node) + ": " + what + " must be a number");
  }
  return x;
}

uint64_t CountAt(const YAML::Node& node, const std::string& source, const std::string& what) {
  const std::string text = node && node.IsScalar() ? node.Scalar() : "";
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 18) {
    throw UserError(At(source, node) + ": " + what + " must be a whole number >= 0");
  }
  return std::strtoull(text.c_str(), nullptr, 10);
}

// The type of a config key, or a UserError naming the closest key.
std::string TypeOfKey(const std::string& key, const YAML::Node& key_node,
                      const std::string& source) {
  std::vector<std::string> names;
  for (const auto& [name, type] : ConfigKeyTypes()) {
    if (name == key) return type;
    names.push_back(name);
  }
  std::string msg = At(source, key_node) + ": sweep key '" + key + "' is not a config key";
  const std::string closest = ClosestName(key, names);
  msg += closest.empty() ? "; docs/config.md lists them" : "; did you mean '" + closest + "'?";
  throw UserError(msg);
}

void CheckSweptKey(const std::string& key, const YAML::Node& key_node, const std::string& source) {
  if (key == "seed") {
    throw UserError(At(source, key_node) +
                    ": sweep over seeds with sweep.seeds: [1, 2, 3], not a 'seed' key");
  }
}

SweepParam ParseRandomParam(const std::string& key, const YAML::Node& key_node,
                            const YAML::Node& node, const std::string& source) {
  SweepParam p;
  p.key = key;
  p.where = At(source, key_node);
  const std::string path = "sweep.random.params." + key + ".";
  if (!node.IsMap()) {
    throw UserError(p.where + ": '" + path.substr(0, path.size() - 1) +
                    "' must be a map, e.g. {distribution: log_uniform, low: 1e-4, high: 1e-2}");
  }
  CheckKeys(node, source, path, {"distribution", "low", "high", "values"});
  if (!node["distribution"]) {
    throw UserError(p.where + ": '" + key +
                    "' names no distribution; add distribution: uniform, log_uniform or choice");
  }
  p.distribution = node["distribution"].Scalar();
  if (p.distribution == "choice") {
    if (node["low"] || node["high"]) {
      throw UserError(p.where + ": '" + key + "' is a choice; give values: [...], not low/high");
    }
    p.values = ValueList(node["values"], source, key, "'" + path + "values'");
  } else if (p.distribution == "uniform" || p.distribution == "log_uniform") {
    if (node["values"]) {
      throw UserError(p.where + ": '" + key + "' is " + p.distribution +
                      "; give low: and high:, not values (values go with distribution: choice)");
    }
    if (!node["low"] || !node["high"]) {
      throw UserError(p.where + ": '" + key + "' is " + p.distribution +
                      "; it needs low: and high:");
    }
    p.low = NumberAt(node["low"], source, "'" + path + "low'");
    p.high = NumberAt(node["high"], source, "'" + path + "high'");
    if (p.low > p.high) {
      throw UserError(At(source, node["low"]) + ": '" + key + "' has low > high; swap them");
    }
    if (p.distribution == "log_uniform" && !(p.low > 0)) {
      throw UserError(At(source, node["low"]) + ": '" + key +
                      "' is log_uniform, so low must be > 0");
    }
  } else {
    throw UserError(At(source, node["distribution"]) + ": unknown distribution '" + p.distribution +
                    "' for '" + key + "'; valid: uniform, log_uniform, choice");
  }
  return p;
}

// Six significant digits: enough for a hyperparameter, short in a table.
std::string Number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", x);
  return buf;
}

// Draws one value of a random param; `u` is uniform in [0, 1).
std::string Draw(const SweepParam& p, double u) {
  if (p.distribution == "choice") {
    const size_t i = std::min(p.values.size() - 1, static_cast<size_t>(u * p.values.size()));
    return p.values[i];
  }
  double x = p.low + u * (p.high - p.low);
  if (p.distribution == "log_uniform") {
    x = std::exp(std::log(p.low) + u * (std::log(p.high) - std::log(p.low)));
  }
  if (p.type == "integer") return std::to_string(std::llround(x));
  return Number(x);
}

// Applies `overrides` to a copy of `base`; on failure throws UserError
// "<context>: <problem>" without the `--set k=v: ` lead-in of ApplyOverrides.
void CheckOverrides(const ExperimentConfig& base, const std::vector<std::string>& overrides,
                    const std::string& context) {
  ExperimentConfig copy = base;
  try {
    ApplyOverrides(copy, overrides);
  } catch (const UserError& e) {
    std::string what = e.what();
    for (const auto& item : overrides) {
      const std::string lead = "--set " + item + ": ";
      if (what.rfind(lead, 0) == 0) what = what.substr(lead.size());
    }
    throw UserError(context + ": " + what);
  }
}

std::string Join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

SweepSpec ParseSweepSpec(const std::string& file_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(file_text);
  } catch (const YAML::ParserException& e) {
    throw UserError(source + ":" + std::to_string(e.mark.line + 1) +
                    ": YAML syntax error: " + e.msg + "; fix the file's syntax");
  }
  const YAML::Node& croot = root;
  if (!croot.IsMap() || !croot["sweep"]) {
    throw UserError(source + ": no sweep: block; add one (docs/sweeps.md), or use robofleet train");
  }
  SweepSpec spec;
  spec.where = At(source, KeyNode(croot, "sweep"));
  const YAML::Node sweep = croot["sweep"];
  if (sweep.IsNull()) {
    throw UserError(spec.where + ": the sweep block is empty; give it grid:, random: or seeds:");
  }
  if (!sweep.IsMap()) {
    throw UserError(spec.where + ": 'sweep' must be a map with grid:, random: and/or seeds:");
  }
  CheckKeys(sweep, source, "sweep.", {"grid", "random", "seeds"});
  std::set<std::string> swept;

  if (sweep["grid"]) {
    const YAML::Node grid = sweep["grid"];
    const std::string where = At(source, KeyNode(sweep, "grid"));
    if (grid.IsNull() || (grid.IsMap() && grid.size() == 0)) {
      throw UserError(where +
                      ": sweep.grid is empty; give each key its values, e.g. "
                      "algorithm.clip_ratio: [0.1, 0.2]");
    }
    if (!grid.IsMap()) {
      throw UserError(where + ": sweep.grid must map config keys to lists of values");
    }
    for (const auto& kv : grid) {
      SweepParam p;
      p.key = kv.first.Scalar();
      p.where = At(source, kv.first);
      p.distribution = "grid";
      CheckSweptKey(p.key, kv.first, source);
      p.type = TypeOfKey(p.key, kv.first, source);
      p.values = ValueList(kv.second, source, p.key, "sweep.grid." + p.key);
      swept.insert(p.key);
      spec.grid.push_back(std::move(p));
    }
  }

  if (sweep["random"]) {
    const YAML::Node random = sweep["random"];
    const std::string where = At(source, KeyNode(sweep, "random"));
    if (!random.IsMap()) {
      throw UserError(where + ": sweep.random must be a map with count:, seed: and params:");
    }
    CheckKeys(random, source, "sweep.random.", {"count", "seed", "params"});
    if (!random["count"]) {
      throw UserError(where + ": sweep.random needs count: (how many draws)");
    }
    const uint64_t count = CountAt(random["count"], source, "sweep.random.count");
    if (count < 1 || count > 100000) {
      throw UserError(At(source, random["count"]) + ": sweep.random.count must be 1 to 100000");
    }
    spec.random_count = static_cast<int>(count);
    if (random["seed"]) spec.random_seed = CountAt(random["seed"], source, "sweep.random.seed");
    const YAML::Node params = random["params"];
    if (!params || params.IsNull() || (params.IsMap() && params.size() == 0)) {
      throw UserError(where +
                      ": sweep.random has no params; add e.g. params: "
                      "{algorithm.learning_rate: {distribution: log_uniform, low: 1e-4, "
                      "high: 1e-2}}");
    }
    if (!params.IsMap()) {
      throw UserError(At(source, params) +
                      ": sweep.random.params must map config keys to "
                      "distributions");
    }
    for (const auto& kv : params) {
      const std::string key = kv.first.Scalar();
      CheckSweptKey(key, kv.first, source);
      SweepParam p = ParseRandomParam(key, kv.first, kv.second, source);
      p.type = TypeOfKey(key, kv.first, source);
      if (p.distribution != "choice" && p.type != "integer" && p.type != "number") {
        throw UserError(p.where + ": '" + key + "' is a " + p.type +
                        "; only distribution: "
                        "choice fits it");
      }
      if (!swept.insert(key).second) {
        throw UserError(p.where + ": '" + key +
                        "' is in both sweep.grid and sweep.random; "
                        "keep it in one");
      }
      spec.random.push_back(std::move(p));
    }
  }

  if (sweep["seeds"]) {
    const YAML::Node seeds = sweep["seeds"];
    const std::string where = At(source, KeyNode(sweep, "seeds"));
    if (!seeds.IsSequence() || seeds.size() == 0) {
      throw UserError(where + ": sweep.seeds must be a non-empty list, e.g. [1, 2, 3]");
    }
    for (const auto& item : seeds) {
      const uint64_t seed = CountAt(item, source, "each of sweep.seeds");
      if (std::find(spec.seeds.begin(), spec.seeds.end(), seed) != spec.seeds.end()) {
        throw UserError(At(source, item) + ": sweep.seeds lists " + std::to_string(seed) +
                        " twice");
      }
      spec.seeds.push_back(seed);
    }
  }

  if (spec.grid.empty() && spec.random.empty() && spec.seeds.empty()) {
    throw UserError(spec.where +
                    ": the sweep block sweeps nothing; give it grid:, random: or "
                    "seeds:");
  }
  return spec;
}

std::vector<std::string> SweepPlan::Overrides(size_t i) const {
  std::vector<std::string> overrides = configs[runs[i].config];
  overrides.push_back("seed=" + std::to_string(runs[i].seed));
  return overrides;
}

SweepPlan ExpandSweep(const SweepSpec& spec, const ExperimentConfig& base) {
  // each value alone first, so that a bad one is named with its own line
  for (const auto* params : {&spec.grid, &spec.random}) {
    for (const SweepParam& p : *params) {
      for (const auto& value : p.values) {
        CheckOverrides(base, {p.key + "=" + value},
                       p.where + ": sweep value " + p.key + "=" + value);
      }
    }
  }

  // the grid's points, the first key varying slowest
  std::vector<std::vector<std::string>> points = {{}};
  for (const SweepParam& p : spec.grid) {
    std::vector<std::vector<std::string>> next;
    for (const auto& point : points) {
      for (const auto& value : p.values) {
        next.push_back(point);
        next.back().push_back(p.key + "=" + value);
      }
    }
    points = std::move(next);
  }

  // the random draws: one stream, params in file order within a draw
  std::vector<std::vector<std::string>> draws = {{}};
  if (!spec.random.empty()) {
    draws.clear();
    std::mt19937_64 rng(spec.random_seed);
    for (int i = 0; i < spec.random_count; ++i) {
      std::vector<std::string> draw;
      for (const SweepParam& p : spec.random) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        draw.push_back(p.key + "=" + Draw(p, u));
      }
      draws.push_back(std::move(draw));
    }
  }

  SweepPlan plan;
  for (const auto& point : points) {
    for (const auto& draw : draws) {
      std::vector<std::string> config = point;
      config.insert(config.end(), draw.begin(), draw.end());
      plan.configs.push_back(std::move(config));
    }
  }
  const std::vector<uint64_t> seeds =
      spec.seeds.empty() ? std::vector<uint64_t>{base.seed} : spec.seeds;
  const size_t width = std::to_string(std::max<size_t>(plan.configs.size() - 1, 10)).size();
  for (size_t c = 0; c < plan.configs.size(); ++c) {
    std::string index = std::to_string(c);
    index.insert(0, width - index.size(), '0');
    for (uint64_t seed : seeds) {
      plan.runs.push_back({"c" + index + "-s" + std::to_string(seed), static_cast<int>(c), seed});
    }
  }

  // then every run whole: values can clash (minibatches above the batch size)
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    CheckOverrides(
        base, plan.Overrides(i),
        spec.where + ": sweep run " + plan.runs[i].id + " (" + Join(plan.Overrides(i), " ") + ")");
  }
  return plan;
}

std::string SweepPlanToYaml(const SweepPlan& plan) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "configs" << YAML::Value << YAML::BeginSeq;
  for (const auto& config : plan.configs) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& item : config) out << YAML::DoubleQuoted << item;
    out << YAML::EndSeq;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "runs" << YAML::Value << YAML::BeginSeq;
  for (const auto& run : plan.runs) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "id" << YAML::Value << run.id << YAML::Key
        << "config" << YAML::Value << run.config << YAML::Key << "seed" << YAML::Value << run.seed
        << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return "# the runs of this sweep, written by robofleet sweep; reruns resume from it\n" +
         std::string(out.c_str()) + "\n";
}

SweepPlan ParseSweepPlan(const std::string& text, const std::string& source) {
  const std::string broken = source + ": not a sweep plan written by robofleet sweep";
  SweepPlan plan;
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap() || !root["configs"].IsSequence() || !root["runs"].IsSequence()) {
      throw UserError(broken);
    }
    for (const auto& config : root["configs"]) {
      plan.configs.push_back(config.as<std::vector<std::string>>());
    }
    std::set<std::string> ids;
    for (const auto& run : root["runs"]) {
      SweepRun r{run["id"].as<std::string>(), run["config"].as<int>(), run["seed"].as<uint64_t>()};
      if (r.config < 0 || r.config >= static_cast<int>(plan.configs.size()) || r.id.empty() ||
          r.id.find('/') != std::string::npos || !ids.insert(r.id).second) {
        throw UserError(broken + " (run '" + r.id + "')");
      }
      plan.runs.push_back(std::move(r));
    }
  } catch (const YAML::Exception& e) {
    throw UserError(broken + " (" + e.msg + ")");
  }
  return plan;
}

std::optional<double> FinalMetric(const std::string& csv_text, const std::string& column) {
  std::stringstream in(csv_text);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = SplitCsvLine(line);
  const auto it = std::find(header.begin(), header.end(), column);
  if (it == header.end()) {
    throw UserError("no column '" + column +
                    "' in metrics.csv; its columns: " + Join(header, ", "));
  }
  const size_t index = static_cast<size_t>(it - header.begin());
  std::optional<double> last;
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = SplitCsvLine(line);
    if (index >= cells.size() || cells[index].empty()) continue;
    char* end = nullptr;
    const double x = std::strtod(cells[index].c_str(), &end);
    if (*end == '\0' && std::isfinite(x)) last = x;
  }
  return last;
}

std::vector<ConfigResult> RankConfigs(const SweepPlan& plan,
                                      const std::map<std::string, double>& final_metric,
                                      bool minimize) {
  std::vector<ConfigResult> results(plan.configs.size());
  for (size_t c = 0; c < results.size(); ++c) {
    results[c].config = static_cast<int>(c);
    results[c].name = "c" + std::to_string(c);
    results[c].overrides = plan.configs[c];
  }
  for (const auto& run : plan.runs) {
    ConfigResult& r = results[run.config];
    // the configuration's name is its runs' id up to the seed: "c03"
    if (r.run_ids.empty()) r.name = run.id.substr(0, run.id.find('-'));
    r.run_ids.push_back(run.id);
    const auto it = final_metric.find(run.id);
    if (it != final_metric.end()) r.values.push_back(it->second);
  }
  for (ConfigResult& r : results) {
    if (r.values.empty()) continue;
    const double n = static_cast<double>(r.values.size());
    double sum = 0.0;
    for (double v : r.values) sum += v;
    r.mean = sum / n;
    double squares = 0.0;
    for (double v : r.values) squares += (v - r.mean) * (v - r.mean);
    r.std = r.values.size() > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
    r.min = *std::min_element(r.values.begin(), r.values.end());
    r.max = *std::max_element(r.values.begin(), r.values.end());
  }
  std::stable_sort(results.begin(), results.end(),
                   [minimize](const ConfigResult& a, const ConfigResult& b) {
                     if (a.values.empty() || b.values.empty())
                       return !a.values.empty() && b.values.empty();
                     return minimize ? a.mean < b.mean : a.mean > b.mean;
                   });
  return results;
}

std::string SummaryCsv(const std::vector<ConfigResult>& ranked, const std::string& metric) {
  std::string out = "rank,config,runs_done,runs," + metric + "_mean," + metric + "_std," + metric +
                    "_min," + metric + "_max,overrides,run_ids\n";
  for (size_t i = 0; i < ranked.size(); ++i) {
    const ConfigResult& r = ranked[i];
    const bool any = !r.values.empty();
    out += (any ? std::to_string(i + 1) : "") + "," + r.name + "," +
           std::to_string(r.values.size()) + "," + std::to_string(r.run_ids.size()) + "," +
           (any ? Number(r.mean) : "") + "," + (any ? Number(r.std) : "") + "," +
           (any ? Number(r.min) : "") + "," + (any ? Number(r.max) : "") + "," +
           CsvField(Join(r.overrides, " ")) + "," + CsvField(Join(r.run_ids, " ")) + "\n";
  }
  return out;
}

std::string SummaryTable(const std::vector<ConfigResult>& ranked, const std::string& metric,
                         bool minimize) {
  size_t done = 0, total = 0;
  for (const auto& r : ranked) done += r.values.size(), total += r.run_ids.size();
  std::string out = "ranked by final " + metric + ", mean over seeds (" +
                    (minimize ? "lower" : "higher") + " is better); " + std::to_string(done) +
                    " of " + std::to_string(total) + " runs finished\n";
  char line[512];
  std::snprintf(line, sizeof(line), "%4s  %-6s  %11s  %11s  %11s  %11s  %5s  %s\n", "rank",
                "config", "mean", "std", "min", "max", "seeds", "overrides");
  out += line;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const ConfigResult& r = ranked[i];
    const bool any = !r.values.empty();
    const std::string seeds =
        std::to_string(r.values.size()) + "/" + std::to_string(r.run_ids.size());
    std::snprintf(line, sizeof(line), "%4s  %-6s  %11s  %11s  %11s  %11s  %5s  %s\n",
                  any ? std::to_string(i + 1).c_str() : "-", r.name.c_str(),
                  any ? Number(r.mean).c_str() : "-", any ? Number(r.std).c_str() : "-",
                  any ? Number(r.min).c_str() : "-", any ? Number(r.max).c_str() : "-",
                  seeds.c_str(),
                  r.overrides.empty() ? "(base config)" : Join(r.overrides, " ").c_str());
    out += line;
  }
  return out;
}

}  // namespace robofleet

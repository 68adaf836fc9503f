#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <type_traits>

#include "core/check.h"

namespace robofleet {
namespace {

// ---- scalar conversion, one place for every field type ----

template <class T>
std::string TypeName() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  if constexpr (std::is_same_v<T, std::string>) return "string";
  if constexpr (std::is_same_v<T, std::vector<int>>) return "list of int";
  if constexpr (std::is_same_v<T, std::vector<double>>) return "list of number";
  if constexpr (std::is_same_v<T, std::vector<std::string>>) return "list of string";
  if constexpr (std::is_same_v<T, std::vector<ObservationTerm>>) return "list of observation terms";
  if constexpr (std::is_floating_point_v<T>) return "number";
  if constexpr (std::is_integral_v<T>) return "integer";
}

template <class T>
struct IsList : std::false_type {};
template <class E>
struct IsList<std::vector<E>> : std::true_type {};

template <class T>
std::string Format(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, std::string>) {
    YAML::Emitter out;
    out << YAML::DoubleQuoted << value;
    return out.c_str();
  } else if constexpr (std::is_same_v<T, ObservationTerm>) {
    // a kind without a name is switched on with `true`
    const std::string what = value.name.empty() ? "true" : Format(value.name);
    return "{" + value.kind + ": " + what + ", scale: " + Format(value.scale) +
           ", noise: " + Format(value.noise) + "}";
  } else if constexpr (IsList<T>::value) {
    std::string s = "[";
    for (size_t i = 0; i < value.size(); ++i) s += (i ? ", " : "") + Format(value[i]);
    return s + "]";
  } else if constexpr (std::is_floating_point_v<T>) {
    // the fewest digits that read back as the same number
    std::string s;
    for (int precision = 6; precision <= 17; ++precision) {
      std::ostringstream out;
      out.precision(precision);
      out << value;
      s = out.str();
      if (static_cast<T>(std::strtod(s.c_str(), nullptr)) == value) break;
    }
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  } else {
    return std::to_string(value);
  }
}

// What a value of type T must be, for errors: "an integer from 0 to 255".
template <class T>
std::string Expected() {
  if constexpr (std::is_same_v<T, std::vector<int>>) {
    return "a list of integers from " + std::to_string(std::numeric_limits<int>::min()) + " to " +
           std::to_string(std::numeric_limits<int>::max());
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    return "a list of numbers";
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return "a list of names, e.g. [trunk, FR_thigh]";
  } else if constexpr (std::is_same_v<T, std::vector<ObservationTerm>>) {
    return "a list of observation terms, e.g. [{sensor: imu_gyro, scale: 0.25}, {joint_pos: true}]";
  } else if constexpr (std::is_same_v<T, bool>) {
    return "a bool (true or false)";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else if constexpr (std::is_floating_point_v<T>) {
    return "a finite number";
  } else {
    return "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
           std::to_string(std::numeric_limits<T>::max());
  }
}

// An integer's text: plain digits, or an exact float such as 2e6; false when
// the text is no integer or lies outside T's range (never wraps or saturates).
template <class T>
bool DecodeInteger(const std::string& text, T* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  if constexpr (std::is_signed_v<T>) {
    const long long x = std::strtoll(text.c_str(), &end, 10);
    if (*end == '\0') {
      if (errno == ERANGE || x < std::numeric_limits<T>::min() ||
          x > std::numeric_limits<T>::max()) {
        return false;
      }
      *out = static_cast<T>(x);
      return true;
    }
  } else {
    // strtoull reads "-1" as its two's complement: refuse any sign up front
    const size_t first = text.find_first_not_of(" \t");
    if (first != std::string::npos && text[first] == '-') return false;
    const unsigned long long x = std::strtoull(text.c_str(), &end, 10);
    if (*end == '\0') {
      if (errno == ERANGE || x > std::numeric_limits<T>::max()) return false;
      *out = static_cast<T>(x);
      return true;
    }
  }
  const double d = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(d) || d != std::floor(d)) return false;
  // T's range as doubles: [-2^digits, 2^digits) is exact where max() is not
  const double limit = std::ldexp(1.0, std::numeric_limits<T>::digits);
  const double low = std::is_signed_v<T> ? -limit : 0.0;
  if (d < low || d >= limit) return false;
  *out = static_cast<T>(d);
  return true;
}

template <class T>
bool Decode(const YAML::Node& node, T* out);

// "sensor, gravity, ...": the observation kinds, for messages.
std::string ObservationKindList() {
  std::string kinds;
  for (const std::string& k : kObservationKinds) kinds += (kinds.empty() ? "" : ", ") + k;
  return kinds;
}

// Reads one observation term. On a bad term returns false with `problem`
// (what is wrong and the fix) and `sub` (".KIND" or ".scale" when one value
// is at fault, "" for the term as a whole) and `bad` (the node at fault;
// rebound with reset(), since assigning a Node would overwrite the tree).
bool DecodeTerm(const YAML::Node& node, ObservationTerm* term, std::string* problem,
                std::string* sub, YAML::Node* bad) {
  bad->reset(node);
  *sub = "";
  const std::string kinds = ObservationKindList();
  if (!node.IsMap()) {
    *problem = "must be a map with one kind key (" + kinds + "), e.g. {sensor: imu_gyro}";
    return false;
  }
  std::vector<std::string> valid = kObservationKinds;
  valid.push_back("scale");
  valid.push_back("noise");
  ObservationTerm t;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    bad->reset(kv.first);
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      const std::string closest = ClosestName(key, valid);
      *problem = "has an unknown key '" + key + "'; " +
                 (closest.empty() ? "valid keys: " + kinds + ", scale, noise"
                                  : "did you mean '" + closest + "'?");
      return false;
    }
    *sub = "." + key;
    bad->reset(kv.second);
    if (key == "scale" || key == "noise") {
      double* x = key == "scale" ? &t.scale : &t.noise;
      if (!Decode(kv.second, x)) {
        *problem = "must be a finite number, got '" + YAML::Dump(kv.second) + "'";
        return false;
      }
      continue;
    }
    if (!t.kind.empty()) {
      *sub = "";
      *problem = "names two kinds, " + t.kind + " and " + key + "; give one per term";
      return false;
    }
    t.kind = key;
    if (key == "sensor" || key == "gravity") {
      if (!Decode(kv.second, &t.name) || t.name.empty()) {
        *problem = key == "sensor" ? "must name a sensor of the model, e.g. {sensor: imu_gyro}"
                                   : "must name a site or body of the model, e.g. {gravity: imu}";
        return false;
      }
    } else {
      bool on = false;
      if (!Decode(kv.second, &on) || !on) {
        *problem = "must be true, e.g. {" + key + ": true}; leave the term out to drop it";
        return false;
      }
    }
  }
  if (t.kind.empty()) {
    bad->reset(node);
    *sub = "";
    *problem = "names no kind; add one of " + kinds + ", e.g. {sensor: imu_gyro}";
    return false;
  }
  *term = t;
  return true;
}

// Reads a list of observation terms for `key`; a bad one throws UserError
// "WHERE: key 'KEY[i].sub' PROBLEM", with WHERE from `where(node)`. Notes
// where each term and value was set in `origins` (when not null).
template <class WhereFn>
std::vector<ObservationTerm> ReadTerms(const YAML::Node& node, const std::string& key,
                                       WhereFn where, KeyOrigins* origins) {
  if (!node.IsSequence()) {
    throw UserError(where(node) + ": key '" + key + "' must be " +
                    Expected<std::vector<ObservationTerm>>());
  }
  std::vector<ObservationTerm> terms;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item_key = key + "[" + std::to_string(i) + "]";
    ObservationTerm term;
    std::string problem, sub;
    YAML::Node bad;
    const YAML::Node item = node[i];
    if (!DecodeTerm(item, &term, &problem, &sub, &bad)) {
      throw UserError(where(bad) + ": key '" + item_key + sub + "' " + problem);
    }
    if (origins != nullptr) {
      (*origins)[item_key] = where(item);
      for (const auto& kv : item) {
        (*origins)[item_key + "." + kv.first.Scalar()] = where(kv.second);
      }
    }
    terms.push_back(term);
  }
  return terms;
}

// Converts a YAML node to T; returns false when the node is not a T (or, for
// an integer, lies outside T's range).
template <class T>
bool Decode(const YAML::Node& node, T* out) {
  if constexpr (IsList<T>::value) {
    if (!node.IsSequence()) return false;
    T v;
    for (const auto& item : node) {
      typename T::value_type x;
      if (!Decode(item, &x)) return false;
      v.push_back(x);
    }
    *out = v;
    return true;
  } else if constexpr (std::is_same_v<T, ObservationTerm>) {
    std::string problem, sub;
    YAML::Node bad;
    return DecodeTerm(node, out, &problem, &sub, &bad);
  } else {
    if (!node.IsScalar()) return false;
    const std::string& text = node.Scalar();
    if constexpr (std::is_same_v<T, std::string>) {
      *out = text;
      return true;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (text == "true" || text == "True" || text == "yes" || text == "on")
        return *out = true, true;
      if (text == "false" || text == "False" || text == "no" || text == "off")
        return *out = false, true;
      return false;
    } else if constexpr (std::is_floating_point_v<T>) {
      char* end = nullptr;
      double x = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !std::isfinite(x)) return false;
      if (std::fabs(x) > std::numeric_limits<T>::max()) return false;
      *out = static_cast<T>(x);
      return true;
    } else {
      return DecodeInteger(text, out);
    }
  }
}

std::string Where(const std::string& source, const YAML::Node& node) {
  if (node.Mark().is_null()) return source;
  return source + ":" + std::to_string(node.Mark().line + 1);
}

// ---- visitors over the config structs ----

// Collects the key names a struct declares.
struct KeyLister {
  std::vector<std::string> keys;
  template <class T>
  void Field(const char* name, T&, const char*) {
    keys.push_back(name);
  }
  template <class S>
  void Section(const char* name, S&, const char*) {
    keys.push_back(name);
  }
};

template <class S>
std::vector<std::string> KeysOf(S& s) {
  KeyLister lister;
  s.Visit(lister);
  return lister.keys;
}

std::string UnknownKeyMessage(const std::string& where, const std::string& prefix,
                              const std::string& key, const std::vector<std::string>& valid) {
  std::string msg = where + ": unknown key '" + prefix + key + "'";
  std::string closest = ClosestName(key, valid);
  if (!closest.empty())
    msg += "; did you mean '" + prefix + closest + "'?";
  else {
    msg += "; valid keys here:";
    for (const auto& k : valid) msg += " " + k;
  }
  return msg;
}

// Keys that name files. A relative path is taken from the folder of the
// experiment file that sets it (the working directory for a --set) and stored
// absolute, so that a run's config.yaml means the same file from anywhere.
bool IsPathKey(const std::string& key) { return key == "env.mjcf.path"; }

std::string ResolvePath(const std::string& path, const std::filesystem::path& folder) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return std::filesystem::absolute(folder / path).lexically_normal().string();
}

// Fills a struct from a YAML map, rejecting unknown keys and wrong types, and
// notes where each key was set.
struct YamlReader {
  const YAML::Node& map;
  std::string source;
  std::string prefix;
  KeyOrigins* origins;

  template <class T>
  void Field(const char* name, T& value, const char*) {
    YAML::Node node = map[name];
    if (!node) return;
    const std::string key = prefix + name;
    if constexpr (std::is_same_v<T, std::vector<ObservationTerm>>) {
      const auto where = [this](const YAML::Node& n) { return Where(source, n); };
      value = ReadTerms(node, key, where, origins);
      if (origins != nullptr) (*origins)[key] = Where(source, node);
      return;
    }
    if (!Decode(node, &value)) {
      throw UserError(Where(source, node) + ": key '" + key + "' must be " + Expected<T>() +
                      ", got '" + YAML::Dump(node) + "'");
    }
    if constexpr (std::is_same_v<T, std::string>) {
      if (IsPathKey(key)) value = ResolvePath(value, std::filesystem::path(source).parent_path());
    }
    if (origins != nullptr) (*origins)[key] = Where(source, node);
  }
  template <class S>
  void Section(const char* name, S& section, const char*) {
    YAML::Node node = map[name];
    if (!node || node.IsNull()) return;
    Read(node, section, source, prefix + name + ".", origins);
  }

  // `also_valid` names keys that may appear beside the struct's own and are
  // read elsewhere (the file-level `extends` and `sweep`).
  template <class S>
  static void Read(const YAML::Node& node, S& s, const std::string& source,
                   const std::string& prefix, KeyOrigins* origins,
                   const std::vector<std::string>& also_valid = {}) {
    if (!node.IsMap()) {
      throw UserError(Where(source, node) + ": '" + (prefix.empty() ? "the file" : prefix) +
                      "' must be a map of key: value");
    }
    std::vector<std::string> valid = KeysOf(s);
    valid.insert(valid.end(), also_valid.begin(), also_valid.end());
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
        throw UserError(UnknownKeyMessage(Where(source, kv.first), prefix, key, valid));
      }
    }
    YamlReader reader{node, source, prefix, origins};
    s.Visit(reader);
  }
};

// YAML lets a map repeat a key and keeps the first; a repeated key is
// almost always an edit that was meant to replace the other, so refuse it.
void RejectRepeatedKeys(const YAML::Node& node, const std::string& source,
                        const std::string& prefix = "") {
  if (node.IsSequence()) {
    for (const auto& item : node) RejectRepeatedKeys(item, source, prefix);
  }
  if (!node.IsMap()) return;
  std::map<std::string, YAML::Node> seen;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
    const auto [first, inserted] = seen.emplace(key, kv.first);
    if (!inserted) {
      throw UserError(Where(source, kv.first) + ": key '" + prefix + key +
                      "' is given twice in one map (first at line " +
                      std::to_string(first->second.Mark().line + 1) + "); keep one of them");
    }
    RejectRepeatedKeys(kv.second, source, prefix + key + ".");
  }
}

// Writes a struct as indented YAML.
struct YamlWriter {
  std::string* out;
  int indent;
  template <class T>
  void Field(const char* name, T& value, const char*) {
    *out += std::string(indent, ' ') + name + ": " + Format(value) + "\n";
  }
  template <class S>
  void Section(const char* name, S& section, const char*) {
    *out += std::string(indent, ' ') + name + ":\n";
    YamlWriter inner{out, indent + 2};
    section.Visit(inner);
  }
};

// Sets one dotted key (path[depth..]) from a YAML value text.
struct Setter {
  const std::vector<std::string>& path;
  size_t depth;
  const std::string& value_text;
  const std::string& full_key;
  bool done = false;

  template <class T>
  void Field(const char* name, T& value, const char*) {
    if (done || depth + 1 != path.size() || path[depth] != name) return;
    // a string takes the text as written, quotes and colons included
    if constexpr (std::is_same_v<T, std::string>) {
      value = IsPathKey(full_key) ? ResolvePath(value_text, std::filesystem::current_path())
                                  : value_text;
      done = true;
      return;
    }
    YAML::Node node;
    try {
      node = YAML::Load(value_text);
    } catch (const YAML::Exception&) {
      node = YAML::Node(value_text);
    }
    if constexpr (std::is_same_v<T, std::vector<ObservationTerm>>) {
      const std::string where = "--set " + full_key + "=" + value_text;
      value = ReadTerms(
          node, full_key, [&where](const YAML::Node&) { return where; }, nullptr);
      done = true;
      return;
    }
    if (!Decode(node, &value)) {
      throw UserError("--set " + full_key + "=" + value_text + ": key '" + full_key + "' must be " +
                      Expected<T>());
    }
    done = true;
  }
  template <class S>
  void Section(const char* name, S& section, const char*) {
    if (done || depth + 1 >= path.size() || path[depth] != name) return;
    Apply(section, path, depth + 1, value_text, full_key);
    done = true;
  }

  // Sets the key inside `s`, or throws naming the closest key at this level.
  template <class S>
  static void Apply(S& s, const std::vector<std::string>& path, size_t depth,
                    const std::string& value_text, const std::string& full_key) {
    Setter setter{path, depth, value_text, full_key};
    s.Visit(setter);
    if (setter.done) return;
    std::string prefix;
    for (size_t i = 0; i < depth; ++i) prefix += path[i] + ".";
    throw UserError(UnknownKeyMessage("--set " + full_key, prefix, path[depth], KeysOf(s)));
  }
};

// Rows of the reference table.
struct DocWriter {
  std::string* out;
  std::string prefix;
  template <class T>
  void Field(const char* name, T& value, const char* doc) {
    *out += "| `" + prefix + name + "` | " + TypeName<T>() + " | `" + Format(value) + "` | " + doc +
            " |\n";
  }
  template <class S>
  void Section(const char* name, S& section, const char*) {
    DocWriter inner{out, prefix + name + "."};
    section.Visit(inner);
  }
};

// Dotted keys with their type names.
struct KeyTypeLister {
  std::vector<std::pair<std::string, std::string>>* out;
  std::string prefix;
  template <class T>
  void Field(const char* name, T&, const char*) {
    out->emplace_back(prefix + name, TypeName<T>());
  }
  template <class S>
  void Section(const char* name, S& section, const char*) {
    KeyTypeLister inner{out, prefix + name + "."};
    section.Visit(inner);
  }
};

std::vector<std::string> SplitDots(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream in(key);
  std::string part;
  while (std::getline(in, part, '.')) parts.push_back(part);
  return parts;
}

[[noreturn]] void Reject(const std::string& key, const std::string& problem) {
  RejectConfigKey(key, problem);
}

}  // namespace

ConfigKeyError::ConfigKeyError(const std::string& key, const std::string& problem)
    : UserError("config key '" + key + "' " + problem), key_(key) {}

void RejectConfigKey(const std::string& key, const std::string& problem) {
  throw ConfigKeyError(key, problem);
}

void ThrowAtOrigin(const ConfigKeyError& error, const KeyOrigins& origins,
                   const std::string& fallback) {
  auto origin = origins.find(error.key());
  // a value inside a list set by --set has the list's origin
  const size_t bracket = error.key().find('[');
  if (origin == origins.end() && bracket != std::string::npos) {
    origin = origins.find(error.key().substr(0, bracket));
  }
  if (origin != origins.end()) throw UserError(origin->second + ": " + error.what());
  if (!fallback.empty()) throw UserError(fallback + ": " + error.what());
  throw error;
}

std::string ClosestName(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& c : candidates) {
    // Levenshtein distance, one row at a time
    std::vector<size_t> row(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= key.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (key[i - 1] != c[j - 1])});
        diagonal = up;
      }
    }
    if (row[c.size()] < best_distance) {
      best_distance = row[c.size()];
      best = c;
    }
  }
  // a suggestion further away than half the word is noise
  if (best_distance > std::max<size_t>(2, key.size() / 2)) return "";
  return best;
}

namespace {

// A [low, high] range with low <= high and low >= `min` (a range must exclude
// `min` itself when `min_exclusive`).
template <class T>
void CheckRange(const std::string& key, const std::vector<T>& range, double min,
                bool min_exclusive) {
  if (range.size() != 2) {
    Reject(key, "must be a [low, high] pair, e.g. [0.8, 1.2] (got " + Format(range) + ")");
  }
  if (range[0] > range[1]) Reject(key, "has low > high (got " + Format(range) + ")");
  if (range[0] < min || (min_exclusive && range[0] == min)) {
    Reject(key, std::string("must lie ") + (min_exclusive ? "above " : "at or above ") +
                    Format(min) + " (got " + Format(range) + ")");
  }
}

}  // namespace

void RandomizeConfig::Validate() const {
  CheckRange("env.randomize.body_mass_scale", body_mass_scale, 0.0, true);
  CheckRange("env.randomize.geom_friction_scale", geom_friction_scale, 0.0, false);
  CheckRange("env.randomize.joint_damping_scale", joint_damping_scale, 0.0, false);
  CheckRange("env.randomize.actuator_gain_scale", actuator_gain_scale, 0.0, false);
  CheckRange("env.randomize.gravity_scale", gravity_scale, 0.0, false);
  if (!(obs_noise >= 0)) Reject("env.randomize.obs_noise", "must be >= 0 (0 disables it)");
  if (!(action_noise >= 0)) Reject("env.randomize.action_noise", "must be >= 0 (0 disables it)");
  CheckRange("env.randomize.action_delay", action_delay, 0.0, false);
  if (action_delay[1] > 1000) {
    Reject("env.randomize.action_delay", "must be at most 1000 control steps");
  }
}

bool RandomizeConfig::ChangesModel() const {
  const auto varies = [](const std::vector<double>& range) {
    return range[0] != 1.0 || range[1] != 1.0;
  };
  return varies(body_mass_scale) || varies(geom_friction_scale) || varies(joint_damping_scale) ||
         varies(actuator_gain_scale) || varies(gravity_scale);
}

void MjcfTaskConfig::Validate() const {
  if (forward_axis.size() != 3) {
    Reject("env.mjcf.forward_axis", "must have 3 entries, e.g. [1, 0, 0]");
  }
  if (forward_axis[0] == 0 && forward_axis[1] == 0 && forward_axis[2] == 0) {
    Reject("env.mjcf.forward_axis", "must not be zero; e.g. [1, 0, 0] for world x");
  }
  if (!healthy_height.empty()) {
    CheckRange("env.mjcf.healthy_height", healthy_height, -1e9, false);
  }
  if (ctrl_cost_weight < 0) Reject("env.mjcf.ctrl_cost_weight", "must be >= 0 (it is a cost)");
  if (contact_cost_weight < 0) {
    Reject("env.mjcf.contact_cost_weight", "must be >= 0 (it is a cost)");
  }
  if (reset_noise < 0) Reject("env.mjcf.reset_noise", "must be >= 0");
  if (action.mode != "torque" && action.mode != "position") {
    Reject("env.mjcf.action.mode", "is '" + action.mode + "'; valid modes: torque, position");
  }
  if (!(action.scale > 0)) {
    Reject("env.mjcf.action.scale", "must be > 0, e.g. 0.25 (radians per unit of action)");
  }
  if (!observations.empty()) {
    for (const auto& [flag, key] : {std::pair{obs_root_xy, "env.mjcf.obs_root_xy"},
                                    {obs_actuator_forces, "env.mjcf.obs_actuator_forces"},
                                    {obs_contact_forces, "env.mjcf.obs_contact_forces"}}) {
      if (flag) {
        Reject(key,
               "shapes the default observation only; with env.mjcf.observations set, "
               "leave it false");
      }
    }
  }
  for (size_t i = 0; i < observations.size(); ++i) {
    const std::string key = "env.mjcf.observations[" + std::to_string(i) + "]";
    const ObservationTerm& t = observations[i];
    if (std::find(kObservationKinds.begin(), kObservationKinds.end(), t.kind) ==
        kObservationKinds.end()) {
      Reject(key, "has kind '" + t.kind + "'; valid kinds: " + ObservationKindList());
    }
    if ((t.kind == "sensor" || t.kind == "gravity") == t.name.empty()) {
      Reject(key + "." + t.kind,
             t.name.empty() ? "must name a sensor, site or body" : "takes true, not a name");
    }
    if (!std::isfinite(t.scale)) Reject(key + ".scale", "must be a finite number");
    if (!(t.noise >= 0) || !std::isfinite(t.noise)) {
      Reject(key + ".noise", "must be >= 0 (the half-width of uniform noise; 0 disables it)");
    }
    if (t.kind == "command" && !commands.Enabled()) {
      Reject(key + ".command",
             "observes the velocity command, but env.mjcf.commands gives no range; set "
             "env.mjcf.commands.lin_vel_x (and lin_vel_y, yaw_rate), e.g. [-1, 1]");
    }
  }
  for (const auto& [range, key] : {std::pair{&commands.lin_vel_x, "env.mjcf.commands.lin_vel_x"},
                                   {&commands.lin_vel_y, "env.mjcf.commands.lin_vel_y"},
                                   {&commands.yaw_rate, "env.mjcf.commands.yaw_rate"}}) {
    if (!range->empty()) CheckRange(key, *range, -1e9, false);
  }
  if (!(commands.resample_s > 0) || !std::isfinite(commands.resample_s)) {
    Reject("env.mjcf.commands.resample_s", "must be > 0 seconds, e.g. 10");
  }
  if (!(commands.standing_share >= 0 && commands.standing_share <= 1)) {
    Reject("env.mjcf.commands.standing_share", "must lie in [0, 1], e.g. 0.1");
  }
  for (const auto& [sigma, key] :
       {std::pair{rewards.track_lin_vel.sigma, "env.mjcf.rewards.track_lin_vel.sigma"},
        {rewards.track_yaw_rate.sigma, "env.mjcf.rewards.track_yaw_rate.sigma"}}) {
    if (!(sigma > 0)) Reject(key, "must be > 0, e.g. 0.25");
  }
  if (!(rewards.feet_air_time.target_s >= 0)) {
    Reject("env.mjcf.rewards.feet_air_time.target_s", "must be >= 0 seconds, e.g. 0.5");
  }
  if (feet.empty() && (rewards.feet_air_time.weight != 0 || rewards.foot_slip.weight != 0)) {
    Reject(rewards.feet_air_time.weight != 0 ? "env.mjcf.rewards.feet_air_time.weight"
                                             : "env.mjcf.rewards.foot_slip.weight",
           "needs the robot's feet; list their geoms in env.mjcf.feet, e.g. [FR_foot, FL_foot, "
           "RR_foot, RL_foot]");
  }
  if (rewards.contacts.weight != 0 && rewards.contacts.bodies.empty()) {
    Reject("env.mjcf.rewards.contacts.bodies",
           "is empty, so the contacts term counts nothing; name bodies, e.g. [trunk, FR_thigh]");
  }
  if (!(termination.max_tilt_deg >= 0 && termination.max_tilt_deg <= 180)) {
    Reject("env.mjcf.termination.max_tilt_deg", "must lie in [0, 180] degrees (0: off), e.g. 60");
  }
  if (!(push.interval_s >= 0)) Reject("env.mjcf.push.interval_s", "must be >= 0 (0: no pushes)");
  if (!(push.max_vel >= 0)) Reject("env.mjcf.push.max_vel", "must be >= 0 m/s, e.g. 0.5");
  if (terrain.Enabled()) {
    if (terrain.types.empty()) {
      Reject("env.mjcf.terrain.types", "is empty; list tile types, e.g. [rough, slope, stairs]");
    }
    for (size_t i = 0; i < terrain.types.size(); ++i) {
      const std::string& t = terrain.types[i];
      if (t != "flat" && t != "rough" && t != "slope" && t != "stairs") {
        Reject("env.mjcf.terrain.types[" + std::to_string(i) + "]",
               "is '" + t + "'; valid types: flat, rough, slope, stairs");
      }
    }
    if (terrain.levels < 1 || terrain.levels > 100) {
      Reject("env.mjcf.terrain.levels", "must lie in [1, 100], e.g. 8");
    }
    if (!(terrain.tile_m >= 1.0)) Reject("env.mjcf.terrain.tile_m", "must be >= 1 metre, e.g. 4");
    if (terrain.start_level < 0 || terrain.start_level >= terrain.levels) {
      Reject("env.mjcf.terrain.start_level", "must lie in [0, levels - 1]");
    }
    for (const auto& [x, key] : {std::pair{terrain.max_bump_m, "env.mjcf.terrain.max_bump_m"},
                                 {terrain.max_slope, "env.mjcf.terrain.max_slope"},
                                 {terrain.max_step_m, "env.mjcf.terrain.max_step_m"}}) {
      if (!(x >= 0)) Reject(key, "must be >= 0");
    }
  }
}

void EnvConfig::Validate() const {
  if (id.empty()) Reject("env.id", "is empty; name a task, e.g. cartpole_swingup");
  if (frame_skip < 0) Reject("env.frame_skip", "must be >= 0 (0 keeps the task's default)");
  if (max_episode_steps < 0) {
    Reject("env.max_episode_steps", "must be a positive step count (or 0: the task's default)");
  }
  randomize.Validate();
  mjcf.Validate();
  if (privileged_obs && !randomize.ChangesModel() && !(randomize.obs_noise > 0) &&
      randomize.action_delay[1] <= randomize.action_delay[0]) {
    Reject("env.privileged_obs",
           "is on, but nothing under env.randomize varies, so the critic would see nothing "
           "more than the actor; randomise a model parameter, the observation noise or the "
           "action delay, or turn it off");
  }
  if (id == "mjcf" && mjcf.path.empty()) {
    Reject("env.mjcf.path", "is empty; env.id mjcf needs the MJCF file to load");
  }
  if (id == "mjcf" && !observe.empty() && !mjcf.observations.empty()) {
    Reject("env.observe",
           "and env.mjcf.observations both pick the observation; list the terms you want "
           "in env.mjcf.observations alone");
  }
  if (obs_history < 1 || obs_history > kMaxObsHistory) {
    Reject("env.obs_history", "is " + std::to_string(obs_history) + "; give between 1 (the " +
                                  "current observation alone) and " +
                                  std::to_string(kMaxObsHistory) + " observations");
  }
  for (size_t i = 0; i < observe.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (observe[i] == observe[j]) {
        Reject("env.observe[" + std::to_string(i) + "]",
               "names '" + observe[i] + "' twice; list each entry once");
      }
    }
  }
}

namespace {

// Rejects a count outside [1, max]; the upper limit is one of config.h's kMax.
void CheckCount(const std::string& key, int64_t value, int64_t max) {
  if (value < 1) Reject(key, "must be >= 1 (got " + std::to_string(value) + ")");
  if (value > max) {
    Reject(key, "is " + std::to_string(value) + ", above the limit of " + std::to_string(max) +
                    "; lower it (the limits are in docs/running.md)");
  }
}

}  // namespace

void ActorsConfig::Validate() const {
  CheckCount("actors.count", count, kMaxActors);
  CheckCount("actors.envs_per_actor", envs_per_actor, kMaxEnvsPerActor);
  CheckCount("actors.rollout_length", rollout_length, kMaxFragmentSteps);
  if (static_cast<int64_t>(rollout_length) * envs_per_actor > kMaxFragmentSteps) {
    Reject("actors.rollout_length",
           "x actors.envs_per_actor is " +
               std::to_string(static_cast<int64_t>(rollout_length) * envs_per_actor) +
               " env steps per fragment, above the limit of " + std::to_string(kMaxFragmentSteps) +
               "; shorten the rollout or use fewer envs");
  }
  if (send_hwm <= 0) Reject("actors.send_hwm", "must be >= 1");
}

void PolicyConfig::Validate() const {
  if (hidden.empty()) Reject("policy.hidden", "must list at least one layer width, e.g. [64, 64]");
  for (int h : hidden) {
    if (h <= 0) Reject("policy.hidden", "widths must be positive");
  }
  if (activation != "elu" && activation != "tanh" && activation != "relu") {
    Reject("policy.activation", "must be one of elu, tanh, relu (got '" + activation + "')");
  }
  CheckRange("policy.log_std_range", log_std_range, -1e9, false);
  if (init_log_std < log_std_range[0] || init_log_std > log_std_range[1]) {
    Reject("policy.init_log_std", "is " + Format(init_log_std) + ", outside policy.log_std_range " +
                                      Format(log_std_range) + "; move it inside the range");
  }
}

void AlgorithmConfig::Validate() const {
  if (!(gamma > 0 && gamma <= 1)) Reject("algorithm.gamma", "must be in (0, 1]");
  if (!(gae_lambda >= 0 && gae_lambda <= 1)) Reject("algorithm.gae_lambda", "must be in [0, 1]");
  if (!(clip_ratio > 0)) Reject("algorithm.clip_ratio", "must be > 0");
  if (entropy_coef < 0) Reject("algorithm.entropy_coef", "must be >= 0");
  if (value_coef < 0) Reject("algorithm.value_coef", "must be >= 0");
  if (!(learning_rate > 0)) Reject("algorithm.learning_rate", "must be > 0");
  if (lr_schedule != "constant" && lr_schedule != "linear" && lr_schedule != "adaptive") {
    Reject("algorithm.lr_schedule",
           "must be constant, linear or adaptive (got '" + lr_schedule + "')");
  }
  if (!(desired_kl > 0)) Reject("algorithm.desired_kl", "must be > 0");
  if (max_grad_norm < 0) Reject("algorithm.max_grad_norm", "must be >= 0 (0 disables clipping)");
  CheckCount("algorithm.epochs", epochs, kMaxEpochs);
  if (minibatches <= 0) Reject("algorithm.minibatches", "must be >= 1");
  if (!(value_clip >= 0)) Reject("algorithm.value_clip", "must be >= 0 (0 disables clipping)");
  if (!(target_kl >= 0)) Reject("algorithm.target_kl", "must be >= 0 (0 disables the early stop)");
  if (max_policy_lag < 0) Reject("algorithm.max_policy_lag", "must be >= 0");
  if (!(vtrace_rho_clip > 0)) Reject("algorithm.vtrace_rho_clip", "must be > 0 (1 is usual)");
  if (!(vtrace_c_clip > 0)) Reject("algorithm.vtrace_c_clip", "must be > 0 (1 is usual)");
  if (replay_capacity <= 0) Reject("algorithm.replay_capacity", "must be >= 1 transition");
  if (!(replay_max_mib > 0)) Reject("algorithm.replay_max_mib", "must be > 0");
  CheckCount("algorithm.sac_batch_size", sac_batch_size, kMaxSacBatchSize);
  if (!(utd_ratio > 0)) {
    Reject("algorithm.utd_ratio", "must be > 0, e.g. 1 (one gradient step per env step)");
  }
  if (warmup_steps < 0) Reject("algorithm.warmup_steps", "must be >= 0");
  if (!(tau > 0 && tau <= 1)) Reject("algorithm.tau", "must be in (0, 1], e.g. 0.005");
  if (!(critic_learning_rate >= 0)) {
    Reject("algorithm.critic_learning_rate", "must be >= 0 (0 uses learning_rate)");
  }
  if (!(alpha_learning_rate >= 0)) {
    Reject("algorithm.alpha_learning_rate", "must be >= 0 (0 uses learning_rate)");
  }
  if (!(init_alpha > 0)) Reject("algorithm.init_alpha", "must be > 0, e.g. 1");
}

void NormalizerConfig::Validate() const {
  if (!(clip > 0)) Reject("normalizer.clip", "must be > 0");
}

void LearnerConfig::Validate() const {
  CheckCount("learner.batch_size", batch_size, kMaxBatchSize);
  if (device != "cpu" && device != "cuda") {
    Reject("learner.device", "is '" + device + "'; valid devices: cpu, cuda");
  }
  if (backend != "auto" && backend != "gloo" && backend != "nccl") {
    Reject("learner.backend", "is '" + backend + "'; valid backends: auto, gloo, nccl");
  }
  if (backend == "nccl" && device != "cuda") {
    Reject("learner.backend",
           "nccl averages GPU tensors; set learner.device: cuda, or use "
           "gloo on cpu");
  }
  CheckCount("learner.threads", threads, kMaxThreads);
  CheckCount("learner.count", count, kMaxLearnerRanks);
  if (collective_timeout_s <= 0) Reject("learner.collective_timeout_s", "must be >= 1");
}

void TrainConfig::Validate() const {
  if (total_env_steps <= 0) Reject("train.total_env_steps", "must be >= 1");
  if (checkpoint_every <= 0) Reject("train.checkpoint_every", "must be >= 1");
  if (!(log_every_s > 0)) Reject("train.log_every_s", "must be > 0");
  if (keep_checkpoints < 1) Reject("train.keep_checkpoints", "must be >= 1");
  if (max_nonfinite_updates < 1) Reject("train.max_nonfinite_updates", "must be >= 1");
}

void LauncherConfig::Validate() const {
  if (max_restarts < 0) Reject("launcher.max_restarts", "must be >= 0");
  if (actor_restarts_per_minute < 0) Reject("launcher.actor_restarts_per_minute", "must be >= 0");
}

void TransportConfig::Validate() const {
  if (bind.empty() || bind.find_first_of(":/ ") != std::string::npos) {
    Reject("transport.bind", "is '" + bind +
                                 "'; use ipc, or an IPv4 address or host name "
                                 "such as 127.0.0.1 or 0.0.0.0 (no scheme, no port)");
  }
  if (port < 0 || port > 65534) Reject("transport.port", "must be 0 (pick) or 1..65534");
}

void ExperimentConfig::Validate() const {
  if (name.empty() || name.find('/') != std::string::npos) {
    Reject("name", "must be a non-empty name without '/'");
  }
  env.Validate();
  actors.Validate();
  policy.Validate();
  algorithm.Validate();
  normalizer.Validate();
  learner.Validate();
  train.Validate();
  launcher.Validate();
  transport.Validate();
  if (learner.count > actors.count) {
    Reject("learner.count", "exceeds actors.count; every learner rank needs at least one actor");
  }
  if (learner.count > 1 && train.deterministic) {
    Reject("train.deterministic", "needs learner.count: 1");
  }
  if (learner.device == "cuda" && train.deterministic) {
    // CUDA kernels may reorder sums, and checkpoints keep only the CPU generator
    Reject("train.deterministic", "needs learner.device: cpu");
  }
  if (env.privileged_obs && policy.shared_trunk) {
    Reject("env.privileged_obs",
           "needs separate actor and critic networks (the critic alone "
           "reads the privileged entries); set policy.shared_trunk: false");
  }
  if (train.deterministic && actors.count != 1) {
    Reject("train.deterministic",
           "needs actors.count: 1 (one actor fixes the order of the "
           "fragments); set actors.count: 1 or turn it off");
  }
  const int64_t batch_steps = static_cast<int64_t>(learner.batch_size);
  if (batch_steps < algorithm.minibatches) {
    Reject("algorithm.minibatches", "exceeds learner.batch_size; lower it or raise the batch");
  }
}

namespace {

// Sets each `key=value` and notes it as the key's origin.
void SetKeys(ExperimentConfig& config, const std::vector<std::string>& overrides,
             KeyOrigins* origins) {
  for (const auto& item : overrides) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UserError("--set " + item +
                      ": expected key=value, e.g. --set train.total_env_steps=1e6");
    }
    std::string key = item.substr(0, eq);
    Setter::Apply(config, SplitDots(key), 0, item.substr(eq + 1), key);
    // the values inside a list the file set are gone with it
    // (KEY[0], KEY[0].noise, ...: every key that starts with "KEY[")
    origins->erase(origins->lower_bound(key + '['),
                   origins->lower_bound(key + static_cast<char>('[' + 1)));
    (*origins)[key] = "--set " + item;
  }
}

// Validates the whole config once, naming where a rejected key was set.
void ValidateAt(const ExperimentConfig& config, const KeyOrigins& origins,
                const std::string& fallback) {
  try {
    config.Validate();
  } catch (const ConfigKeyError& e) {
    ThrowAtOrigin(e, origins, fallback);
  }
}

}  // namespace

void ApplyOverrides(ExperimentConfig& config, const std::vector<std::string>& overrides) {
  KeyOrigins origins;
  SetKeys(config, overrides, &origins);
  ValidateAt(config, origins, "");
}

namespace {

// Keys an experiment file may hold beside the config's sections.
const std::vector<std::string> kFileKeys = {"extends", "sweep"};

YAML::Node LoadYaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw UserError(source + ":" + std::to_string(e.mark.line + 1) +
                    ": YAML syntax error: " + e.msg + "; fix the file's syntax");
  }
}

// Far above any real experiment file, far below what would hurt to read.
constexpr uintmax_t kMaxExperimentBytes = 16 << 20;

// The text of an experiment file; `where` leads its errors ("FILE:LINE:
// extends: " for a base). A folder is refused: reading one gives no text, which would
// silently mean "all defaults".
std::string ReadExperimentFile(const std::filesystem::path& path, const std::string& where,
                               const std::string& fix) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw UserError(where + path.string() +
                    " is a folder, not an experiment file; name a YAML file, e.g. "
                    "experiments/cartpole_swingup.yaml");
  }
  // a device or a pipe (/dev/zero, /dev/stdin) could be read forever
  if (std::filesystem::exists(path, error) && !std::filesystem::is_regular_file(path, error)) {
    throw UserError(where + path.string() + " is not a regular file; name a YAML file");
  }
  // stdio rather than a stream: a read error (EIO) must not pass for the end
  const std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw UserError(where + "cannot read " + path.string() + "; " + fix);
  std::string text;
  char buffer[1 << 16];
  while (const size_t n = std::fread(buffer, 1, sizeof(buffer), file.get())) {
    text.append(buffer, n);
    if (text.size() > kMaxExperimentBytes) {
      throw UserError(where + path.string() + " is larger than " +
                      std::to_string(kMaxExperimentBytes >> 20) +
                      " MiB; an experiment file is a page of YAML");
    }
  }
  if (std::ferror(file.get())) {
    throw UserError(where + "cannot read " + path.string() + " (" + std::strerror(errno) + "); " +
                    fix);
  }
  return text;
}

// Reads one file of an `extends:` chain into `config`: the file it extends
// first, then its own keys over those. `chain` holds the files that led here,
// outermost first, to catch cycles.
void ReadExperimentText(const std::string& text, const std::string& source,
                        std::vector<std::string>& chain, ExperimentConfig& config,
                        SweepSource* sweep, KeyOrigins* origins) {
  const YAML::Node root = LoadYaml(text, source);
  // an empty file is a mistake (the wrong file, a failed save), not "every default"
  if (!root || root.IsNull()) {
    throw UserError(source +
                    ": the file sets nothing (empty, or only comments); an experiment sets at "
                    "least its task, e.g. env: {id: cartpole_swingup}");
  }
  RejectRepeatedKeys(root, source);
  if (root.IsMap() && root["extends"]) {
    const YAML::Node extends = root["extends"];
    if (!extends.IsScalar() || extends.Scalar().empty()) {
      throw UserError(Where(source, extends) +
                      ": 'extends' must name one experiment file, e.g. extends: base.yaml");
    }
    const std::filesystem::path relative = extends.Scalar();
    const std::filesystem::path base =
        relative.is_absolute() ? relative : std::filesystem::path(source).parent_path() / relative;
    const std::string base_text = ReadExperimentFile(
        base,
        Where(source, extends) + ": extends: ", "the path is relative to the folder of " + source);
    const std::string id = std::filesystem::weakly_canonical(base).string();
    chain.push_back(std::filesystem::weakly_canonical(source).string());
    if (std::find(chain.begin(), chain.end(), id) != chain.end()) {
      std::string cycle;
      for (const auto& file : chain) cycle += file + " -> ";
      throw UserError(Where(source, extends) + ": extends makes a cycle (" + cycle + id +
                      "); remove one of these extends: lines");
    }
    ReadExperimentText(base_text, base.string(), chain, config, sweep, origins);
    chain.pop_back();
  }
  YamlReader::Read(root, config, source, "", origins, kFileKeys);
  // the nearest file's sweep block wins, whole
  if (sweep != nullptr && root["sweep"]) *sweep = {source, text};
}

// The file's keys over the defaults, not yet validated.
ExperimentConfig ParseExperimentText(const std::string& text, const std::string& source,
                                     SweepSource* sweep, KeyOrigins* origins) {
  ExperimentConfig config;
  std::vector<std::string> chain;
  ReadExperimentText(text, source, chain, config, sweep, origins);
  return config;
}

}  // namespace

ExperimentConfig ParseExperiment(const std::string& yaml_text, const std::string& source) {
  KeyOrigins origins;
  ExperimentConfig config = ParseExperimentText(yaml_text, source, nullptr, &origins);
  ValidateAt(config, origins, source);
  return config;
}

ExperimentConfig LoadExperiment(const std::string& path, const std::vector<std::string>& overrides,
                                SweepSource* sweep, KeyOrigins* origins_out) {
  const std::string text = ReadExperimentFile(path, "", "check the path of the experiment file");
  if (sweep != nullptr) *sweep = {};
  KeyOrigins origins;
  ExperimentConfig config = ParseExperimentText(text, path, sweep, &origins);
  // the overrides go on before any check, so that they can mend the file
  SetKeys(config, overrides, &origins);
  ValidateAt(config, origins, path);
  if (origins_out != nullptr) *origins_out = std::move(origins);
  return config;
}

ExperimentConfig LoadExperiment(const std::string& path,
                                const std::vector<std::string>& overrides) {
  return LoadExperiment(path, overrides, nullptr);
}

namespace {

// Every key as "section.key" with its value as YAML text.
struct ValueLister {
  std::vector<std::pair<std::string, std::string>>* out;
  std::string prefix;
  template <class T>
  void Field(const char* name, T& value, const char*) {
    out->emplace_back(prefix + name, Format(value));
  }
  template <class S>
  void Section(const char* name, S& section, const char*) {
    ValueLister inner{out, prefix + name + "."};
    section.Visit(inner);
  }
};

std::vector<std::pair<std::string, std::string>> ValuesOf(const ExperimentConfig& config) {
  std::vector<std::pair<std::string, std::string>> values;
  ValueLister lister{&values, ""};
  const_cast<ExperimentConfig&>(config).Visit(lister);
  return values;
}

// The keys (or, ending in '.', sections) that fix a run's identity.
const std::vector<std::string> kRunIdentityKeys = {"seed",
                                                   "env.id",
                                                   "env.frame_skip",
                                                   "env.privileged_obs",
                                                   "env.mjcf.",
                                                   "policy.",
                                                   "normalizer.",
                                                   "algorithm.name",
                                                   "algorithm.replay_capacity",
                                                   "learner.count",
                                                   "train.deterministic"};

}  // namespace

bool MayChangeOnResume(const std::string& key) {
  for (const std::string& fixed : kRunIdentityKeys) {
    const bool section = fixed.back() == '.';
    if (section ? key.rfind(fixed, 0) == 0 : key == fixed) return false;
  }
  return true;
}

void CheckResumeChanges(const ExperimentConfig& run, const ExperimentConfig& resumed) {
  const auto before = ValuesOf(run);
  const auto after = ValuesOf(resumed);
  for (size_t i = 0; i < before.size(); ++i) {
    const std::string& key = before[i].first;
    if (before[i].second == after[i].second || MayChangeOnResume(key)) continue;
    throw UserError("--resume cannot change '" + key + "' (" + before[i].second + " -> " +
                    after[i].second +
                    "): it fixes the run's task, shapes, network or algorithm; a resumed run may "
                    "change train.*, algorithm.* hyperparameters, actors.*, learner.* but "
                    "learner.count, launcher.*, transport.*, env.randomize.* and "
                    "env.max_episode_steps (docs/running.md); start a new run to change it");
  }
}

std::string ToYaml(const ExperimentConfig& config) {
  std::string out;
  YamlWriter writer{&out, 0};
  const_cast<ExperimentConfig&>(config).Visit(writer);
  return out;
}

std::vector<std::pair<std::string, std::string>> ConfigKeyTypes() {
  std::vector<std::pair<std::string, std::string>> keys;
  ExperimentConfig defaults;
  KeyTypeLister lister{&keys, ""};
  defaults.Visit(lister);
  return keys;
}

std::string ConfigReferenceMarkdown() {
  ExperimentConfig defaults;
  std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
  DocWriter writer{&out, ""};
  defaults.Visit(writer);
  return out;
}

int64_t StepsPerFragment(const ExperimentConfig& config) {
  return static_cast<int64_t>(config.actors.rollout_length) * config.actors.envs_per_actor;
}

int64_t FragmentsPerBatch(const ExperimentConfig& config, int ranks) {
  ROBOFLEET_CHECK(ranks >= 1);
  const int64_t rank_batch = (config.learner.batch_size + ranks - 1) / ranks;
  const int64_t steps = StepsPerFragment(config);
  return (rank_batch + steps - 1) / steps;
}

}  // namespace robofleet

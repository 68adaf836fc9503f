// The robot's side of a RoboFleet robot policy, with nothing but the C++
// standard library: reads the "controller" object of the policy's
// metadata.json, builds the observation from the robot's own readings
// exactly as training built it, and turns the policy's action into actuator
// targets exactly as the simulator did.
//
// metadata.json's "controller" (written for robot tasks: env.mjcf with an
// observation list):
//   control_dt     seconds per control step (the loop's period)
//   gravity        the unit gravity direction in world coordinates
//   joints         per actuator, the joint it drives
//   default_pose   per actuator, its joint's position in the default pose
//   observation    the terms in order: kind, name (sensor, site or body),
//                  dim, scale, noise (training only: a robot has its own)
//   action         ctrl = ctrl_offset + ctrl_scale * clip(action, -1, 1),
//                  then clipped to [ctrl_low, ctrl_high] where
//                  clip_to_ctrlrange and ctrl_limited
// Each observation entry is float(scale * value), computed in double, with
// value per kind:
//   sensor       the sensor's reading (dim values)
//   gravity      R^T gravity, R the site's or body's orientation as a
//                row-major 3x3 matrix (the robot's IMU attitude)
//   joint_pos    per actuator, its joint's position minus default_pose
//   joint_vel    per actuator, its joint's velocity
//   last_action  the previous action, clipped to [-1, 1] (0 after Reset)
//   command      the velocity command: forward, sideways, yaw rate
#ifndef ROBOFLEET_EXAMPLES_DEPLOY_CPP_CONTROLLER_H_
#define ROBOFLEET_EXAMPLES_DEPLOY_CPP_CONTROLLER_H_

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace deploy {

// A JSON value: enough of RFC 8259 for metadata.json (no \u escapes).
struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  // The member `key` of an object; throws naming the key when it is absent.
  const Json& operator[](const std::string& key) const {
    const auto it = object.find(key);
    if (type != Type::kObject || it == object.end()) {
      throw std::runtime_error("metadata.json: no \"" + key + "\"");
    }
    return it->second;
  }
  bool Has(const std::string& key) const { return object.count(key) > 0; }
  std::vector<double> Numbers() const {
    std::vector<double> out;
    for (const Json& x : array) out.push_back(x.number);
    return out;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  Json Parse() {
    Json value = Value();
    Skip();
    if (at_ != s_.size()) Fail("trailing text");
    return value;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw std::runtime_error("metadata.json: " + what + " at byte " + std::to_string(at_));
  }
  void Skip() {
    while (at_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[at_]))) ++at_;
  }
  bool Take(char c) {
    Skip();
    if (at_ < s_.size() && s_[at_] == c) return ++at_, true;
    return false;
  }
  std::string String() {
    if (!Take('"')) Fail("expected a string");
    std::string out;
    while (at_ < s_.size() && s_[at_] != '"') {
      char c = s_[at_++];
      if (c == '\\' && at_ < s_.size()) {
        const char e = s_[at_++];
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
      }
      out += c;
    }
    if (!Take('"')) Fail("unterminated string");
    return out;
  }
  Json Value() {
    Skip();
    Json v;
    if (at_ >= s_.size()) Fail("unexpected end");
    const char c = s_[at_];
    if (c == '{') {
      ++at_;
      v.type = Json::Type::kObject;
      if (Take('}')) return v;
      do {
        const std::string key = String();
        if (!Take(':')) Fail("expected ':'");
        v.object[key] = Value();
      } while (Take(','));
      if (!Take('}')) Fail("expected '}'");
    } else if (c == '[') {
      ++at_;
      v.type = Json::Type::kArray;
      if (Take(']')) return v;
      do v.array.push_back(Value());
      while (Take(','));
      if (!Take(']')) Fail("expected ']'");
    } else if (c == '"') {
      v.type = Json::Type::kString;
      v.string = String();
    } else if (s_.compare(at_, 4, "true") == 0 || s_.compare(at_, 5, "false") == 0) {
      v.type = Json::Type::kBool;
      v.boolean = s_[at_] == 't';
      at_ += v.boolean ? 4 : 5;
    } else if (s_.compare(at_, 4, "null") == 0) {
      at_ += 4;
    } else {
      char* end = nullptr;
      v.type = Json::Type::kNumber;
      v.number = std::strtod(s_.c_str() + at_, &end);
      if (end == s_.c_str() + at_) Fail("expected a value");
      at_ = static_cast<size_t>(end - s_.c_str());
    }
    return v;
  }

  const std::string& s_;
  size_t at_ = 0;
};

class Controller {
 public:
  struct Term {
    std::string kind, name;
    int dim = 0;
    double scale = 1.0;
  };

  // `controller`: metadata.json's "controller" object.
  explicit Controller(const Json& controller) {
    control_dt_ = controller["control_dt"].number;
    gravity_ = controller["gravity"].Numbers();
    default_pose_ = controller["default_pose"].Numbers();
    for (const Json& t : controller["observation"].array) {
      Term term{t["kind"].string, t.Has("name") ? t["name"].string : "",
                static_cast<int>(t["dim"].number), t["scale"].number};
      obs_dim_ += term.dim;
      terms_.push_back(term);
    }
    const Json& action = controller["action"];
    offset_ = action["ctrl_offset"].Numbers();
    scale_ = action["ctrl_scale"].Numbers();
    low_ = action["ctrl_low"].Numbers();
    high_ = action["ctrl_high"].Numbers();
    limited_ = action["ctrl_limited"].Numbers();
    clip_ = action["clip_to_ctrlrange"].boolean;
    last_action_.assign(offset_.size(), 0.0f);
  }

  double control_dt() const { return control_dt_; }
  int obs_dim() const { return obs_dim_; }
  int act_dim() const { return static_cast<int>(offset_.size()); }
  const std::vector<Term>& terms() const { return terms_; }

  // Forgets the previous action, as an episode's start does.
  void Reset() { std::fill(last_action_.begin(), last_action_.end(), 0.0f); }

  // The observation from `readings`, one vector per term (empty for
  // last_action; 9 numbers, the row-major orientation, for gravity).
  void Observe(const std::vector<std::vector<double>>& readings, float* obs) const {
    if (readings.size() != terms_.size()) throw std::runtime_error("one reading per term");
    for (size_t i = 0; i < terms_.size(); ++i) {
      const Term& t = terms_[i];
      const std::vector<double>& r = readings[i];
      const auto put = [&obs, &t](double x) { *obs++ = static_cast<float>(t.scale * x); };
      if (t.kind == "gravity") {
        // R^T g, summed in the order MuJoCo's mju_mulMatTVec3 sums
        for (int k = 0; k < 3; ++k) {
          put(r.at(k) * gravity_[0] + r.at(k + 3) * gravity_[1] + r.at(k + 6) * gravity_[2]);
        }
      } else if (t.kind == "joint_pos") {
        for (int a = 0; a < t.dim; ++a) put(r.at(a) - default_pose_.at(a));
      } else if (t.kind == "last_action") {
        for (int a = 0; a < t.dim; ++a) put(last_action_.at(a));
      } else {  // sensor, joint_vel, command: the reading as it is
        for (int k = 0; k < t.dim; ++k) put(r.at(k));
      }
    }
  }

  // The actuator targets of `action`; remembers it for last_action.
  void Targets(const float* action, double* ctrl) {
    for (int i = 0; i < act_dim(); ++i) {
      last_action_[i] = std::clamp(action[i], -1.0f, 1.0f);
      ctrl[i] = offset_[i] + scale_[i] * last_action_[i];
      if (clip_ && limited_[i] != 0) ctrl[i] = std::clamp(ctrl[i], low_[i], high_[i]);
    }
  }

 private:
  double control_dt_ = 0.0;
  std::vector<double> gravity_, default_pose_;
  std::vector<Term> terms_;
  int obs_dim_ = 0;
  std::vector<double> offset_, scale_, low_, high_, limited_;
  bool clip_ = false;
  std::vector<float> last_action_;
};

}  // namespace deploy

#endif  // ROBOFLEET_EXAMPLES_DEPLOY_CPP_CONTROLLER_H_

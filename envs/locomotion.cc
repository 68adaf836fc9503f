#include "envs/locomotion.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

namespace robofleet::envs {
namespace {

std::string JointName(const mjModel* m, int joint) {
  const char* name = mj_id2name(m, mjOBJ_JOINT, joint);
  return name != nullptr && name[0] != '\0' ? name : "joint_" + std::to_string(joint);
}

std::string ObjectName(const mjModel* m, int type, int id, const char* fallback) {
  const char* name = mj_id2name(m, type, id);
  return name != nullptr && name[0] != '\0' ? name : fallback + std::to_string(id);
}

}  // namespace

std::vector<std::string> QposNames(const mjModel* m) {
  std::vector<std::string> names;
  for (int j = 0; j < m->njnt; ++j) {
    const std::string name = JointName(m, j);
    switch (m->jnt_type[j]) {
      case mjJNT_FREE:
        for (const char* s : {"_x", "_y", "_z", "_qw", "_qx", "_qy", "_qz"})
          names.push_back(name + s);
        break;
      case mjJNT_BALL:
        for (const char* s : {"_qw", "_qx", "_qy", "_qz"}) names.push_back(name + s);
        break;
      default:
        names.push_back(name);
    }
  }
  return names;
}

std::vector<std::string> QvelNames(const mjModel* m) {
  std::vector<std::string> names;
  for (int j = 0; j < m->njnt; ++j) {
    const std::string name = JointName(m, j);
    switch (m->jnt_type[j]) {
      case mjJNT_FREE:
        for (const char* s : {"_vx", "_vy", "_vz", "_wx", "_wy", "_wz"}) names.push_back(name + s);
        break;
      case mjJNT_BALL:
        for (const char* s : {"_wx", "_wy", "_wz"}) names.push_back(name + s);
        break;
      default:
        names.push_back(name + "_vel");
    }
  }
  return names;
}

std::vector<std::string> ContactForceNames(const mjModel* m) {
  std::vector<std::string> names;
  for (int b = 1; b < m->nbody; ++b) {
    const std::string name = ObjectName(m, mjOBJ_BODY, b, "body_");
    for (const char* s : {"_tx", "_ty", "_tz", "_fx", "_fy", "_fz"}) names.push_back(name + s);
  }
  return names;
}

std::vector<std::string> ActuatorForceNames(const mjModel* m) {
  std::vector<std::string> names;
  for (int i = 0; i < m->nu; ++i) {
    names.push_back(ObjectName(m, mjOBJ_ACTUATOR, i, "actuator_") + "_force");
  }
  return names;
}

float* WriteClipped(const double* src, int n, float* dst, double clip) {
  for (int i = 0; i < n; ++i) dst[i] = static_cast<float>(std::clamp(src[i], -clip, clip));
  return dst + n;
}

void AddResetNoise(const mjModel* m, mjData* data, EnvRandom& rng, double scale, bool normal_qvel) {
  if (scale <= 0) return;
  for (int i = 0; i < m->nq; ++i) data->qpos[i] += rng.Uniform(-scale, scale);
  for (int i = 0; i < m->nv; ++i) {
    data->qvel[i] += normal_qvel ? scale * rng.Normal() : rng.Uniform(-scale, scale);
  }
}

int BodyId(const mjModel* m, const std::string& name, const std::string& model_path) {
  const int id = mj_name2id(m, mjOBJ_BODY, name.c_str());
  if (id < 0) {
    std::string bodies;
    for (int b = 1; b < m->nbody && b <= 20; ++b) {
      bodies += (b > 1 ? ", " : "") + ObjectName(m, mjOBJ_BODY, b, "body_");
    }
    throw UserError("MJCF model '" + model_path + "' has no body named '" + name +
                    "'; its bodies: " + bodies + (m->nbody > 21 ? ", ..." : ""));
  }
  return id;
}

namespace {

// The qpos indices an observation keeps.
std::vector<int> ObservedQpos(const mjModel* m, const std::vector<int>& skip) {
  std::vector<int> kept;
  for (int i = 0; i < m->nq; ++i) {
    if (std::find(skip.begin(), skip.end(), i) == skip.end()) kept.push_back(i);
  }
  return kept;
}

}  // namespace

MujocoEnv::TaskInfo LocomotionEnv::WithObservationNames(TaskInfo task, const Settings& settings) {
  const std::shared_ptr<const mjModel> model = LoadModel(task.model_path);
  const mjModel* m = model.get();
  task.needs_contact_forces = task.needs_contact_forces || settings.observe_contact_forces ||
                              settings.contact_cost_weight > 0;
  if (settings.custom_observation) return task;
  const std::vector<std::string> qpos = QposNames(m);
  task.obs_names.clear();
  for (int i : ObservedQpos(m, settings.skip_qpos)) task.obs_names.push_back(qpos[i]);
  for (const std::string& name : QvelNames(m)) task.obs_names.push_back(name);
  if (settings.observe_actuator_forces) {
    for (const std::string& name : ActuatorForceNames(m)) task.obs_names.push_back(name);
  }
  if (settings.observe_contact_forces) {
    for (const std::string& name : ContactForceNames(m)) task.obs_names.push_back(name);
  }
  return task;
}

LocomotionEnv::LocomotionEnv(const EnvConfig& config, TaskInfo task, const Settings& settings)
    : MujocoEnv(config, WithObservationNames(std::move(task), settings)), settings_(settings) {
  const mjModel* m = model();
  observed_qpos_ = ObservedQpos(m, settings_.skip_qpos);
  if (!settings_.tracked_body.empty()) {
    tracked_body_ = BodyId(m, settings_.tracked_body, model_path());
  }
  const double* a = settings_.forward_axis;
  const double norm = std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
  for (int k = 0; k < 3; ++k) axis_[k] = a[k] / norm;
}

LocomotionEnv::Settings LocomotionEnv::PlanarWalkerSettings() {
  Settings s;
  s.forward_weight = 1.0;
  s.healthy_reward = 1.0;
  s.ctrl_cost_weight = 1e-3;
  s.tracked_body = "torso";
  s.skip_qpos = {0};  // x: the policy should not depend on where it is
  s.qvel_clip = 10.0;
  s.reset_noise = 5e-3;
  return s;
}

void LocomotionEnv::InitializeEpisode(mjData* data, EnvRandom& rng) {
  AddResetNoise(model(), data, rng, settings_.reset_noise, settings_.normal_qvel_noise);
}

double LocomotionEnv::TrackedPosition(const mjData& data) const {
  const double* p = settings_.track_subtree_com ? data.subtree_com + 3 * tracked_body_
                                                : data.xpos + 3 * tracked_body_;
  return p[0] * axis_[0] + p[1] * axis_[1] + p[2] * axis_[2];
}

void LocomotionEnv::BeforeStep(mjData* data) { position_before_ = TrackedPosition(*data); }

double LocomotionEnv::ForwardVelocity(const mjData& data) const {
  return (TrackedPosition(data) - position_before_) / spec().control_dt;
}

void LocomotionEnv::WriteObservation(const mjData& data, float* obs) const {
  const mjModel* m = model();
  for (int i : observed_qpos_) *obs++ = static_cast<float>(data.qpos[i]);
  obs = WriteClipped(data.qvel, m->nv, obs, settings_.qvel_clip);
  if (settings_.observe_actuator_forces) obs = WriteClipped(data.actuator_force, m->nu, obs);
  if (settings_.observe_contact_forces) {
    WriteClipped(data.cfrc_ext + 6, 6 * (m->nbody - 1), obs, settings_.contact_clip);
  }
}

float LocomotionEnv::ComputeReward(const mjData& data, const float* action) const {
  double ctrl = 0.0;
  for (int i = 0; i < spec().act_dim; ++i) ctrl += static_cast<double>(action[i]) * action[i];
  double contact = 0.0;
  if (settings_.contact_cost_weight > 0) {
    // every body but the world
    for (int i = 6; i < 6 * model()->nbody; ++i) {
      const double f =
          std::clamp(data.cfrc_ext[i], -settings_.contact_clip, settings_.contact_clip);
      contact += f * f;
    }
  }
  return static_cast<float>(settings_.forward_weight * ForwardVelocity(data) +
                            settings_.healthy_reward - settings_.ctrl_cost_weight * ctrl -
                            settings_.contact_cost_weight * contact);
}

}  // namespace robofleet::envs

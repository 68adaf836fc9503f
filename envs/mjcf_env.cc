#include "envs/mjcf_env.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace robofleet::envs {
namespace {

// qpos indices of the root's world x and y: the first two entries of a free
// joint, or slide joints along x or y, on the first body below the world
std::vector<int> RootXy(const mjModel* m) {
  std::vector<int> indices;
  if (m->njnt == 0) return indices;
  const int root_body = m->jnt_bodyid[0];
  if (m->body_parentid[root_body] != 0) return indices;
  for (int j = 0; j < m->njnt && m->jnt_bodyid[j] == root_body; ++j) {
    const double* axis = m->jnt_axis + 3 * j;
    if (m->jnt_type[j] == mjJNT_FREE) {
      indices.push_back(m->jnt_qposadr[j]);
      indices.push_back(m->jnt_qposadr[j] + 1);
    } else if (m->jnt_type[j] == mjJNT_SLIDE && axis[2] == 0 &&
               ((axis[0] != 0) != (axis[1] != 0))) {
      indices.push_back(m->jnt_qposadr[j]);
    }
  }
  return indices;
}

std::string Name(const mjModel* m, int type, int id, const char* fallback) {
  const char* name = mj_id2name(m, type, id);
  return name != nullptr && name[0] != '\0' ? name : fallback + std::to_string(id);
}

// "WHAT: a, b, c" for the first 20 objects of a type, for error messages
std::string Listing(const mjModel* m, int type, int count, const std::string& what) {
  if (count == 0) return "it has no " + what;
  std::string list = what + ": ";
  for (int i = 0; i < count && i < 20; ++i) {
    list += (i > 0 ? ", " : "") + Name(m, type, i, "#");
  }
  return list + (count > 20 ? ", ..." : "");
}

// Why actuator i has no single hinge or slide joint, or "" when it has one.
std::string JointProblem(const mjModel* m, int i) {
  if (m->actuator_trntype[i] != mjTRN_JOINT) return "it drives no joint (a tendon, site or body)";
  const int type = m->jnt_type[m->actuator_trnid[2 * i]];
  if (type != mjJNT_HINGE && type != mjJNT_SLIDE) return "its joint is a free or ball joint";
  return "";
}

// Why actuator i is no position servo whose control is its joint's target
// (MuJoCo's <position>: a fixed gain kp and an affine bias -kp * length -
// kv * velocity, with gear 1 so that length is the joint's position), or ""
// when it is one.
std::string ServoProblem(const mjModel* m, int i) {
  const std::string joint = JointProblem(m, i);
  if (!joint.empty()) return joint;
  const double kp = m->actuator_gainprm[mjNGAIN * i];
  if (m->actuator_gaintype[i] != mjGAIN_FIXED || m->actuator_biastype[i] != mjBIAS_AFFINE ||
      m->actuator_biasprm[mjNBIAS * i + 1] != -kp || m->actuator_biasprm[mjNBIAS * i] != 0 ||
      kp == 0) {
    return "it is no position servo (a motor or another gain and bias)";
  }
  if (m->actuator_gear[6 * i] != 1) {
    return "its gear is " + std::to_string(m->actuator_gear[6 * i]) +
           ", so its control is no joint position (use gear 1)";
  }
  return "";
}

LocomotionEnv::Settings MjcfSettings(const MjcfTaskConfig& c, const mjModel* m) {
  LocomotionEnv::Settings s;
  s.forward_weight = c.forward_weight;
  s.healthy_reward = c.alive_bonus;
  s.ctrl_cost_weight = c.ctrl_cost_weight;
  s.contact_cost_weight = c.contact_cost_weight;
  s.tracked_body = c.body;
  for (int k = 0; k < 3; ++k) s.forward_axis[k] = c.forward_axis[k];
  if (!c.obs_root_xy) s.skip_qpos = RootXy(m);
  s.observe_actuator_forces = c.obs_actuator_forces;
  s.observe_contact_forces = c.obs_contact_forces;
  s.custom_observation = !c.observations.empty();
  s.reset_noise = c.reset_noise;
  return s;
}

}  // namespace

// What the constructor resolves from the config and the model, before the
// base classes are built from it.
struct MjcfEnv::Setup {
  LocomotionEnv::Settings settings;
  TaskInfo task;
  int keyframe = -1;
  std::vector<ObsTerm> obs_terms;
  std::vector<int> actuated_qpos;
  std::vector<int> actuated_dof;
  std::vector<double> default_qpos;
  double gravity[3] = {0, 0, -1};
};

MjcfEnv::Setup MjcfEnv::Resolve(const EnvConfig& config) {
  config.Validate();  // before touching the path
  const MjcfTaskConfig& c = config.mjcf;
  if (!std::ifstream(c.path).good() || std::filesystem::is_directory(c.path)) {
    throw UserError("env.mjcf.path: cannot read the MJCF file " + c.path +
                    "; a relative path is taken from the folder of the experiment file");
  }
  // throws UserError with MuJoCo's message when the file is bad
  const std::shared_ptr<const mjModel> model = LoadModel(c.path);
  const mjModel* m = model.get();
  if (m->nu == 0) {
    throw UserError("env.mjcf.path: the model " + c.path +
                    " has no actuators, so a policy has nothing to drive; add an <actuator> "
                    "section (e.g. <motor joint=\"hip\" gear=\"100\"/>)");
  }
  Setup s;
  s.settings = MjcfSettings(c, m);
  s.task = TaskInfo{"mjcf", c.path, 1, {}, 1000};

  // the default pose: a keyframe's qpos, or qpos0
  if (!c.keyframe.empty()) {
    s.keyframe = mj_name2id(m, mjOBJ_KEY, c.keyframe.c_str());
    if (s.keyframe < 0) {
      throw UserError("env.mjcf.keyframe: no keyframe '" + c.keyframe + "' in " + c.path + "; " +
                      Listing(m, mjOBJ_KEY, m->nkey, "keyframes"));
    }
  }
  const double* pose = s.keyframe >= 0 ? m->key_qpos + s.keyframe * m->nq : m->qpos0;

  // the actuated joints, when the action mode or a term needs them
  std::string joints_key;
  if (c.action.mode == "position") joints_key = "env.mjcf.action.mode";
  for (size_t i = 0; i < c.observations.size() && joints_key.empty(); ++i) {
    const std::string& kind = c.observations[i].kind;
    if (kind == "joint_pos" || kind == "joint_vel") {
      joints_key = "env.mjcf.observations[" + std::to_string(i) + "]." + kind;
    }
  }
  for (int i = 0; i < m->nu && !joints_key.empty(); ++i) {
    const std::string problem =
        c.action.mode == "position" ? ServoProblem(m, i) : JointProblem(m, i);
    if (!problem.empty()) {
      const std::string wants = c.action.mode == "position"
                                    ? "position needs every actuator to be a position servo "
                                      "(<position>) on a hinge or slide joint"
                                    : "needs every actuator on a hinge or slide joint";
      throw UserError(joints_key + ": " + wants + ", but actuator '" +
                      Name(m, mjOBJ_ACTUATOR, i, "actuator_") + "' of " + c.path +
                      " cannot take one: " + problem);
    }
    const int j = m->actuator_trnid[2 * i];
    s.actuated_qpos.push_back(m->jnt_qposadr[j]);
    s.actuated_dof.push_back(m->jnt_dofadr[j]);
    s.default_qpos.push_back(pose[m->jnt_qposadr[j]]);
  }
  if (c.action.mode == "position") {
    s.task.ctrl_offset = s.default_qpos;
    s.task.ctrl_scale.assign(m->nu, c.action.scale);
  }

  // gravity's direction, for the gravity terms
  const double g = mju_norm3(m->opt.gravity);
  if (g > 0) {
    for (int k = 0; k < 3; ++k) s.gravity[k] = m->opt.gravity[k] / g;
  }

  // the observation terms: what each reads, and the names of its entries
  std::vector<std::string>& names = s.task.obs_names;
  for (size_t i = 0; i < c.observations.size(); ++i) {
    const ObservationTerm& term = c.observations[i];
    const std::string key = "env.mjcf.observations[" + std::to_string(i) + "]." + term.kind;
    ObsTerm t;
    t.scale = term.scale;
    std::string label = term.kind + ":" + term.name;
    if (term.kind == "sensor") {
      const int id = mj_name2id(m, mjOBJ_SENSOR, term.name.c_str());
      if (id < 0) {
        throw UserError(key + ": no sensor '" + term.name + "' in " + c.path + "; " +
                        Listing(m, mjOBJ_SENSOR, m->nsensor, "sensors"));
      }
      t.kind = ObsTerm::Kind::kSensor;
      t.id = m->sensor_adr[id];
      t.dim = m->sensor_dim[id];
    } else if (term.kind == "gravity") {
      t.kind = ObsTerm::Kind::kSiteGravity;
      t.id = mj_name2id(m, mjOBJ_SITE, term.name.c_str());
      if (t.id < 0) {
        t.kind = ObsTerm::Kind::kBodyGravity;
        t.id = mj_name2id(m, mjOBJ_BODY, term.name.c_str());
      }
      if (t.id < 0) {
        throw UserError(key + ": no site or body '" + term.name + "' in " + c.path + "; " +
                        Listing(m, mjOBJ_SITE, m->nsite, "sites") + "; " +
                        Listing(m, mjOBJ_BODY, m->nbody, "bodies"));
      }
      t.dim = 3;
    } else if (term.kind == "command") {
      t.kind = ObsTerm::Kind::kCommand;
      t.dim = 3;
    } else {
      t.kind = term.kind == "joint_pos"   ? ObsTerm::Kind::kJointPos
               : term.kind == "joint_vel" ? ObsTerm::Kind::kJointVel
                                          : ObsTerm::Kind::kLastAction;
      t.dim = m->nu;
    }
    // names: KIND:NAME, KIND:NAME[k] for several entries; per actuator
    // KIND:JOINT (KIND:ACTUATOR for the action)
    for (int k = 0; k < t.dim; ++k) {
      if (t.kind == ObsTerm::Kind::kJointPos || t.kind == ObsTerm::Kind::kJointVel) {
        names.push_back(term.kind + ":" + Name(m, mjOBJ_JOINT, m->actuator_trnid[2 * k], "joint_"));
      } else if (t.kind == ObsTerm::Kind::kLastAction) {
        names.push_back(term.kind + ":" + Name(m, mjOBJ_ACTUATOR, k, "actuator_"));
      } else if (t.kind == ObsTerm::Kind::kCommand) {
        static const char* const kEntries[3] = {"lin_vel_x", "lin_vel_y", "yaw_rate"};
        names.push_back(term.kind + ":" + kEntries[k]);
      } else {
        names.push_back(t.dim == 1 ? label : label + "[" + std::to_string(k) + "]");
      }
      s.task.obs_noise.push_back(term.noise);
    }
    s.obs_terms.push_back(t);
  }
  return s;
}

MjcfEnv::MjcfEnv(const EnvConfig& config) : MjcfEnv(config, Resolve(config)) {}

MjcfEnv::MjcfEnv(const EnvConfig& config, Setup setup)
    : LocomotionEnv(config, std::move(setup.task), setup.settings),
      task_(config.mjcf),
      keyframe_(setup.keyframe),
      obs_terms_(std::move(setup.obs_terms)),
      actuated_qpos_(std::move(setup.actuated_qpos)),
      actuated_dof_(std::move(setup.actuated_dof)),
      default_qpos_(std::move(setup.default_qpos)) {
  for (int k = 0; k < 3; ++k) gravity_[k] = setup.gravity[k];
  commands_ = CommandSchedule(task_.commands, spec().control_dt);
}

void MjcfEnv::InitializeEpisode(mjData* data, EnvRandom& rng) {
  if (keyframe_ >= 0) mj_resetDataKeyframe(model(), data, keyframe_);
  LocomotionEnv::InitializeEpisode(data, rng);
}

void MjcfEnv::WriteObservation(const mjData& data, float* obs) const {
  if (obs_terms_.empty()) {
    LocomotionEnv::WriteObservation(data, obs);
    return;
  }
  const int nu = model()->nu;
  for (const ObsTerm& t : obs_terms_) {
    const auto put = [&obs, &t](double x) { *obs++ = static_cast<float>(t.scale * x); };
    switch (t.kind) {
      case ObsTerm::Kind::kSensor:
        for (int k = 0; k < t.dim; ++k) put(data.sensordata[t.id + k]);
        break;
      case ObsTerm::Kind::kSiteGravity:
      case ObsTerm::Kind::kBodyGravity: {
        // R^T g: gravity's direction in the frame's own axes
        const double* frame = t.kind == ObsTerm::Kind::kSiteGravity ? data.site_xmat + 9 * t.id
                                                                    : data.xmat + 9 * t.id;
        double local[3];
        mju_mulMatTVec3(local, frame, gravity_);
        for (double x : local) put(x);
        break;
      }
      case ObsTerm::Kind::kJointPos:
        for (int i = 0; i < nu; ++i) put(data.qpos[actuated_qpos_[i]] - default_qpos_[i]);
        break;
      case ObsTerm::Kind::kJointVel:
        for (int i = 0; i < nu; ++i) put(data.qvel[actuated_dof_[i]]);
        break;
      case ObsTerm::Kind::kLastAction:
        for (int i = 0; i < nu; ++i) put(last_action()[i]);
        break;
      case ObsTerm::Kind::kCommand: {
        const VelocityCommand c = command();
        put(c.lin_vel_x);
        put(c.lin_vel_y);
        put(c.yaw_rate);
        break;
      }
    }
  }
}

float MjcfEnv::ComputeReward(const mjData& data, const float* action) const {
  const int b = tracked_body();
  const double height = data.xpos[3 * b + 2];
  const double upright = data.xmat[9 * b + 8];  // z axis . world z
  return LocomotionEnv::ComputeReward(data, action) +
         static_cast<float>(task_.height_weight * height + task_.upright_weight * upright);
}

bool MjcfEnv::IsHealthy(const mjData& data) const {
  if (task_.healthy_height.empty()) return true;
  const double height = data.xpos[3 * tracked_body() + 2];
  return height >= task_.healthy_height[0] && height <= task_.healthy_height[1];
}

}  // namespace robofleet::envs

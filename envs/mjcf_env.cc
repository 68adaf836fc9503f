#include "envs/mjcf_env.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/check.h"
#include "core/json.h"
#include "core/seeds.h"

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

// The terms that read the root body's free joint.
bool ReadsRoot(const std::string& term) {
  return term == "track_lin_vel" || term == "track_yaw_rate" || term == "lin_vel_z" ||
         term == "ang_vel_xy" || term == "orientation" || term == "base_height";
}

// Normal force of contact i, in newtons (0 when it is not in the constraint set).
double NormalForce(const mjModel* m, const mjData& d, int i) {
  if (d.contact[i].efc_address < 0) return 0.0;
  mjtNum wrench[6];
  mj_contactForce(m, &d, i, wrench);
  return wrench[0];
}

// A contact counts when it pushes harder than this (legged_gym's threshold).
constexpr double kContactForceN = 1.0;

// Everything that decides the terrain's heights, as the model cache's key.
std::string TerrainVariant(const MjcfTerrainConfig& t) {
  std::string types;
  for (const std::string& type : t.types) types += type + ",";
  return "terrain " + t.hfield + " " + types + " " + std::to_string(t.levels) + " " +
         std::to_string(t.tile_m) + " " + std::to_string(t.seed) + " " +
         std::to_string(t.max_bump_m) + " " + std::to_string(t.max_slope) + " " +
         std::to_string(t.max_step_m);
}

// Uniform in [0, 1) from 53 bits.
double Unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// The streams of an episode's seed kept apart from every other draw.
constexpr uint64_t kPushStream = 0x7075736855ULL;
constexpr uint64_t kTerrainStream = 0x74657272ULL;
// Episodes start this far (metres, in x and y) around their tile's middle.
constexpr double kSpawnSpreadM = 0.25;
// The ground under a start is the highest within this radius (the feet's reach).
constexpr double kFootprintM = 0.35;

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
  std::vector<RewardTerm> reward_terms;
  int root_qpos = -1, root_dof = -1;
  std::vector<int> foot_geom, geom_foot;
  std::vector<uint8_t> body_role;
  std::optional<Terrain> terrain;
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
  ResolveRewards(c, m, &s);
  if (!c.observations.empty()) s.task.controller_json = ControllerJson(config, m, s);
  if (c.terrain.Enabled()) {
    s.terrain.emplace(c.terrain, m, c.path);
    // every env of the process shares the model with the terrain filled in
    const Terrain terrain = *s.terrain;
    s.task.model_variant = TerrainVariant(c.terrain);
    s.task.prepare_model = [terrain](mjModel* filled) { terrain.Fill(filled); };
    s.task.episode_info_names.push_back("terrain/level");
  }
  return s;
}

std::string MjcfEnv::ControllerJson(const EnvConfig& config, const mjModel* m, const Setup& s) {
  const MjcfTaskConfig& c = config.mjcf;
  const auto numbers = [](const std::vector<double>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + JsonNumber(v[i]);
    return out + "]";
  };
  const auto names = [m](int type, int count, const std::function<int(int)>& id, const char* fb) {
    std::string out = "[";
    for (int i = 0; i < count; ++i) out += (i ? ", " : "") + JsonString(Name(m, type, id(i), fb));
    return out + "]";
  };
  const int frame_skip = config.frame_skip > 0 ? config.frame_skip : 1;
  std::string json = "{\"control_dt\": " + JsonNumber(m->opt.timestep * frame_skip);
  json += ", \"gravity\": " + numbers({s.gravity[0], s.gravity[1], s.gravity[2]});
  json += ", \"joints\": " +
          names(
              mjOBJ_JOINT, m->nu, [m](int i) { return m->actuator_trnid[2 * i]; }, "joint_");
  json += ", \"actuators\": " + names(
                                    mjOBJ_ACTUATOR, m->nu, [](int i) { return i; }, "actuator_");
  json += ", \"default_pose\": " + numbers(s.default_qpos);
  json += ", \"observation\": [";
  for (size_t i = 0; i < s.obs_terms.size(); ++i) {
    const ObservationTerm& term = c.observations[i];
    const ObsTerm& t = s.obs_terms[i];
    json += std::string(i ? ", " : "") + "{\"kind\": " + JsonString(term.kind);
    if (!term.name.empty()) json += ", \"name\": " + JsonString(term.name);
    if (term.kind == "gravity") {
      json += std::string(", \"frame\": ") +
              (t.kind == ObsTerm::Kind::kSiteGravity ? "\"site\"" : "\"body\"");
    }
    json += ", \"dim\": " + std::to_string(t.dim) + ", \"scale\": " + JsonNumber(t.scale) +
            ", \"noise\": " + JsonNumber(term.noise) + "}";
  }
  json += "]";
  // ctrl = offset + scale * clip(action, -1, 1), clipped to ctrlrange where limited
  std::vector<double> offset(m->nu, 0.0), scale(m->nu, 1.0), low(m->nu), high(m->nu);
  std::vector<double> limited(m->nu);
  for (int i = 0; i < m->nu; ++i) {
    low[i] = m->actuator_ctrlrange[2 * i];
    high[i] = m->actuator_ctrlrange[2 * i + 1];
    limited[i] = m->actuator_ctrllimited[i] ? 1 : 0;
    if (c.action.mode == "position") {
      offset[i] = s.default_qpos[i];
      scale[i] = c.action.scale;
    } else if (limited[i]) {
      offset[i] = 0.5 * (high[i] + low[i]);
      scale[i] = 0.5 * (high[i] - low[i]);
    }
  }
  json += ", \"action\": {\"mode\": " + JsonString(c.action.mode) +
          ", \"ctrl_offset\": " + numbers(offset) + ", \"ctrl_scale\": " + numbers(scale) +
          ", \"clip_to_ctrlrange\": " + (c.action.mode == "position" ? "true" : "false") +
          ", \"ctrl_limited\": " + numbers(limited) + ", \"ctrl_low\": " + numbers(low) +
          ", \"ctrl_high\": " + numbers(high) + "}}";
  return json;
}

void MjcfEnv::ResolveRewards(const MjcfTaskConfig& c, const mjModel* m, Setup* s) {
  const int body = c.body.empty() ? 1 : BodyId(m, c.body, c.path);
  const std::string body_name = Name(m, mjOBJ_BODY, body, "body_");
  MjcfRewardsConfig rewards = c.rewards;
  std::string root_key;  // the first key that needs the root's free joint
  int index = 0;         // RewardTerm::Kind lists the terms in the config's order
  ForEachRewardTerm(rewards, [&](const std::string& name, double weight) {
    const auto kind = static_cast<RewardTerm::Kind>(index++);
    if (weight == 0) return;
    s->reward_terms.push_back({kind, weight});
    s->task.episode_info_names.push_back("reward/" + name);
    if (root_key.empty() && ReadsRoot(name)) root_key = "env.mjcf.rewards." + name;
  });
  ROBOFLEET_CHECK(index == static_cast<int>(RewardTerm::Kind::kTermination) + 1);
  if (root_key.empty() && c.termination.max_tilt_deg > 0) {
    root_key = "env.mjcf.termination.max_tilt_deg";
  }
  if (root_key.empty() && c.push.interval_s > 0) root_key = "env.mjcf.push.interval_s";
  if (root_key.empty() && c.terrain.Enabled()) root_key = "env.mjcf.terrain.hfield";
  const int j = m->body_jntadr[body];
  if (m->body_jntnum[body] >= 1 && m->jnt_type[j] == mjJNT_FREE) {
    s->root_qpos = m->jnt_qposadr[j];
    s->root_dof = m->jnt_dofadr[j];
  } else if (!root_key.empty()) {
    throw UserError(root_key + ": needs body '" + body_name + "' (env.mjcf.body) of " + c.path +
                    " to be a floating base with a free joint (<freejoint/>); it has none");
  }

  // feet: geoms, or bodies standing for all their geoms
  s->geom_foot.assign(m->ngeom, -1);
  for (size_t f = 0; f < c.feet.size(); ++f) {
    const std::string key = "env.mjcf.feet[" + std::to_string(f) + "]";
    int geom = mj_name2id(m, mjOBJ_GEOM, c.feet[f].c_str());
    if (geom >= 0) {
      s->geom_foot[geom] = static_cast<int>(f);
    } else {
      const int b = mj_name2id(m, mjOBJ_BODY, c.feet[f].c_str());
      if (b < 0 || m->body_geomnum[b] == 0) {
        throw UserError(key + ": no geom or body with geoms called '" + c.feet[f] + "' in " +
                        c.path + "; " + Listing(m, mjOBJ_GEOM, m->ngeom, "geoms"));
      }
      geom = m->body_geomadr[b];
      for (int g = geom; g < geom + m->body_geomnum[b]; ++g) s->geom_foot[g] = static_cast<int>(f);
    }
    s->foot_geom.push_back(geom);
  }

  // bodies whose contacts are counted or end the episode
  s->body_role.assign(m->nbody, 0);
  const auto mark = [&](const std::vector<std::string>& names, const std::string& key,
                        uint8_t role) {
    for (size_t i = 0; i < names.size(); ++i) {
      const int b = mj_name2id(m, mjOBJ_BODY, names[i].c_str());
      if (b <= 0) {
        throw UserError(key + "[" + std::to_string(i) + "]: no body '" + names[i] + "' in " +
                        c.path + "; " + Listing(m, mjOBJ_BODY, m->nbody, "bodies"));
      }
      s->body_role[b] |= role;
    }
  };
  if (c.rewards.contacts.weight != 0) {
    mark(c.rewards.contacts.bodies, "env.mjcf.rewards.contacts.bodies", kRewardContact);
  }
  mark(c.termination.contact_bodies, "env.mjcf.termination.contact_bodies", kEndContact);
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
  reward_terms_ = std::move(setup.reward_terms);
  terrain_ = std::move(setup.terrain);
  level_ = task_.terrain.start_level;
  root_qpos_ = setup.root_qpos;
  root_dof_ = setup.root_dof;
  foot_geom_ = std::move(setup.foot_geom);
  geom_foot_ = std::move(setup.geom_foot);
  body_role_ = std::move(setup.body_role);
  if (task_.termination.max_tilt_deg > 0) {
    cos_max_tilt_ = std::cos(task_.termination.max_tilt_deg * M_PI / 180.0);
  }
  if (task_.push.interval_s > 0) {
    push_every_ =
        std::max(1, static_cast<int>(std::lround(task_.push.interval_s / spec().control_dt)));
  }
  reward_sums_.assign(reward_terms_.size(), 0.0);
  prev_action_.assign(spec().act_dim, 0.0f);
  air_time_.assign(foot_geom_.size(), 0.0);
  foot_contact_.assign(foot_geom_.size(), 0);
  qvel_before_.assign(actuated_dof_.size(), 0.0);
  touching_.assign(foot_geom_.size() + model()->nbody, 0);
}

void MjcfEnv::InitializeEpisode(mjData* data, EnvRandom& rng) {
  if (keyframe_ >= 0) mj_resetDataKeyframe(model(), data, keyframe_);
  LocomotionEnv::InitializeEpisode(data, rng);
  std::fill(reward_sums_.begin(), reward_sums_.end(), 0.0);
  std::fill(prev_action_.begin(), prev_action_.end(), 0.0f);
  std::fill(air_time_.begin(), air_time_.end(), 0.0);
  std::fill(foot_contact_.begin(), foot_contact_.end(), 0);
  step_reward_ = 0.0;
  terminal_ = false;
  if (terrain_) StartOnTerrain(data);
}

void MjcfEnv::StartOnTerrain(mjData* data) {
  // the curriculum, on the episode that just ended: up after walking out of
  // the tile's middle half, down after less than half the commanded distance
  if (played_) {
    if (distance_ > 0.5 * terrain_->tile_m()) {
      level_ = std::min(level_ + 1, terrain_->levels() - 1);
    } else if (distance_ < 0.5 * commanded_distance_) {
      level_ = std::max(level_ - 1, 0);
    }
  }
  played_ = false;
  distance_ = commanded_distance_ = 0.0;

  // a tile of this level, drawn from the episode's seed, and a start around its middle
  const uint64_t base = DeriveSeed(episode_seed(), kTerrainStream);
  column_ = static_cast<int>(DeriveSeed(base, 0) % static_cast<uint64_t>(terrain_->columns()));
  double centre[2];
  terrain_->TileCentre(level_, column_, centre);
  double* root = data->qpos + root_qpos_;
  for (int k = 0; k < 2; ++k) {
    root[k] += centre[k] + kSpawnSpreadM * (2 * Unit(DeriveSeed(base, 1 + k)) - 1);
    start_xy_[k] = root[k];
  }
  root[2] += terrain_->GroundHeight(model(), root[0], root[1], kFootprintM);
}

void MjcfEnv::BeforeStep(mjData* data) {
  LocomotionEnv::BeforeStep(data);
  for (size_t i = 0; i < actuated_dof_.size(); ++i) qvel_before_[i] = data->qvel[actuated_dof_[i]];
  // a push at the start of every push_every_ steps but the first
  const int step = episode_step();
  if (push_every_ > 0 && step > 0 && step % push_every_ == 0) {
    const uint64_t base =
        DeriveSeed(DeriveSeed(episode_seed(), kPushStream), static_cast<uint64_t>(step));
    for (int k = 0; k < 2; ++k) {
      data->qvel[root_dof_ + k] += task_.push.max_vel * (2.0 * Unit(DeriveSeed(base, k)) - 1.0);
    }
  }
}

MjcfEnv::RootMotion MjcfEnv::Root(const mjData& data) const {
  RootMotion root;
  if (root_dof_ < 0) return root;
  const double* quat = data.qpos + root_qpos_ + 3;
  double inverse[4];
  mju_negQuat(inverse, quat);
  mju_rotVecQuat(root.v, data.qvel + root_dof_, inverse);  // world linear velocity into the body
  for (int k = 0; k < 3; ++k) root.w[k] = data.qvel[root_dof_ + 3 + k];  // already in the body
  mju_rotVecQuat(root.g, gravity_, inverse);
  double z[3];
  const double unit_z[3] = {0, 0, 1};
  mju_rotVecQuat(z, unit_z, quat);
  root.up = z[2];
  return root;
}

VelocityCommand MjcfEnv::velocity() const {
  const RootMotion root = Root(*data());
  return {root.v[0], root.v[1], root.w[2]};
}

// A foot is on the ground when it touches now or touched after the step
// before: one step without contact (a bounce, solver chatter) is no swing.
bool MjcfEnv::Grounded(size_t foot, const uint8_t* foot_now) const {
  return foot_now[foot] || foot_contact_[foot];
}

void MjcfEnv::AfterStep(const mjData& data) {
  const mjModel* m = model();
  const double dt = spec().control_dt;

  // contacts of the feet and of the bodies that are counted or end the episode
  std::fill(touching_.begin(), touching_.end(), 0);
  for (int i = 0; i < data.ncon; ++i) {
    const int* geom = data.contact[i].geom;
    if (geom[0] < 0 || geom[1] < 0) continue;  // a flex
    const bool watched = geom_foot_[geom[0]] >= 0 || geom_foot_[geom[1]] >= 0 ||
                         body_role_[m->geom_bodyid[geom[0]]] != 0 ||
                         body_role_[m->geom_bodyid[geom[1]]] != 0;
    if (!watched || NormalForce(m, data, i) <= kContactForceN) continue;
    for (int k = 0; k < 2; ++k) {
      if (geom_foot_[geom[k]] >= 0) touching_[geom_foot_[geom[k]]] = 1;
      touching_[foot_geom_.size() + m->geom_bodyid[geom[k]]] = 1;
    }
  }
  const uint8_t* foot_now = touching_.data();
  const uint8_t* body_now = foot_now + foot_geom_.size();
  int bodies_in_contact = 0;
  bool end_contact = false;
  for (int b = 1; b < m->nbody; ++b) {
    if (!body_now[b]) continue;
    if (body_role_[b] & kRewardContact) ++bodies_in_contact;
    if (body_role_[b] & kEndContact) end_contact = true;
  }

  // the root's velocity and gravity in its own frame, from the end of the step
  const RootMotion root = Root(data);
  const double* v = root.v;
  const double* w = root.w;
  const double* g = root.g;
  const double up = root.up;

  // the episode ends for real
  bool healthy = true;
  if (!task_.healthy_height.empty()) {
    const double height = data.xpos[3 * tracked_body() + 2];
    healthy = height >= task_.healthy_height[0] && height <= task_.healthy_height[1];
  }
  terminal_ = !healthy || up < cos_max_tilt_ || end_contact;

  // the reward terms, with the command the policy saw when it chose this step's action
  const VelocityCommand cmd = commands_.At(episode_seed(), std::max(episode_step() - 1, 0));
  const bool moving = std::hypot(cmd.lin_vel_x, cmd.lin_vel_y) > 0.1;
  const bool standing = cmd.lin_vel_x == 0 && cmd.lin_vel_y == 0 && cmd.yaw_rate == 0;
  const std::vector<float>& action = last_action();
  step_reward_ = 0.0;
  for (size_t i = 0; i < reward_terms_.size(); ++i) {
    const RewardTerm& term = reward_terms_[i];
    double value = 0.0;
    switch (term.kind) {
      case RewardTerm::Kind::kTrackLinVel: {
        const double ex = cmd.lin_vel_x - v[0], ey = cmd.lin_vel_y - v[1];
        value = std::exp(-(ex * ex + ey * ey) / task_.rewards.track_lin_vel.sigma);
        break;
      }
      case RewardTerm::Kind::kTrackYawRate: {
        const double e = cmd.yaw_rate - w[2];
        value = std::exp(-e * e / task_.rewards.track_yaw_rate.sigma);
        break;
      }
      case RewardTerm::Kind::kLinVelZ:
        value = v[2] * v[2];
        break;
      case RewardTerm::Kind::kAngVelXy:
        value = w[0] * w[0] + w[1] * w[1];
        break;
      case RewardTerm::Kind::kOrientation:
        value = g[0] * g[0] + g[1] * g[1];
        break;
      case RewardTerm::Kind::kBaseHeight: {
        const double e = data.qpos[root_qpos_ + 2] - task_.rewards.base_height.target;
        value = e * e;
        break;
      }
      case RewardTerm::Kind::kTorques:
        for (int a = 0; a < m->nu; ++a) value += data.actuator_force[a] * data.actuator_force[a];
        break;
      case RewardTerm::Kind::kActionRate:
        for (size_t a = 0; a < action.size(); ++a) {
          const double d = static_cast<double>(action[a]) - prev_action_[a];
          value += d * d;
        }
        break;
      case RewardTerm::Kind::kJointAcc:
        for (size_t a = 0; a < actuated_dof_.size(); ++a) {
          const double acc = (data.qvel[actuated_dof_[a]] - qvel_before_[a]) / dt;
          value += acc * acc;
        }
        break;
      case RewardTerm::Kind::kFeetAirTime:
        // paid at touch-down for the swing that ended, while asked to move
        for (size_t f = 0; f < foot_geom_.size(); ++f) {
          if (Grounded(f, foot_now) && air_time_[f] > 0) {
            value += air_time_[f] + dt - task_.rewards.feet_air_time.target_s;
          }
        }
        if (commands_.enabled() && !moving) value = 0.0;
        break;
      case RewardTerm::Kind::kFootSlip:
        for (size_t f = 0; f < foot_geom_.size(); ++f) {
          if (!foot_now[f]) continue;
          double velocity[6];
          mj_objectVelocity(m, &data, mjOBJ_GEOM, foot_geom_[f], velocity, 0);
          value += velocity[3] * velocity[3] + velocity[4] * velocity[4];
        }
        break;
      case RewardTerm::Kind::kContacts:
        value = bodies_in_contact;
        break;
      case RewardTerm::Kind::kStandStill:
        if (standing) {
          for (size_t a = 0; a < actuated_qpos_.size(); ++a) {
            value += std::fabs(data.qpos[actuated_qpos_[a]] - default_qpos_[a]);
          }
        }
        break;
      case RewardTerm::Kind::kTermination:
        value = terminal_ ? 1.0 : 0.0;
        break;
    }
    step_reward_ += term.weight * value;
    reward_sums_[i] += term.weight * value;
  }

  // how far the robot went, and was asked to go, for the terrain curriculum
  if (terrain_) {
    const double* position = data.qpos + root_qpos_;
    distance_ = std::hypot(position[0] - start_xy_[0], position[1] - start_xy_[1]);
    commanded_distance_ += std::hypot(cmd.lin_vel_x, cmd.lin_vel_y) * dt;
    played_ = true;
  }

  // what the next step starts from
  for (size_t f = 0; f < foot_geom_.size(); ++f) {
    air_time_[f] = Grounded(f, foot_now) ? 0.0 : air_time_[f] + dt;
    foot_contact_[f] = foot_now[f];
  }
  std::copy(action.begin(), action.end(), prev_action_.begin());
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
         static_cast<float>(task_.height_weight * height + task_.upright_weight * upright +
                            step_reward_);
}

// AfterStep decided it for the state the step left behind
bool MjcfEnv::IsHealthy(const mjData& /*data*/) const { return !terminal_; }

std::string MjcfEnv::Readings() const {
  const mjData& data = *this->data();
  const int nu = model()->nu;
  std::string out;
  char number[40];
  const auto put = [&](double x) {
    std::snprintf(number, sizeof(number), " %a", x);
    out += number;
  };
  for (size_t i = 0; i < obs_terms_.size(); ++i) {
    const ObsTerm& t = obs_terms_[i];
    out += task_.observations[i].kind;
    switch (t.kind) {
      case ObsTerm::Kind::kSensor:
        for (int k = 0; k < t.dim; ++k) put(data.sensordata[t.id + k]);
        break;
      case ObsTerm::Kind::kSiteGravity:
        for (int k = 0; k < 9; ++k) put(data.site_xmat[9 * t.id + k]);
        break;
      case ObsTerm::Kind::kBodyGravity:
        for (int k = 0; k < 9; ++k) put(data.xmat[9 * t.id + k]);
        break;
      case ObsTerm::Kind::kJointPos:
        for (int a = 0; a < nu; ++a) put(data.qpos[actuated_qpos_[a]]);
        break;
      case ObsTerm::Kind::kJointVel:
        for (int a = 0; a < nu; ++a) put(data.qvel[actuated_dof_[a]]);
        break;
      case ObsTerm::Kind::kLastAction:
        break;  // the controller keeps its own
      case ObsTerm::Kind::kCommand: {
        const VelocityCommand c = command();
        put(c.lin_vel_x);
        put(c.lin_vel_y);
        put(c.yaw_rate);
        break;
      }
    }
    out += "\n";
  }
  return out;
}

void MjcfEnv::WriteEpisodeInfo(float* info) const {
  for (double sum : reward_sums_) *info++ = static_cast<float>(sum);
  if (terrain_) *info = static_cast<float>(level_);
}

std::string MjcfEnv::SaveTaskState() const {
  ByteWriter w;
  for (double x : reward_sums_) w.Put(x);
  for (float x : prev_action_) w.Put(x);
  for (double x : air_time_) w.Put(x);
  for (uint8_t x : foot_contact_) w.Put(x);
  w.Put(level_);
  w.Put(column_);
  for (double x : start_xy_) w.Put(x);
  w.Put(distance_);
  w.Put(commanded_distance_);
  w.Put(played_);
  return w.str();
}

void MjcfEnv::LoadTaskState(std::string_view state) {
  ByteReader r(state);
  for (double& x : reward_sums_) x = r.Get<double>();
  for (float& x : prev_action_) x = r.Get<float>();
  for (double& x : air_time_) x = r.Get<double>();
  for (uint8_t& x : foot_contact_) x = r.Get<uint8_t>();
  level_ = r.Get<int>();
  column_ = r.Get<int>();
  for (double& x : start_xy_) x = r.Get<double>();
  distance_ = r.Get<double>();
  commanded_distance_ = r.Get<double>();
  played_ = r.Get<bool>();
  if (!r.done()) throw std::runtime_error("env 'mjcf': saved task state is from another config");
}

}  // namespace robofleet::envs

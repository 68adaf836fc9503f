#include "envs/mjcf_env.h"

#include <filesystem>
#include <fstream>
#include <memory>
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

LocomotionEnv::Settings MjcfSettings(const EnvConfig& config) {
  config.Validate();  // before touching the path
  const MjcfTaskConfig& c = config.mjcf;
  LocomotionEnv::Settings s;
  s.forward_weight = c.forward_weight;
  s.healthy_reward = c.alive_bonus;
  s.ctrl_cost_weight = c.ctrl_cost_weight;
  s.contact_cost_weight = c.contact_cost_weight;
  s.tracked_body = c.body;
  for (int k = 0; k < 3; ++k) s.forward_axis[k] = c.forward_axis[k];
  if (!std::ifstream(c.path).good() || std::filesystem::is_directory(c.path)) {
    throw UserError("env.mjcf.path: cannot read the MJCF file " + c.path +
                    "; a relative path is taken from the folder of the experiment file");
  }
  // throws UserError with MuJoCo's message when the file is bad
  const std::shared_ptr<const mjModel> model = LoadModel(c.path);
  if (model->nu == 0) {
    throw UserError("env.mjcf.path: the model " + c.path +
                    " has no actuators, so a policy has nothing to drive; add an <actuator> "
                    "section (e.g. <motor joint=\"hip\" gear=\"100\"/>)");
  }
  if (!c.obs_root_xy) s.skip_qpos = RootXy(model.get());
  s.observe_actuator_forces = c.obs_actuator_forces;
  s.observe_contact_forces = c.obs_contact_forces;
  s.reset_noise = c.reset_noise;
  return s;
}

}  // namespace

MjcfEnv::MjcfEnv(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"mjcf", config.mjcf.path, 1, {}, 1000}, MjcfSettings(config)),
      task_(config.mjcf) {}

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

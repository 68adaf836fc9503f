#include "envs/cartpole_swingup.h"

#include <cmath>
#include <string>

#include "envs/rewards.h"

namespace robofleet::envs {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kDefaultFrameSkip = 2;  // 2 x 0.005 s physics = 0.01 s control
constexpr double kInitNoise = 0.01;   // std of the initial-state noise

int JointId(const mjModel* m, const char* name, const std::string& path) {
  const int id = mj_name2id(m, mjOBJ_JOINT, name);
  if (id < 0) {
    throw UserError("cartpole model '" + path + "' has no joint named '" + name +
                    "'; use the cartpole.xml shipped in envs/assets");
  }
  return id;
}

}  // namespace

CartpoleSwingup::CartpoleSwingup(const EnvConfig& config)
    : MujocoEnv(config, TaskInfo{"cartpole_swingup",
                                 AssetPath("cartpole.xml"),
                                 kDefaultFrameSkip,
                                 {"cart_position", "pole_cos", "pole_sin", "cart_velocity",
                                  "pole_angular_velocity"}}) {
  const mjModel* m = model();
  const std::string path = AssetPath("cartpole.xml");
  const int slider = JointId(m, "slider", path);
  const int hinge = JointId(m, "hinge", path);
  slider_qpos_ = m->jnt_qposadr[slider];
  slider_dof_ = m->jnt_dofadr[slider];
  hinge_qpos_ = m->jnt_qposadr[hinge];
  hinge_dof_ = m->jnt_dofadr[hinge];
}

void CartpoleSwingup::InitializeEpisode(mjData* data, EnvRandom& rng) {
  // hanging down, slightly perturbed
  data->qpos[slider_qpos_] = kInitNoise * rng.Normal();
  data->qpos[hinge_qpos_] = kPi + kInitNoise * rng.Normal();
  data->qvel[slider_dof_] = kInitNoise * rng.Normal();
  data->qvel[hinge_dof_] = kInitNoise * rng.Normal();
}

void CartpoleSwingup::WriteObservation(const mjData& data, float* obs) const {
  const double angle = data.qpos[hinge_qpos_];
  obs[0] = static_cast<float>(data.qpos[slider_qpos_]);
  obs[1] = static_cast<float>(std::cos(angle));
  obs[2] = static_cast<float>(std::sin(angle));
  obs[3] = static_cast<float>(data.qvel[slider_dof_]);
  obs[4] = static_cast<float>(data.qvel[hinge_dof_]);
}

float CartpoleSwingup::ComputeReward(const mjData& data, const float* action) const {
  // smooth product: every factor in [0, 1], each rewarding one aspect
  const double upright = 0.5 * (std::cos(data.qpos[hinge_qpos_]) + 1.0);
  const double centred = 0.5 * (1.0 + Tolerance(data.qpos[slider_qpos_], 2.0));
  const double small_control =
      (4.0 + Tolerance(action[0], 1.0, 0.0, ToleranceShape::kQuadratic)) / 5.0;
  const double small_velocity = 0.5 * (1.0 + Tolerance(data.qvel[hinge_dof_], 5.0));
  return static_cast<float>(upright * centred * small_control * small_velocity);
}

}  // namespace robofleet::envs

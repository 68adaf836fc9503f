#include "envs/walker2d.h"

namespace robofleet::envs {
namespace {

LocomotionEnv::Settings Walker2dSettings() {
  LocomotionEnv::Settings s;
  s.forward_weight = 1.0;
  s.healthy_reward = 1.0;
  s.ctrl_cost_weight = 1e-3;
  s.tracked_body = "torso";
  s.skip_qpos = {0};  // x: the policy should not depend on where it is
  s.qvel_clip = 10.0;
  s.reset_noise = 5e-3;
  return s;
}

}  // namespace

Walker2d::Walker2d(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"walker2d", AssetPath("walker2d.xml"), 4, {}, 1000},
                    Walker2dSettings()) {}

bool Walker2d::IsHealthy(const mjData& data) const {
  const double height = data.qpos[1], pitch = data.qpos[2];
  return height > 0.8 && height < 2.0 && pitch > -1.0 && pitch < 1.0;
}

}  // namespace robofleet::envs

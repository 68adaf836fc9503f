#include "envs/humanoid.h"

namespace robofleet::envs {
namespace {

LocomotionEnv::Settings HumanoidSettings() {
  LocomotionEnv::Settings s;
  s.forward_weight = 1.25;
  s.healthy_reward = 5.0;
  // 0.1 per unit of squared control in a +-0.4 control range, expressed on
  // our +-1 actions: 0.1 * 0.4^2
  s.ctrl_cost_weight = 0.016;
  s.tracked_body = "torso";
  s.track_subtree_com = true;  // the torso's subtree is the whole robot
  s.skip_qpos = {0, 1};        // x, y: the policy should not depend on where it is
  s.observe_actuator_forces = true;
  s.observe_contact_forces = true;
  s.reset_noise = 1e-2;
  return s;
}

}  // namespace

Humanoid::Humanoid(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"humanoid", AssetPath("humanoid.xml"), 5, {}, 1000},
                    HumanoidSettings()) {}

bool Humanoid::IsHealthy(const mjData& data) const {
  const double height = data.qpos[2];
  return height > 1.0 && height < 2.0;
}

}  // namespace robofleet::envs

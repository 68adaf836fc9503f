#include "envs/ant.h"

namespace robofleet::envs {
namespace {

LocomotionEnv::Settings AntSettings() {
  LocomotionEnv::Settings s;
  s.forward_weight = 1.0;
  s.healthy_reward = 1.0;
  s.ctrl_cost_weight = 0.5;
  s.contact_cost_weight = 5e-4;
  s.contact_clip = 1.0;
  s.tracked_body = "torso";
  s.skip_qpos = {0, 1};  // x, y: the policy should not depend on where it is
  s.reset_noise = 0.1;
  s.normal_qvel_noise = true;
  return s;
}

}  // namespace

Ant::Ant(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"ant", AssetPath("ant.xml"), 5, {}, 1000}, AntSettings()) {}

bool Ant::IsHealthy(const mjData& data) const {
  const double height = data.qpos[2];
  return height >= 0.2 && height <= 1.0;
}

}  // namespace robofleet::envs

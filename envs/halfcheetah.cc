#include "envs/halfcheetah.h"

namespace robofleet::envs {
namespace {

LocomotionEnv::Settings HalfCheetahSettings() {
  LocomotionEnv::Settings s;
  s.forward_weight = 1.0;
  s.ctrl_cost_weight = 0.1;
  s.tracked_body = "torso";
  s.skip_qpos = {0};  // x: the policy should not depend on where it is
  s.reset_noise = 0.1;
  s.normal_qvel_noise = true;
  return s;
}

}  // namespace

HalfCheetah::HalfCheetah(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"halfcheetah", AssetPath("halfcheetah.xml"), 5, {}, 1000},
                    HalfCheetahSettings()) {}

}  // namespace robofleet::envs

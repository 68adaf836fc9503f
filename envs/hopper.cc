#include "envs/hopper.h"

#include <cmath>

namespace robofleet::envs {
namespace {

constexpr double kMinHeight = 0.7;   // m, torso
constexpr double kMaxPitch = 0.2;    // rad
constexpr double kStateLimit = 100;  // on qpos[2:] and qvel

LocomotionEnv::Settings HopperSettings() {
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

Hopper::Hopper(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"hopper", AssetPath("hopper.xml"), 4, {}, 1000},
                    HopperSettings()) {}

bool Hopper::IsHealthy(const mjData& data) const {
  const mjModel* m = model();
  for (int i = 2; i < m->nq; ++i) {
    if (std::fabs(data.qpos[i]) >= kStateLimit) return false;
  }
  for (int i = 0; i < m->nv; ++i) {
    if (std::fabs(data.qvel[i]) >= kStateLimit) return false;
  }
  return data.qpos[1] > kMinHeight && std::fabs(data.qpos[2]) < kMaxPitch;
}

}  // namespace robofleet::envs

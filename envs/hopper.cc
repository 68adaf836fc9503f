#include "envs/hopper.h"

#include <cmath>

namespace robofleet::envs {
namespace {

constexpr double kMinHeight = 0.7;   // m, torso
constexpr double kMaxPitch = 0.2;    // rad
constexpr double kStateLimit = 100;  // on qpos[2:] and qvel

}  // namespace

Hopper::Hopper(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"hopper", AssetPath("hopper.xml"), 4, {}, 1000},
                    PlanarWalkerSettings()) {}

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

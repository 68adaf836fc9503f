#include "envs/walker2d.h"

namespace robofleet::envs {

Walker2d::Walker2d(const EnvConfig& config)
    : LocomotionEnv(config, TaskInfo{"walker2d", AssetPath("walker2d.xml"), 4, {}, 1000},
                    PlanarWalkerSettings()) {}

bool Walker2d::IsHealthy(const mjData& data) const {
  const double height = data.qpos[1], pitch = data.qpos[2];
  return height > 0.8 && height < 2.0 && pitch > -1.0 && pitch < 1.0;
}

}  // namespace robofleet::envs

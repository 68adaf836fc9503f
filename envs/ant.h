// ant: make a four-legged robot walk forward (+x) as fast as it can without
// flipping or jumping away (Gymnasium's Ant, on our own model).
//
// Model: envs/assets/ant.xml. A ball torso with a free joint and four legs of
// two segments; eight motors (hip, ankle per leg, in the order front_left,
// front_right, back_left, back_right) of 150 Nm at full action. Physics runs
// at 0.01 s with a default frame_skip of 5: one control step is 0.05 s and
// the default 1000-step episode lasts 50 s.
//
// Observation (27 float32): qpos without the torso's x, y, then qvel:
//   [0] root_z                     torso height, m
//   [1..4] root_qw, _qx, _qy, _qz  torso orientation (unit quaternion)
//   [5..12] hip_front_left, ankle_front_left, hip_front_right, ankle_front_right,
//           hip_back_left, ankle_back_left, hip_back_right, ankle_back_right   rad
//   [13..15] root_vx, _vy, _vz     torso linear velocity, m/s (world frame)
//   [16..18] root_wx, _wy, _wz     torso angular velocity, rad/s (torso frame)
//   [19..26] the eight joint velocities in the order above, rad/s
//
// Reward per step: forward velocity of the torso (m/s, x displacement over the
// step) + 1 for staying healthy - 0.5 * sum(action^2)
// - 5e-4 * sum(clip(contact wrench, -1, 1)^2) over every body's external
// contact force and torque.
//
// Termination (unhealthy): torso height outside [0.2, 1.0] m. Truncation: at
// max_episode_steps. Initial state: reference pose (standing) plus uniform
// noise in [-0.1, 0.1] on every qpos entry, and velocities 0.1 * N(0, 1).
#ifndef ROBOFLEET_ENVS_ANT_H_
#define ROBOFLEET_ENVS_ANT_H_

#include "core/config.h"
#include "envs/locomotion.h"

namespace robofleet::envs {

class Ant : public LocomotionEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit Ant(const EnvConfig& config);

 protected:
  bool IsHealthy(const mjData& data) const override;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_ANT_H_

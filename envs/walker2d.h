// walker2d: make a two-legged planar robot walk or run forward as fast as it
// can without falling (Gymnasium's Walker2d, on our own model).
//
// Model: envs/assets/walker2d.xml. Torso and two identical legs (thigh, leg,
// foot) in the x-z plane; six motors of 100 Nm at full action, right leg
// first. Physics runs at 0.002 s with a default frame_skip of 4: one control
// step is 0.008 s and the default 1000-step episode lasts 8 s.
//
// Observation (17 float32): qpos without the torso's x, then qvel clipped to
// [-10, 10]:
//   [0] rootz                  torso height, m
//   [1] rooty                  torso pitch, rad (0 upright)
//   [2..4] thigh_joint, leg_joint, foot_joint                  right leg, rad
//   [5..7] thigh_left_joint, leg_left_joint, foot_left_joint   left leg, rad
//   [8] rootx_vel              forward velocity, m/s
//   [9] rootz_vel              vertical velocity, m/s
//  [10] rooty_vel              pitch rate, rad/s
//  [11..16] the six leg joint velocities in the order above, rad/s
//
// Reward per step: forward velocity of the torso (m/s, x displacement over the
// step) + 1 for staying healthy - 0.001 * sum(action^2).
//
// Termination (unhealthy): torso height outside (0.8, 2.0) m or pitch outside
// (-1, 1) rad. Truncation: at max_episode_steps. Initial state: reference pose
// and zero velocity plus uniform noise in [-0.005, 0.005] on every qpos and
// qvel entry.
#ifndef ROBOFLEET_ENVS_WALKER2D_H_
#define ROBOFLEET_ENVS_WALKER2D_H_

#include "core/config.h"
#include "envs/locomotion.h"

namespace robofleet::envs {

class Walker2d : public LocomotionEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit Walker2d(const EnvConfig& config);

 protected:
  bool IsHealthy(const mjData& data) const override;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_WALKER2D_H_

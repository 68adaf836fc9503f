// hopper: make a one-legged planar robot hop forward as fast as it can
// without falling (Gymnasium's Hopper, on our own model).
//
// Model: envs/assets/hopper.xml. Torso, thigh, leg and foot in the x-z plane;
// three motors (thigh, leg, foot) of 200 Nm at full action. Physics runs at
// 0.002 s with a default frame_skip of 4: one control step is 0.008 s and
// the default 1000-step episode lasts 8 s.
//
// Observation (11 float32): qpos without the torso's x, then qvel clipped to
// [-10, 10]:
//   [0] rootz             torso height, m
//   [1] rooty             torso pitch, rad (0 upright)
//   [2] thigh_joint       rad
//   [3] leg_joint         rad
//   [4] foot_joint        rad
//   [5] rootx_vel         forward velocity, m/s
//   [6] rootz_vel         vertical velocity, m/s
//   [7] rooty_vel         pitch rate, rad/s
//   [8] thigh_joint_vel   rad/s
//   [9] leg_joint_vel     rad/s
//  [10] foot_joint_vel    rad/s
//
// Reward per step: forward velocity of the torso (m/s, x displacement over the
// step) + 1 for staying healthy - 0.001 * sum(action^2).
//
// Termination (unhealthy): torso height <= 0.7 m, |pitch| >= 0.2 rad, or any
// entry of qpos[2:] or qvel outside [-100, 100]. Truncation: at
// max_episode_steps. Initial state: reference pose and zero velocity plus
// uniform noise in [-0.005, 0.005] on every qpos and qvel entry.
#ifndef ROBOFLEET_ENVS_HOPPER_H_
#define ROBOFLEET_ENVS_HOPPER_H_

#include "core/config.h"
#include "envs/locomotion.h"

namespace robofleet::envs {

class Hopper : public LocomotionEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit Hopper(const EnvConfig& config);

 protected:
  bool IsHealthy(const mjData& data) const override;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_HOPPER_H_

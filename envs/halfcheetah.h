// halfcheetah: make a planar two-legged runner run forward as fast as it can
// (Gymnasium's HalfCheetah, on our own model). It cannot fall: episodes only
// end at the time limit.
//
// Model: envs/assets/halfcheetah.xml. A horizontal torso with a back and a
// front leg (thigh, shin, foot each) in the x-z plane; six motors (back
// thigh, shin, foot, then front) of 120, 90, 60, 120, 60, 30 Nm at full
// action. Physics runs at 0.01 s with a default frame_skip of 5: one control
// step is 0.05 s and the default 1000-step episode lasts 50 s.
//
// Observation (17 float32): qpos without the torso's x, then qvel:
//   [0] rootz      torso height relative to the start (0.7 m), m
//   [1] rooty      torso pitch, rad (0 level)
//   [2..7] bthigh, bshin, bfoot, fthigh, fshin, ffoot    joint angles, rad
//   [8] rootx_vel  forward velocity, m/s
//   [9] rootz_vel  vertical velocity, m/s
//  [10] rooty_vel  pitch rate, rad/s
//  [11..16] the six joint velocities in the order above, rad/s
//
// Reward per step: forward velocity of the torso (m/s, x displacement over the
// step) - 0.1 * sum(action^2).
//
// Termination: only on divergence. Truncation: at max_episode_steps. Initial
// state: reference pose plus uniform noise in [-0.1, 0.1] on every qpos
// entry, and velocities 0.1 * N(0, 1).
#ifndef ROBOFLEET_ENVS_HALFCHEETAH_H_
#define ROBOFLEET_ENVS_HALFCHEETAH_H_

#include "core/config.h"
#include "envs/locomotion.h"

namespace robofleet::envs {

class HalfCheetah : public LocomotionEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit HalfCheetah(const EnvConfig& config);
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_HALFCHEETAH_H_

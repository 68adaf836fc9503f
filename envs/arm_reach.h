// arm_reach: bring the end effector of a 7-joint arm to a random target pose,
// position and orientation.
//
// Model: envs/assets/arm_reach.xml (the arm of arm7.xml on the floor, and a
// mocap target frame). Each action entry sets one joint's servo target over
// the joint's whole range (see envs/arm.h). Physics runs at 0.004 s with a
// default frame_skip of 5: one control step is 0.02 s and the default
// 200-step episode lasts 4 s.
//
// Observation (38 float32):
//   [0..6]    j1..j7               joint angles, rad
//   [7..13]   j1_vel..j7_vel       joint velocities, rad/s
//   [14..16]  ee_x, ee_y, ee_z     end-effector position, m (world)
//   [17..22]  ee_xaxis_x.._z, ee_zaxis_x.._z    its x and z axes (world)
//   [23..25]  target_x, _y, _z     target position, m
//   [26..31]  target_xaxis_x.._z, target_zaxis_x.._z   its x and z axes
//   [32..34]  pos_error_x.._z      target minus end-effector position, m
//   [35..37]  rot_error_x.._z      rotation vector (axis * angle, rad, world
//                                  frame) turning the end effector onto the
//                                  target orientation
//
// Reward per step: -(position error, m) - 0.1 * (orientation error, rad)
// - 1e-4 * sum(joint velocity^2).
//
// Termination: only on divergence. Truncation: at max_episode_steps. Initial
// state: the arm at a ready pose (elbow and wrist bent, tool pointing down)
// plus uniform noise in [-0.05, 0.05] rad per joint, at rest. The target is
// the end-effector pose of joint angles drawn uniformly from the middle 80% of
// each joint's range, redrawn until the end effector is at least 0.15 m above
// the floor: every target is reachable.
#ifndef ROBOFLEET_ENVS_ARM_REACH_H_
#define ROBOFLEET_ENVS_ARM_REACH_H_

#include "core/config.h"
#include "envs/arm.h"
#include "envs/mujoco_env.h"

namespace robofleet::envs {

class ArmReach : public MujocoEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit ArmReach(const EnvConfig& config);

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override;
  void WriteObservation(const mjData& data, float* obs) const override;
  float ComputeReward(const mjData& data, const float* action) const override;

 private:
  // target minus end-effector position, and the rotation vector from the
  // end effector's orientation to the target's
  void Errors(const mjData& data, double pos[3], double rot[3]) const;

  Arm arm_;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_ARM_REACH_H_

// arm_push: push a block across a table onto a random target spot with the
// blunt tool of a 7-joint arm. Contact-rich: the tool, the block and the
// table all touch.
//
// Model: envs/assets/arm_push.xml (the arm of arm7.xml on a table whose top
// is z = 0, a 5 cm, 0.3 kg block with a free joint, and a mocap target disc).
// Each action entry sets one joint's servo target over the joint's whole
// range (see envs/arm.h). Physics runs at 0.004 s with a default frame_skip
// of 5: one control step is 0.02 s and the default 250-step episode lasts
// 5 s.
//
// Observation (34 float32):
//   [0..6]    j1..j7                      joint angles, rad
//   [7..13]   j1_vel..j7_vel              joint velocities, rad/s
//   [14..16]  tip_x, tip_y, tip_z         tool tip (end effector), m
//   [17..19]  block_x, block_y, block_z   block centre, m
//   [20..23]  block_qw, _qx, _qy, _qz     block orientation (unit quaternion)
//   [24..26]  block_vx, _vy, _vz          block velocity, m/s
//   [27..28]  target_x, target_y          target spot on the table, m
//   [29..31]  tip_to_block_x.._z          block minus tip, m
//   [32..33]  block_to_target_x, _y       target minus block, m
//
// Reward per step (dense, shaped): -(block-to-target distance in the table
// plane, m) - 0.5 * (tip-to-block distance, m) - 1e-4 * sum(joint
// velocity^2). The second term draws the tool to the block; the first pays
// for moving the block where it belongs.
//
// Termination: the block falls off the table (its centre below z = -0.1 m),
// or divergence. Truncation: at max_episode_steps. Initial state: the arm at
// a ready pose with the tool tip 0.15 m above the table behind the block,
// plus uniform noise in [-0.05, 0.05] rad per joint, at rest; the block flat
// at x in [0.45, 0.6] m, y in [-0.15, 0.15] m with a random yaw; the target
// at x in [0.35, 0.7] m, y in [-0.3, 0.3] m, at least 0.15 m from the block.
#ifndef ROBOFLEET_ENVS_ARM_PUSH_H_
#define ROBOFLEET_ENVS_ARM_PUSH_H_

#include "core/config.h"
#include "envs/arm.h"
#include "envs/mujoco_env.h"

namespace robofleet::envs {

class ArmPush : public MujocoEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit ArmPush(const EnvConfig& config);

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override;
  void WriteObservation(const mjData& data, float* obs) const override;
  float ComputeReward(const mjData& data, const float* action) const override;
  bool IsTerminal(const mjData& data) const override;

 private:
  Arm arm_;
  int block_qpos_ = 0;  // block's free joint: position then quaternion
  int block_dof_ = 0;   // its linear then angular velocity
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_ARM_PUSH_H_

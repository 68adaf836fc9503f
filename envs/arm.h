// The 7-joint arm of envs/assets/arm7.xml as the arm tasks (arm_reach,
// arm_push) see it: where its joints sit in qpos and qvel, its end effector,
// and the pieces of observation and initial state they share.
//
// Every arm joint is driven by a position servo over the joint's full range,
// so an action of -1..1 per joint asks for a joint angle anywhere in that
// range.
#ifndef ROBOFLEET_ENVS_ARM_H_
#define ROBOFLEET_ENVS_ARM_H_

#include <array>
#include <string>
#include <vector>

#include "envs/mujoco_env.h"

namespace robofleet::envs {

class Arm {
 public:
  static constexpr int kJoints = 7;

  // Finds joints j1..j7 and the site "end_effector" in `m`. Throws
  // robofleet::UserError naming `model_path` when one is missing.
  Arm(const mjModel* m, const std::string& model_path);

  // Observation names of WriteJoints: j1..j7, then j1_vel..j7_vel.
  static std::vector<std::string> JointNames();

  // Writes the 7 joint angles (rad) and the 7 joint velocities (rad/s);
  // returns obs + 14.
  float* WriteJoints(const mjData& data, float* obs) const;

  // Sets the joints to `pose` plus uniform noise in [-noise, noise] rad and
  // zero velocity.
  void SetPose(mjData* data, const std::array<double, kJoints>& pose, double noise,
               EnvRandom& rng) const;

  // Sets the joints to angles drawn uniformly from the middle `fraction` of
  // each joint's range.
  void SetRandomPose(mjData* data, double fraction, EnvRandom& rng) const;

  // Sum of squared joint velocities, (rad/s)^2.
  double SquaredSpeed(const mjData& data) const;

  // End-effector position (3, world, m) and orientation (row-major 3x3).
  const double* ee_pos(const mjData& data) const { return data.site_xpos + 3 * ee_site_; }
  const double* ee_mat(const mjData& data) const { return data.site_xmat + 9 * ee_site_; }

 private:
  const mjModel* model_;
  std::array<int, kJoints> joint_;  // joint ids
  std::array<int, kJoints> qpos_;   // addresses in qpos
  std::array<int, kJoints> dof_;    // addresses in qvel
  int ee_site_ = 0;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_ARM_H_

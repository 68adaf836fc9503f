// humanoid: make a 3D humanoid run forward (+x) as fast as it can without
// falling (Gymnasium's Humanoid, on our own model).
//
// Model: envs/assets/humanoid.xml. A torso with a free joint, waist, pelvis,
// two legs and two arms; 17 motors (abdomen y, z, x; right hip x, z, y, knee;
// left hip x, z, y, knee; right shoulder 1, 2, elbow; left shoulder 1, 2,
// elbow). Physics runs at 0.003 s with a default frame_skip of 5: one control
// step is 0.015 s and the default 1000-step episode lasts 15 s.
//
// Observation (140 float32):
//   [0..21]    qpos without the torso's x, y: root_z (torso height, m),
//              root_qw.._qz (torso orientation), then the 17 hinge angles in
//              the model's order (abdomen_z, abdomen_y, abdomen_x,
//              right_hip_x, _z, _y, right_knee, left_hip_x, _z, _y,
//              left_knee, right_shoulder1, 2, right_elbow, left_shoulder1, 2,
//              left_elbow), rad
//   [22..44]   qvel: root_vx.._vz (m/s), root_wx.._wz (rad/s), then the 17
//              hinge velocities in the order above, rad/s
//   [45..61]   actuator forces (MuJoCo's actuator_force: the applied
//              control, before the gear) in the motor order above
//   [62..139]  external contact wrench on each of the 13 bodies (torso,
//              lower_waist, pelvis, right_thigh, right_shin, right_foot,
//              left_thigh, left_shin, left_foot, right_upper_arm,
//              right_lower_arm, left_upper_arm, left_lower_arm), 6 each:
//              torque (Nm) then force (N), world-aligned
// obs_names in the spec name every entry.
//
// Reward per step: 1.25 * forward velocity of the whole body's centre of mass
// (m/s, x displacement over the step) + 5 for staying healthy
// - 0.016 * sum(action^2).
//
// Termination (unhealthy): torso height outside (1.0, 2.0) m. Truncation: at
// max_episode_steps. Initial state: standing reference pose plus uniform noise
// in [-0.01, 0.01] on every qpos and qvel entry.
#ifndef ROBOFLEET_ENVS_HUMANOID_H_
#define ROBOFLEET_ENVS_HUMANOID_H_

#include "core/config.h"
#include "envs/locomotion.h"

namespace robofleet::envs {

class Humanoid : public LocomotionEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit Humanoid(const EnvConfig& config);

 protected:
  bool IsHealthy(const mjData& data) const override;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_HUMANOID_H_

// reacher: move the tip of a two-link planar arm to a random target on the
// table (Gymnasium's Reacher, on our own model).
//
// Model: envs/assets/reacher.xml. Shoulder and elbow hinges about z, links of
// 0.1 m, motors of 200 Nm at full action (against heavy rotor inertia). The
// target is a mocap body. Physics runs at 0.01 s with a default frame_skip of
// 2: one control step is 0.02 s and the default 50-step episode lasts 1 s.
//
// Observation (10 float32):
//   [0] shoulder_cos, [1] elbow_cos     cos of the joint angles
//   [2] shoulder_sin, [3] elbow_sin     sin of the joint angles
//   [4] target_x, [5] target_y          target position on the table, m
//   [6] shoulder_vel, [7] elbow_vel     joint velocities, rad/s
//   [8] tip_to_target_x, [9] _y         fingertip minus target, m
//
// Reward per step: -(distance from fingertip to target, m) - sum(action^2).
//
// Termination: only on divergence. Truncation: at max_episode_steps. Initial
// state: joint angles uniform in [-0.1, 0.1] rad, velocities uniform in
// [-0.005, 0.005] rad/s; the target uniform in the disc of radius 0.2 m
// around the shoulder (the arm reaches 0.21 m).
#ifndef ROBOFLEET_ENVS_REACHER_H_
#define ROBOFLEET_ENVS_REACHER_H_

#include "core/config.h"
#include "envs/mujoco_env.h"

namespace robofleet::envs {

class Reacher : public MujocoEnv {
 public:
  // Throws robofleet::UserError on a bad config.
  explicit Reacher(const EnvConfig& config);

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override;
  void WriteObservation(const mjData& data, float* obs) const override;
  float ComputeReward(const mjData& data, const float* action) const override;

 private:
  // fingertip minus target in the table plane
  void TipToTarget(const mjData& data, double delta[2]) const;

  int fingertip_ = 0;  // body id
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_REACHER_H_

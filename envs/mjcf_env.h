// mjcf: any MJCF model, with reward and termination built from weighted terms
// set in the experiment file (env.mjcf, see docs/config.md). For robots that
// have no task of their own: load the model, say which body is the robot's
// root and what to reward, and train.
//
// Model: env.mjcf.path, loaded once per process like every task's. Actions map
// onto the actuators' ctrlrange. The default frame_skip is 1 (the model's own
// timestep is the control step; set env.frame_skip to change it) and the
// default time limit 1000 control steps.
//
// Observation (float32; obs_names in the spec name every entry):
//   qpos             all entries, without the root's world x and y unless
//                    env.mjcf.obs_root_xy (the root: a free joint, or slide
//                    joints along x and y, of the first body below the world)
//   qvel             all entries
//   actuator forces  nu entries, when env.mjcf.obs_actuator_forces
//   contact forces   6 per body but the world (torque, then force: MuJoCo's
//                    cfrc_ext), when env.mjcf.obs_contact_forces
//
// Reward per step, with B the body env.mjcf.body (default: the first body
// below the world):
//   forward_weight * velocity of B's origin along forward_axis (displacement
//                    over the step / control step, m/s)
//   + height_weight * B's height (world z, m)
//   + upright_weight * (B's z axis . world z), in [-1, 1]
//   + alive_bonus
//   - ctrl_cost_weight * sum(action^2)
//   - contact_cost_weight * sum over bodies of squared cfrc_ext entries
//
// Termination: when env.mjcf.healthy_height is set and B's height leaves it,
// or on divergence. Truncation: at max_episode_steps. Initial state: the
// model's reference configuration (qpos0), at rest, plus uniform noise in
// [-reset_noise, reset_noise] on every qpos and qvel entry.
#ifndef ROBOFLEET_ENVS_MJCF_ENV_H_
#define ROBOFLEET_ENVS_MJCF_ENV_H_

#include "core/config.h"
#include "envs/locomotion.h"

namespace robofleet::envs {

class MjcfEnv : public LocomotionEnv {
 public:
  // Throws robofleet::UserError on a bad config, a model that fails to load
  // (MuJoCo's message, with the path), or an unknown body name.
  explicit MjcfEnv(const EnvConfig& config);

 protected:
  float ComputeReward(const mjData& data, const float* action) const override;
  bool IsHealthy(const mjData& data) const override;

 private:
  MjcfTaskConfig task_;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_MJCF_ENV_H_

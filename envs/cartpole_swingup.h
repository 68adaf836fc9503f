// cartpole_swingup: swing a hanging pole up by pushing its cart, then
// balance it upright in the middle of the rail.
//
// Model: envs/assets/cartpole.xml. A 1 kg cart on a rail (cart position
// limited to [-1.85, 1.85] m) carries a 1 m, 0.1 kg pole on a free hinge. The
// single action pushes the cart: -1..1 maps to -10..10 N. Physics runs at
// 0.005 s with a default frame_skip of 2, so one control step is 0.01 s and
// the default 1000-step episode lasts 10 s.
//
// Pole angle convention: 0 when the pole points straight up; positive tilts
// its tip towards +x. Episodes start hanging down (angle pi) with
// N(0, 0.01^2) noise on both positions and both velocities.
//
// Observation (5 float32):
//   [0] cart_position          m, 0 at the rail centre, +x to the right
//   [1] pole_cos               cos(angle): +1 upright, -1 hanging down
//   [2] pole_sin               sin(angle)
//   [3] cart_velocity          m/s
//   [4] pole_angular_velocity  rad/s
//
// Reward per step, in [0, 1]: the product
//   upright        (cos(angle) + 1) / 2
//   centred        (1 + Tolerance(cart_position, margin 2 m)) / 2
//   small_control  (4 + Tolerance(action, margin 1, quadratic, 0 at margin)) / 5
//   small_velocity (1 + Tolerance(pole_angular_velocity, margin 5 rad/s)) / 2
// It is near 1 only for a still, upright pole over the rail centre pushed
// gently; a hanging pole earns almost nothing.
//
// Termination: only on divergence. Truncation: at max_episode_steps.
#ifndef ROBOFLEET_ENVS_CARTPOLE_SWINGUP_H_
#define ROBOFLEET_ENVS_CARTPOLE_SWINGUP_H_

#include "core/config.h"
#include "envs/mujoco_env.h"

namespace robofleet::envs {

class CartpoleSwingup : public MujocoEnv {
 public:
  // Throws robofleet::UserError on a bad config or a model that lacks the
  // "slider" and "hinge" joints.
  explicit CartpoleSwingup(const EnvConfig& config);

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override;
  void WriteObservation(const mjData& data, float* obs) const override;
  float ComputeReward(const mjData& data, const float* action) const override;

 private:
  // addresses of the two joints in qpos and qvel
  int slider_qpos_ = 0;
  int slider_dof_ = 0;
  int hinge_qpos_ = 0;
  int hinge_dof_ = 0;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_CARTPOLE_SWINGUP_H_

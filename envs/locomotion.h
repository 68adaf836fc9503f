// LocomotionEnv: what the legged tasks share (hopper, walker2d, halfcheetah,
// ant, humanoid, and the generic mjcf task).
//
// Reward per control step, Gymnasium-style, as a weighted sum:
//   forward_weight * forward velocity
//   + healthy_reward
//   - ctrl_cost_weight * sum(action^2)
//   - contact_cost_weight * sum(clip(cfrc_ext, -contact_clip, contact_clip)^2)
// Forward velocity is the displacement of a tracked point (a body's frame
// origin, or the centre of mass of a body's subtree) along a unit world axis
// during the step, divided by the control step's duration: the return is then
// the distance travelled over the episode, whatever the step size. The
// contact term sums over every body's external contact wrench (MuJoCo's
// cfrc_ext, 6 numbers per body) and makes the base class compute it.
//
// Termination: a subclass says whether a state is healthy; an unhealthy state
// is a real end (terminated). The healthy reward is paid on every step, the
// last one included.
//
// The helpers below name and write the usual observation pieces.
#ifndef ROBOFLEET_ENVS_LOCOMOTION_H_
#define ROBOFLEET_ENVS_LOCOMOTION_H_

#include <limits>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/mujoco_env.h"

namespace robofleet::envs {

// One name per qpos entry: a hinge or slide joint's own name; free joints as
// NAME_x, _y, _z, _qw, _qx, _qy, _qz; ball joints as NAME_qw .. _qz.
std::vector<std::string> QposNames(const mjModel* m);

// One name per qvel entry: NAME_vel for hinges and slides; free joints as
// NAME_vx, _vy, _vz, _wx, _wy, _wz; ball joints as NAME_wx .. _wz.
std::vector<std::string> QvelNames(const mjModel* m);

// Names of cfrc_ext's entries for every body but the world, in MuJoCo's
// layout (torque before force): BODY_tx, _ty, _tz, _fx, _fy, _fz.
std::vector<std::string> ContactForceNames(const mjModel* m);

// NAME_force for every actuator.
std::vector<std::string> ActuatorForceNames(const mjModel* m);

// Copies n doubles to floats, each clipped to [-clip, clip]; returns dst + n.
float* WriteClipped(const double* src, int n, float* dst,
                    double clip = std::numeric_limits<double>::infinity());

// Gymnasium's reset noise: every qpos entry gets uniform noise in
// [-scale, scale] on top of its reference value; every qvel entry is uniform
// in [-scale, scale], or scale * N(0, 1) when `normal_qvel`.
void AddResetNoise(const mjModel* m, mjData* data, EnvRandom& rng, double scale, bool normal_qvel);

// Body id by name; throws UserError naming the model and the body.
int BodyId(const mjModel* m, const std::string& name, const std::string& model_path);

class LocomotionEnv : public MujocoEnv {
 public:
  // How a locomotion task rewards, observes and starts.
  struct Settings {
    // reward terms (see the top of this file)
    double forward_weight = 1.0;       // reward per m/s along the forward axis
    double healthy_reward = 0.0;       // reward per step
    double ctrl_cost_weight = 0.0;     // cost per unit of sum(action^2)
    double contact_cost_weight = 0.0;  // cost per unit of the clipped squared contact wrench
    double contact_clip = std::numeric_limits<double>::infinity();  // per wrench entry

    // what moves forward: a body's frame origin, or its subtree's centre of
    // mass; "" is the first body below the world. The axis need not be unit.
    std::string tracked_body;
    bool track_subtree_com = false;
    double forward_axis[3] = {1.0, 0.0, 0.0};

    // observation: qpos without the listed entries, then qvel clipped to
    // [-qvel_clip, qvel_clip], then optionally actuator forces (MuJoCo's
    // actuator_force, nu entries) and external contact wrenches (cfrc_ext of
    // every body but the world, clipped to [-contact_clip, contact_clip])
    std::vector<int> skip_qpos;
    double qvel_clip = std::numeric_limits<double>::infinity();
    bool observe_actuator_forces = false;
    bool observe_contact_forces = false;
    // the subclass names (TaskInfo.obs_names) and writes (WriteObservation)
    // an observation of its own; the four fields above are then unused
    bool custom_observation = false;

    // initial state: see AddResetNoise
    double reset_noise = 0.0;
    bool normal_qvel_noise = false;
  };

  // What the planar walkers (hopper, walker2d) share, as in Gymnasium: the
  // torso's forward velocity, +1 per step, 1e-3 control cost, the torso's x
  // left out of the observation, velocities clipped to [-10, 10], uniform
  // reset noise of 5e-3.
  static Settings PlanarWalkerSettings();

 protected:
  // `task.obs_names` is filled here from the model and `settings`.
  LocomotionEnv(const EnvConfig& config, TaskInfo task, const Settings& settings);

  // Whether the robot may go on; an unhealthy state ends the episode.
  // Default: always healthy.
  virtual bool IsHealthy(const mjData& /*data*/) const { return true; }

  void InitializeEpisode(mjData* data, EnvRandom& rng) override;
  void BeforeStep(mjData* data) override;
  void WriteObservation(const mjData& data, float* obs) const override;
  float ComputeReward(const mjData& data, const float* action) const override;
  bool IsTerminal(const mjData& data) const final { return !IsHealthy(data); }

  // Velocity of the tracked point along the forward axis over the last step.
  double ForwardVelocity(const mjData& data) const;

  const Settings& settings() const { return settings_; }
  int tracked_body() const { return tracked_body_; }

 private:
  // `task` with its observation names, read from the model.
  static TaskInfo WithObservationNames(TaskInfo task, const Settings& settings);
  double TrackedPosition(const mjData& data) const;

  Settings settings_;
  std::vector<int> observed_qpos_;  // qpos indices written to the observation
  int tracked_body_ = 1;
  double axis_[3] = {1.0, 0.0, 0.0};  // unit forward axis
  double position_before_ = 0.0;      // tracked position along the axis at the step's start
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_LOCOMOTION_H_

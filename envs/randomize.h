// Domain randomisation for MuJoCo envs: physical parameters redrawn at every
// reset, Gaussian noise on observations and actions, and action delay.
//
// Everything is drawn from the env's own EnvRandom, which the env reseeds at
// each reset, so one reset seed fixes the episode's parameters and every noise
// sample: trajectories replay bit for bit. Terms left at their neutral value
// (a [1, 1] range, zero noise, zero delay) draw nothing; the others draw in a
// fixed order: at reset mass, friction, damping, gain, gravity, delay (before
// the task draws its initial state), then each step action noise and
// observation noise. An env without randomisation draws only its initial
// state.
//
// Model parameters: a randomiser that changes any keeps a private copy of the
// task's model, restores the affected fields from the shared model and applies
// fresh factors at each reset; otherwise model() is the shared, read-only
// model itself and nothing is copied.
//
// Thread-safety: one thread at a time, like the env that owns it.
#ifndef ROBOFLEET_ENVS_RANDOMIZE_H_
#define ROBOFLEET_ENVS_RANDOMIZE_H_

#include <mujoco/mujoco.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/mujoco_env.h"

namespace robofleet::envs {

class DomainRandomizer {
 public:
  // `shared` is the task's model as loaded (the randomiser keeps it alive);
  // act_dim is the env's action length. Precondition: config.Validate() passed.
  DomainRandomizer(const RandomizeConfig& config, std::shared_ptr<const mjModel> shared,
                   int act_dim);
  ~DomainRandomizer();
  DomainRandomizer(const DomainRandomizer&) = delete;
  DomainRandomizer& operator=(const DomainRandomizer&) = delete;

  // The model to simulate: the private copy when a model parameter is
  // randomised, else the shared model. Valid for the randomiser's lifetime.
  const mjModel* model() const { return own_model_ != nullptr ? own_model_ : shared_.get(); }
  bool owns_model() const { return own_model_ != nullptr; }

  // Draws the episode's model parameters and action delay from `rng`.
  // `scratch` is any mjData of this model: mj_setConst uses it when masses
  // change, so reset it afterwards.
  void BeginEpisode(EnvRandom& rng, mjData* scratch);

  // The action to apply this step, from the policy's `action` (act_dim entries,
  // already clipped to [-1, 1]): adds action noise, clips again, and returns
  // the action chosen `delay()` steps ago (zeros early in the episode).
  // `applied` receives act_dim entries.
  void FilterAction(const float* action, float* applied, EnvRandom& rng);

  // Adds observation noise to obs[0 .. n).
  void AddObservationNoise(float* obs, int n, EnvRandom& rng) const;

  // This episode's action delay in control steps.
  int delay() const { return delay_; }
  // This episode's drawn factors, what a privileged critic may see: one per
  // body (the world excepted), geom, dof and actuator for each model
  // parameter that varies, then gravity's, then the action delay in steps
  // when it varies. Terms left neutral have no entry. Names alike, e.g.
  // "mass_scale:torso", "friction_scale:floor", "gravity_scale".
  const std::vector<float>& factors() const { return factors_; }
  const std::vector<std::string>& factor_names() const { return factor_names_; }

  // The action queue, which is all the state BeginEpisode does not redraw.
  std::string SaveQueue() const;
  void LoadQueue(std::string_view queue);

 private:
  RandomizeConfig config_;
  std::shared_ptr<const mjModel> shared_;
  mjModel* own_model_ = nullptr;  // owned; null when no model parameter varies
  int act_dim_ = 0;
  int delay_ = 0;
  std::vector<float> pending_;  // ring of (max delay + 1) actions
  int head_ = 0;                // slot the next action goes to
  std::vector<float> factors_;
  std::vector<std::string> factor_names_;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_RANDOMIZE_H_

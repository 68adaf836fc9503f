// The environment contract: Gymnasium semantics over raw float buffers.
//
// An Env is one simulated robot. Reset(seed) starts an episode; Step(action)
// advances one control step (frame_skip physics steps) and reports reward,
// `terminated` (a real end: the robot fell, the state diverged) and
// `truncated` (the time limit). The learner bootstraps through truncation and
// never through termination, so the two must never be confused.
//
// Actions are float32 in [-1, 1]; values outside are clipped and then scaled
// to each actuator's ctrlrange inside the env. A non-finite action is a
// caller bug: Step throws std::invalid_argument naming the env and index.
//
// Thread-safety: an Env is used by one thread at a time. Envs made by the
// registry in one process share one read-only mjModel.
#ifndef ROBOFLEET_ENVS_ENV_H_
#define ROBOFLEET_ENVS_ENV_H_

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace robofleet::envs {

// What a step produced besides the observation.
struct StepResult {
  float reward = 0.0f;
  bool terminated = false;  // the episode really ended; value of next state is 0
  bool truncated = false;   // the time limit ended it; bootstrap from the final obs
  bool diverged = false;    // the simulation blew up (also reported as terminated)
};

// Static facts about a task.
struct EnvSpec {
  std::string id;                      // registry name
  int obs_dim = 0;                     // float32 observation length
  int act_dim = 0;                     // float32 action length, each in [-1, 1]
  int frame_skip = 1;                  // physics steps per control step
  int max_episode_steps = 0;           // truncation limit in control steps
  double control_dt = 0.0;             // seconds per control step
  std::vector<std::string> obs_names;  // one name per observation entry
  // The last privileged_dim observation entries are for the critic alone
  // (EnvConfig.privileged_obs): the actor reads the first
  // obs_dim - privileged_dim, and so does the exported policy.
  int privileged_dim = 0;
  // EnvConfig.obs_history: the actor's entries are this many observations of
  // obs_dim_per_step() entries each, oldest first; the newest carry the
  // task's own names, the older ones "NAME[t-k]".
  int obs_history = 1;
  std::vector<std::string> act_names;  // one name per action entry (actuator)
  // An action entry a in [-1, 1] drives its actuator with
  // ctrl = clamp(act_offset + act_scale * a, act_low, act_high): the
  // ctrlrange's middle and half-width by default (-1 maps to low, +1 to
  // high), the default pose and action scale in position mode (where the
  // ctrlrange may clip).
  std::vector<double> act_low;
  std::vector<double> act_high;
  std::vector<double> act_offset;
  std::vector<double> act_scale;
  // What the env reports of each finished episode besides its return and
  // length, one value per name (e.g. "reward/track_lin_vel", a reward term's
  // sum over the episode); Env::WriteEpisodeInfo writes them. The learner
  // logs the mean of each over recent episodes as a metric of that name.
  std::vector<std::string> episode_info_names;
  // How a robot's controller rebuilds the observation from its own readings
  // and turns an action into actuator targets, as a JSON object (the
  // "controller" of the exported policy's metadata.json, which
  // examples/deploy_cpp/controller.h reads);
  // empty for tasks that do not describe it.
  std::string controller_json;

  // Entries of one step's observation for the actor.
  int obs_dim_per_step() const { return (obs_dim - privileged_dim) / obs_history; }
};

class Env {
 public:
  virtual ~Env() = default;

  virtual const EnvSpec& spec() const = 0;

  // Starts an episode from the state drawn with `seed` and writes the first
  // observation into obs[0 .. obs_dim).
  virtual void Reset(uint64_t seed, float* obs) = 0;

  // Applies action[0 .. act_dim) for one control step and writes the next
  // observation into obs[0 .. obs_dim). After terminated or truncated the
  // caller must Reset before stepping again.
  virtual StepResult Step(const float* action, float* obs) = 0;

  // Writes the values of spec().episode_info_names for the episode that the
  // last Step ended, before the next Reset. Default: none to write.
  virtual void WriteEpisodeInfo(float* /*info*/) const {}

  // Everything that decides what the env does next, as bytes; LoadState puts
  // it into an env made with the same config, after which both step bit for
  // bit alike (determinism mode resumes runs with this). The defaults throw
  // std::logic_error: an env that cannot save its state says so.
  virtual std::string SaveState() const {
    throw std::logic_error("env '" + spec().id + "' cannot save its state");
  }
  virtual void LoadState(std::string_view /*state*/) {
    throw std::logic_error("env '" + spec().id + "' cannot load a saved state");
  }
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_ENV_H_

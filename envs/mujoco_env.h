// MujocoEnv: the Env contract implemented once for every MuJoCo task.
//
// A task is a subclass that names its MJCF file, default frame_skip and time
// limit, and fills in four hooks: the initial-state distribution, the
// observation, the reward and (optionally) a termination test. Everything
// else lives here: action checking, clipping and scaling to the actuators'
// ctrlrange, the physics loop, divergence detection, the time limit, seeding
// and domain randomisation (EnvConfig.randomize, see envs/randomize.h).
//
// Models are loaded once per process (LoadModel caches by path) and shared
// read-only between envs; each env owns its mjData. An env whose model
// parameters are randomised simulates its own copy of the model instead.
#ifndef ROBOFLEET_ENVS_MUJOCO_ENV_H_
#define ROBOFLEET_ENVS_MUJOCO_ENV_H_

#include <mujoco/mujoco.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/env.h"

namespace robofleet::envs {

// Frees an mjData with mj_deleteData.
struct MjDataDeleter {
  void operator()(mjData* data) const { mj_deleteData(data); }
};
using MjDataPtr = std::unique_ptr<mjData, MjDataDeleter>;

// Installs process-wide MuJoCo handlers, once; later calls do nothing.
// Thread-safe. Afterwards:
//   - a MuJoCo error (mju_error) throws std::runtime_error("MuJoCo error: ...")
//     instead of terminating the process;
//   - a MuJoCo warning is counted (MujocoWarningCount) and remembered
//     (LastMujocoWarning) instead of being printed.
// Envs call this themselves; call it directly before using raw MuJoCo calls
// that may raise errors.
void InstallMujocoHandlers();

// Number of MuJoCo warnings raised in this process since the handlers were
// installed. MuJoCo reports each kind of warning once per mjData until that
// data is reset, so this counts first occurrences. Thread-safe.
int64_t MujocoWarningCount();

// The text of the most recent MuJoCo warning, or "" if none. Thread-safe.
std::string LastMujocoWarning();

// Full path of an asset file: $ROBOFLEET_ASSETS/file when that variable is set
// and non-empty, else the assets folder of the source tree this library was
// built from.
std::string AssetPath(const std::string& file);

// Loads and compiles the MJCF model at `path`, once per process: later calls
// with the same path return the same model. The model is read-only and may be
// shared by any number of envs on any threads. Thread-safe.
// Throws robofleet::UserError, one line naming the path and carrying MuJoCo's
// own message, when the file is missing or does not compile.
std::shared_ptr<const mjModel> LoadModel(const std::string& path);

// LoadModel for a model that `prepare` changes once after it is compiled (a
// height field filled from a seed, say): cached under `path` and `variant`,
// which must name everything `prepare` does, so that one (path, variant)
// always gives the same model. An empty variant is LoadModel(path).
std::shared_ptr<const mjModel> LoadModel(const std::string& path, const std::string& variant,
                                         const std::function<void(mjModel*)>& prepare);

// Random numbers for initial-state noise. Built only on mt19937_64's
// bit-exact output, not on std:: distributions (whose results differ between
// standard library implementations), so a seed draws the same initial states
// whichever library the binary was built against.
class DomainRandomizer;

class EnvRandom {
 public:
  explicit EnvRandom(uint64_t seed = 0) : engine_(seed) {}

  void Seed(uint64_t seed) { engine_.seed(seed); }

  // The engine's whole state as text, and back.
  std::string Save() const;
  void Load(const std::string& state);

  // Uniform in [0, 1), 53 random bits.
  double Uniform();
  // Uniform in [low, high).
  double Uniform(double low, double high) { return low + (high - low) * Uniform(); }
  // Standard normal (Box-Muller).
  double Normal();
  // Normal with the given mean and standard deviation.
  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }

 private:
  std::mt19937_64 engine_;
};

// Base class of MuJoCo tasks. Thread-safety: like every Env, one thread at a
// time; different envs may run on different threads concurrently.
class MujocoEnv : public Env {
 public:
  MujocoEnv(const MujocoEnv&) = delete;
  MujocoEnv& operator=(const MujocoEnv&) = delete;
  ~MujocoEnv() override;

  const EnvSpec& spec() const final { return spec_; }

  // Resets the simulation to the model's reference state, lets the task draw
  // its initial state from `seed`, and writes the first observation.
  void Reset(uint64_t seed, float* obs) final;

  // One control step: checks that every action entry is finite (else throws
  // std::invalid_argument naming the env id and the index), clips it to
  // [-1, 1], passes it through the randomiser's action noise and delay when
  // configured, maps it linearly onto the actuator's ctrlrange (actuators
  // without a ctrlrange get the clipped value unchanged), or through the
  // task's own mapping (TaskInfo.ctrl_offset), and runs frame_skip physics
  // steps. Observation noise (the task's, then the randomiser's), when
  // configured, is added to every observation written, the first and the
  // final ones included.
  //
  // A diverged simulation (MuJoCo's bad qpos/qvel/qacc warnings, a
  // non-finite qpos/qvel, or a MuJoCo error raised inside mj_step) ends the
  // episode with terminated = diverged = true and reward 0; the state is then
  // reset to the model's reference state so that the final observation is
  // finite. Reaching max_episode_steps sets truncated. At most one of
  // terminated and truncated is set: a real end wins over the time limit.
  //
  // Throws std::logic_error when called before Reset or after an episode
  // ended without a new Reset.
  StepResult Step(const float* action, float* obs) final;

  // The simulation state (MuJoCo's whole mjData), the random stream, the
  // episode's counters, the randomiser's action queue and the task's own
  // state (SaveTaskState). A randomised model is not stored: it is redrawn
  // from the episode's reset seed.
  std::string SaveState() const final;
  void LoadState(std::string_view state) final;

  // The model this env simulates (the shared one, or this env's randomised
  // copy) and this env's data, for tests and tools. Both are valid until the
  // env is destroyed; a randomised model changes at every Reset.
  const mjModel* model() const { return model_; }
  const mjData* data() const { return data_.get(); }

  // Control steps taken in the current episode.
  int episode_step() const { return episode_step_; }
  // The seed the current episode was reset with.
  uint64_t episode_seed() const { return episode_seed_; }

  // The MJCF file this env was built from.
  const std::string& model_path() const { return model_path_; }

 protected:
  // What a task tells the base class about itself.
  struct TaskInfo {
    std::string id;                        // registry name, used in messages
    std::string model_path;                // MJCF file, e.g. AssetPath("cartpole.xml")
    int default_frame_skip = 1;            // used when EnvConfig.frame_skip is 0
    std::vector<std::string> obs_names;    // defines obs_dim
    int default_max_episode_steps = 1000;  // used when EnvConfig.max_episode_steps is 0
    // Fill data.cfrc_ext (external contact forces per body) after every step
    // and reset, for tasks that observe or penalise contact forces. MuJoCo
    // leaves it unset otherwise, since computing it costs time.
    bool needs_contact_forces = false;
    // Another action mapping: ctrl = ctrl_offset + ctrl_scale * action,
    // clipped to the actuator's ctrlrange (nu entries each; e.g. a position
    // target around a default pose). Empty: [-1, 1] maps onto ctrlrange.
    std::vector<double> ctrl_offset = {};
    std::vector<double> ctrl_scale = {};
    // Half-width of uniform noise added to each observation entry (one per
    // obs_names entry, drawn from the env's seeded stream whenever an
    // observation is written); empty or 0: none.
    std::vector<double> obs_noise = {};
    // EnvSpec.episode_info_names: what WriteEpisodeInfo reports.
    std::vector<std::string> episode_info_names = {};
    std::string controller_json = {};  // EnvSpec.controller_json
    // A model that is changed after compiling (LoadModel's variant and
    // prepare); empty: the file as it is.
    std::string model_variant = {};
    std::function<void(mjModel*)> prepare_model = {};
  };

  // Loads (or reuses) the model and allocates this env's data. Throws
  // robofleet::UserError on a bad config or model.
  MujocoEnv(const EnvConfig& config, TaskInfo task);

  // Sets the initial state in `data`, which holds the model's reference
  // state (qpos0, zero velocity, mocap bodies at their model positions) when
  // called; draw all randomness from `rng`. mj_forward runs afterwards.
  virtual void InitializeEpisode(mjData* data, EnvRandom& rng) = 0;

  // Called at the start of every Step, before the physics, with the state the
  // step starts from (e.g. to remember a position and reward the distance
  // travelled, or to push the robot: the task may change the state). Default:
  // nothing.
  virtual void BeforeStep(mjData* /*data*/) {}

  // Called after the physics of a step that did not diverge, before the
  // observation, reward and termination are read: a task updates its own
  // per-step state here (e.g. how long each foot has been in the air).
  // Default: nothing.
  virtual void AfterStep(const mjData& /*data*/) {}

  // The task's own state beyond mjData (what AfterStep keeps), as bytes, for
  // SaveState; LoadTaskState gets them back. Default: none.
  virtual std::string SaveTaskState() const { return {}; }
  virtual void LoadTaskState(std::string_view /*state*/) {}

  // Writes the task's observation (obs_names as TaskInfo gave them) of
  // `data` into obs; privileged entries, if any, follow and are not the
  // task's business.
  virtual void WriteObservation(const mjData& data, float* obs) const = 0;

  // Reward of the step that led to `data`, given the action applied in that
  // step (act_dim entries in [-1, 1]: clipped, and noisy or delayed when the
  // env randomises actions).
  virtual float ComputeReward(const mjData& data, const float* action) const = 0;

  // Whether `data` is a real end of the episode (fell over). Divergence is
  // handled by the base class. Default: never.
  virtual bool IsTerminal(const mjData& /*data*/) const { return false; }

  // The action of the last step as the policy sent it, clipped to [-1, 1]
  // (before the randomiser's noise and delay); zeros after Reset. act_dim
  // entries.
  const std::vector<float>& last_action() const { return action_; }

 private:
  // True when the last physics step left a bad state behind.
  bool Diverged() const;
  // Runs what the task needs computed on top of mj_step / mj_forward.
  void ComputeDerived();
  // Writes the observation, with noise when configured.
  void Observe(float* obs);
  // Narrows the spec's observation to the entries EnvConfig.observe names.
  void KeepObserved(const std::vector<std::string>& keep);
  // Widens the spec's observation to EnvConfig.obs_history steps.
  void KeepHistory(int steps);

  EnvSpec spec_;
  std::string model_path_;
  std::shared_ptr<const mjModel> shared_model_;
  std::unique_ptr<DomainRandomizer> randomizer_;  // null without randomisation
  int task_obs_dim_ = 0;  // entries of one step the actor reads; the privileged ones follow
  // EnvConfig.observe: which of WriteObservation's entries the actor reads,
  // in order (empty: all), and the scratch WriteObservation fills for them
  std::vector<int> observed_;
  std::vector<float> written_;
  // EnvConfig.obs_history > 1: the actor's last observations, oldest first
  // (task_obs_dim_ each; zeros before the episode's first), and the scratch
  // one step's observation is written to
  std::vector<float> history_;
  std::vector<float> step_obs_;
  const mjModel* model_ = nullptr;  // shared_model_ or the randomiser's copy
  bool needs_contact_forces_ = false;
  MjDataPtr data_;
  EnvRandom rng_;
  std::vector<double> ctrl_scale_;  // ctrl = ctrl_offset_ + ctrl_scale_ * action
  std::vector<double> ctrl_offset_;
  bool clip_ctrl_ = false;         // the task's mapping may leave ctrlrange
  std::vector<double> obs_noise_;  // TaskInfo.obs_noise; empty: none
  std::vector<float> action_;      // clipped action of the current step
  std::vector<float> applied_;     // action_ after the randomiser's noise and delay
  int episode_step_ = 0;
  bool episode_live_ = false;  // Reset done and the episode has not ended
  uint64_t episode_seed_ = 0;  // the seed of the last Reset
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_MUJOCO_ENV_H_

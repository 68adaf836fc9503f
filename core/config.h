// Experiment configuration: every hyperparameter of a run, in one place.
//
// Each component has one struct whose fields carry their defaults as member
// initialisers and a one-line meaning (with unit) in Visit(). Visit() is the
// single description of a struct's keys: the YAML loader, `--set`, the
// resolved-config dump and docs/config.md are all generated from it, so they
// cannot drift apart. Validate() rejects bad values and combinations with a
// UserError naming the key and the fix.
#ifndef ROBOFLEET_CORE_CONFIG_H_
#define ROBOFLEET_CORE_CONFIG_H_

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace robofleet {

// Bad input from the user (experiment file, flag, file on disk). main() prints
// what() as one line and exits with status 2.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A check of one config key failed: "config key 'KEY' PROBLEM". key() lets
// the loader put where the value was set (FILE:LINE, or the --set) in front.
class ConfigKeyError : public UserError {
 public:
  ConfigKeyError(const std::string& key, const std::string& problem);
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// Throws ConfigKeyError, the form of every config check's error: the
// Validate() methods below, and the checks each algorithm adds in its
// registry row. `problem` says what is wrong and the fix.
[[noreturn]] void RejectConfigKey(const std::string& key, const std::string& problem);

// Where each dotted key's value was set: "FILE:LINE" for a key of an
// experiment file (the last file of an `extends:` chain that sets it), or
// "--set KEY=VALUE" for an override. Keys left at their defaults are absent.
using KeyOrigins = std::map<std::string, std::string>;

// Rethrows `error` with the origin of its key in front ("FILE:LINE: config
// key ..."), or `fallback` (the file's name) when the key kept its default.
[[noreturn]] void ThrowAtOrigin(const ConfigKeyError& error, const KeyOrigins& origins,
                                const std::string& fallback);

// Upper limits on counts, checked by Validate() before anything starts
// (docs/running.md lists them). They stop a typo, an extra zero, before it
// forks a hundred thousand processes or asks for more memory than a node
// has; real runs sit far inside them.
inline constexpr int kMaxActors = 1024;                // actors.count, on each node
inline constexpr int kMaxEnvsPerActor = 4096;          // actors.envs_per_actor
inline constexpr int64_t kMaxFragmentSteps = 1 << 20;  // rollout_length x envs_per_actor
inline constexpr int kMaxLearnerRanks = 64;            // learner.count, on each node
inline constexpr int kMaxBatchSize = 1 << 24;          // learner.batch_size, env steps
inline constexpr int kMaxSacBatchSize = 1 << 20;       // algorithm.sac_batch_size
inline constexpr int kMaxThreads = 1024;               // learner.threads
inline constexpr int kMaxEpochs = 10000;               // algorithm.epochs
inline constexpr int kMaxObsHistory = 256;             // env.obs_history

// Domain randomisation: physical parameters drawn per episode, and noise on
// what the policy sees and does. Ranges are [low, high] pairs, sampled
// uniformly per episode from the env's seeded stream (one draw per body, geom,
// joint or actuator); [1, 1] (or 0 for the noises and the delay) turns a term
// off. The defaults change nothing.
struct RandomizeConfig {
  std::vector<double> body_mass_scale = {1.0, 1.0};
  std::vector<double> geom_friction_scale = {1.0, 1.0};
  std::vector<double> joint_damping_scale = {1.0, 1.0};
  std::vector<double> actuator_gain_scale = {1.0, 1.0};
  std::vector<double> gravity_scale = {1.0, 1.0};
  double obs_noise = 0.0;
  double action_noise = 0.0;
  std::vector<int> action_delay = {0, 0};

  template <class V>
  void Visit(V& v) {
    v.Field("body_mass_scale", body_mass_scale,
            "[low, high] factor on each body's mass and inertia, drawn per body");
    v.Field("geom_friction_scale", geom_friction_scale,
            "[low, high] factor on each geom's friction coefficients, drawn per geom");
    v.Field("joint_damping_scale", joint_damping_scale,
            "[low, high] factor on each joint degree of freedom's damping, drawn per dof");
    v.Field("actuator_gain_scale", actuator_gain_scale,
            "[low, high] factor on each actuator's force (gain and bias), drawn per actuator");
    v.Field("gravity_scale", gravity_scale, "[low, high] factor on the gravity vector");
    v.Field("obs_noise", obs_noise,
            "standard deviation of Gaussian noise added to every observation entry, each step");
    v.Field("action_noise", action_noise,
            "standard deviation of Gaussian noise added to every action entry (in [-1, 1] "
            "units) before clipping, each step");
    v.Field("action_delay", action_delay,
            "[low, high] control steps between choosing an action and applying it, drawn per "
            "episode; the zero action is applied until the first one arrives");
  }
  void Validate() const;
  // Whether any model parameter (mass, friction, damping, gain, gravity) varies.
  bool ChangesModel() const;
};

// One entry of env.mjcf.observations: a kind of observation term, what it
// refers to, and how its entries are scaled and perturbed. In YAML a map with
// one kind key: {sensor: NAME}, {gravity: SITE_OR_BODY}, {joint_pos: true},
// {joint_vel: true} or {last_action: true}, plus optional scale and noise.
struct ObservationTerm {
  std::string kind;    // one of kObservationKinds
  std::string name;    // the sensor, or the site or body of gravity; "" for the others
  double scale = 1.0;  // every entry is multiplied by this
  double noise = 0.0;  // then gets uniform noise in [-noise, noise], each observation

  bool operator==(const ObservationTerm& o) const {
    return kind == o.kind && name == o.name && scale == o.scale && noise == o.noise;
  }
};

// The kinds of ObservationTerm; the first two take a name, the others `true`.
inline const std::vector<std::string> kObservationKinds = {"sensor",    "gravity",     "joint_pos",
                                                           "joint_vel", "last_action", "command"};

// How the mjcf task turns an action in [-1, 1] into actuator controls.
struct MjcfActionConfig {
  std::string mode = "torque";
  double scale = 1.0;

  template <class V>
  void Visit(V& v) {
    v.Field("mode", mode,
            "torque: each action entry maps linearly onto its actuator's ctrlrange; position: "
            "ctrl = the default pose's joint angle + scale * action, clipped to ctrlrange (every "
            "actuator must be a position servo on a hinge or slide joint)");
    v.Field("scale", scale, "position mode: radians (or metres) per unit of action");
  }
};

// Velocity commands of the mjcf task, as a joystick gives them: the robot's
// forward and sideways speed (m/s) and its yaw rate (rad/s), each drawn
// uniformly from its [low, high] range at the start of an episode and again
// every resample_s seconds. With no range given there are no commands.
struct MjcfCommandConfig {
  std::vector<double> lin_vel_x;
  std::vector<double> lin_vel_y;
  std::vector<double> yaw_rate;
  double resample_s = 10.0;
  double standing_share = 0.0;

  // Any range given; the others then command 0.
  bool Enabled() const { return !lin_vel_x.empty() || !lin_vel_y.empty() || !yaw_rate.empty(); }

  template <class V>
  void Visit(V& v) {
    v.Field("lin_vel_x", lin_vel_x,
            "[low, high] forward speed commands in m/s, e.g. [-1, 1]; empty (all three): no "
            "commands");
    v.Field("lin_vel_y", lin_vel_y, "[low, high] sideways (leftward) speed commands in m/s");
    v.Field("yaw_rate", yaw_rate, "[low, high] turning rate commands in rad/s (left positive)");
    v.Field("resample_s", resample_s,
            "seconds of simulated time between two draws of a command within an episode");
    v.Field("standing_share", standing_share,
            "share of draws, in [0, 1], that command standing still (all three 0)");
  }
};

// One reward term of env.mjcf.rewards: its weight (0 switches it off) and,
// for some terms, a parameter. Each step adds weight * the term's value;
// penalties take negative weights, as in legged_gym.
struct RewardWeight {
  double weight = 0.0;

  template <class V>
  void Visit(V& v) {
    v.Field("weight", weight,
            "reward per unit of the term per control step; 0: off. Its sum over each episode "
            "is the metric reward/NAME");
  }
};

// A velocity tracking term: exp(-error^2 / sigma).
struct TrackingReward {
  double weight = 0.0;
  double sigma = 0.25;

  template <class V>
  void Visit(V& v) {
    v.Field("weight", weight, "reward per unit of exp(-error^2 / sigma) per control step; 0: off");
    v.Field("sigma", sigma, "tolerance of the exp kernel, in (m/s)^2 or (rad/s)^2");
  }
};

struct HeightReward {
  double weight = 0.0;
  double target = 0.3;

  template <class V>
  void Visit(V& v) {
    v.Field("weight", weight,
            "reward per m^2 of (height - target)^2 per control step; negative: a penalty; 0: off");
    v.Field("target", target, "the body's wanted height above z = 0 in metres");
  }
};

struct AirTimeReward {
  double weight = 0.0;
  double target_s = 0.5;

  template <class V>
  void Visit(V& v) {
    v.Field("weight", weight,
            "reward per second of (air time - target_s), paid when a foot touches down; only "
            "while the command asks to move; 0: off");
    v.Field("target_s", target_s, "seconds of swing that earn nothing; longer swings earn more");
  }
};

struct ContactReward {
  double weight = 0.0;
  std::vector<std::string> bodies;

  template <class V>
  void Visit(V& v) {
    v.Field("weight", weight,
            "reward per listed body touching anything (contact force > 1 N) per control step; "
            "negative: a penalty; 0: off");
    v.Field("bodies", bodies, "bodies whose contacts count, e.g. [trunk, FR_thigh]");
  }
};

// The reward terms of a legged robot task, in the style of legged_gym and
// MuJoCo Playground. Velocities are the root body's (env.mjcf.body, which
// must then have a free joint), in its own frame.
struct MjcfRewardsConfig {
  TrackingReward track_lin_vel;
  TrackingReward track_yaw_rate;
  RewardWeight lin_vel_z;
  RewardWeight ang_vel_xy;
  RewardWeight orientation;
  HeightReward base_height;
  RewardWeight torques;
  RewardWeight action_rate;
  RewardWeight joint_acc;
  AirTimeReward feet_air_time;
  RewardWeight foot_slip;
  ContactReward contacts;
  RewardWeight stand_still;
  RewardWeight termination;

  template <class V>
  void Visit(V& v) {
    v.Section("track_lin_vel", track_lin_vel,
              "exp(-|command xy - body velocity xy|^2 / sigma), velocities in the body's frame");
    v.Section("track_yaw_rate", track_yaw_rate,
              "exp(-(command yaw rate - body yaw rate)^2 / sigma)");
    v.Section("lin_vel_z", lin_vel_z, "the body's vertical speed squared, (m/s)^2");
    v.Section("ang_vel_xy", ang_vel_xy, "the body's roll and pitch rates squared, (rad/s)^2");
    v.Section("orientation", orientation,
              "gravity's x and y in the body's frame, squared (0 when level)");
    v.Section("base_height", base_height, "(height of the body - target)^2");
    v.Section("torques", torques, "sum of squared actuator forces, (N m)^2");
    v.Section("action_rate", action_rate, "sum of squared changes of the action since last step");
    v.Section("joint_acc", joint_acc,
              "sum of squared accelerations of the actuated joints, (rad/s^2)^2");
    v.Section("feet_air_time", feet_air_time,
              "sum over env.mjcf.feet touching down of (seconds in the air - target_s)");
    v.Section("foot_slip", foot_slip,
              "sum over env.mjcf.feet in contact of their horizontal speed squared, (m/s)^2");
    v.Section("contacts", contacts, "number of the listed bodies in contact");
    v.Section("stand_still", stand_still,
              "sum of |joint position - default pose| while the command is to stand (all 0)");
    v.Section("termination", termination,
              "1 on the step that ends an episode for real (a fall), not at the time limit");
  }
};

// Calls f(name, weight) for every term of `rewards`, in declaration order.
template <class F>
struct RewardTermLister {
  F& f;
  template <class T>
  void Field(const char*, T&, const char*) {}
  template <class S>
  void Section(const char* name, S& term, const char*) {
    f(std::string(name), term.weight);
  }
};
template <class F>
void ForEachRewardTerm(MjcfRewardsConfig& rewards, F f) {
  RewardTermLister<F> lister{f};
  rewards.Visit(lister);
}

// Episode ends of the mjcf task besides healthy_height.
struct MjcfTerminationConfig {
  double max_tilt_deg = 0.0;
  std::vector<std::string> contact_bodies;

  template <class V>
  void Visit(V& v) {
    v.Field("max_tilt_deg", max_tilt_deg,
            "the episode ends when the body's z axis leans further than this from world z, in "
            "degrees; 0: never");
    v.Field("contact_bodies", contact_bodies,
            "the episode ends when one of these bodies touches anything (force > 1 N), e.g. "
            "[trunk]");
  }
};

// Random pushes: a velocity kick of the body every interval_s.
struct MjcfPushConfig {
  double interval_s = 0.0;
  double max_vel = 0.5;

  template <class V>
  void Visit(V& v) {
    v.Field("interval_s", interval_s, "seconds of simulated time between two pushes; 0: no pushes");
    v.Field("max_vel", max_vel,
            "each push adds uniform [-max_vel, max_vel] m/s to the body's world x and y velocity");
  }
};

// Rough ground for the mjcf task: the model's height field `hfield`, filled
// once per process from `seed` with a grid of square tiles, difficulty rising
// with the level along world x and the tile's type cycling along y; each
// env has a level that a curriculum moves (envs/terrain.h).
struct MjcfTerrainConfig {
  std::string hfield;
  std::vector<std::string> types = {"rough", "slope", "stairs"};
  int levels = 8;
  double tile_m = 4.0;
  int seed = 0;
  int start_level = 0;
  double max_bump_m = 0.08;
  double max_slope = 0.4;
  double max_step_m = 0.12;

  bool Enabled() const { return !hfield.empty(); }

  template <class V>
  void Visit(V& v) {
    v.Field("hfield", hfield,
            "name of the model's <hfield> to fill with terrain (its geom is the ground); empty: "
            "the model's own ground, no curriculum");
    v.Field("types", types,
            "tile types, cycling along world y: flat, rough (random bumps), slope (a pyramid "
            "to a plateau in the middle), stairs (a pyramid of steps)");
    v.Field("levels", levels, "difficulty levels, one row of tiles each along world x");
    v.Field("tile_m", tile_m, "side of a square tile in metres");
    v.Field("seed", seed, "seed of the bumps; every process fills the same terrain from it");
    v.Field("start_level", start_level, "the level every env starts on");
    v.Field("max_bump_m", max_bump_m, "height of the bumps of rough tiles at the top level");
    v.Field("max_slope", max_slope, "rise per metre of slope tiles at the top level");
    v.Field("max_step_m", max_step_m, "step height of stairs tiles at the top level");
  }
};

// The generic `mjcf` task: any MJCF file, with its reward and termination
// built from weighted terms. The terms about a body all use `body`.
struct MjcfTaskConfig {
  std::string path;
  std::string body;
  std::vector<double> forward_axis = {1.0, 0.0, 0.0};
  double forward_weight = 1.0;
  double height_weight = 0.0;
  double upright_weight = 0.0;
  double ctrl_cost_weight = 0.0;
  double alive_bonus = 0.0;
  double contact_cost_weight = 0.0;
  std::vector<double> healthy_height;
  double reset_noise = 0.0;
  bool obs_root_xy = false;
  bool obs_actuator_forces = false;
  bool obs_contact_forces = false;
  std::string keyframe;
  MjcfActionConfig action;
  std::vector<ObservationTerm> observations;
  MjcfCommandConfig commands;
  std::vector<std::string> feet;
  MjcfRewardsConfig rewards;
  MjcfTerminationConfig termination;
  MjcfPushConfig push;
  MjcfTerrainConfig terrain;

  template <class V>
  void Visit(V& v) {
    v.Field("path", path,
            "MJCF model file; a relative path is taken from the folder of the experiment file "
            "that sets it (from the working directory for a --set)");
    v.Field("body", body,
            "body the forward, height, upright and healthy terms refer to; empty: the first "
            "body below the world");
    v.Field("forward_axis", forward_axis, "world direction counted as forward (normalised)");
    v.Field("forward_weight", forward_weight,
            "reward per m/s of the body's velocity along forward_axis (mean over the step)");
    v.Field("height_weight", height_weight, "reward per metre of the body's height (world z)");
    v.Field("upright_weight", upright_weight,
            "reward times the cosine between the body's z axis and world z (1 upright)");
    v.Field("ctrl_cost_weight", ctrl_cost_weight,
            "penalty times the sum of squared actions (each in [-1, 1])");
    v.Field("alive_bonus", alive_bonus, "reward per control step");
    v.Field("contact_cost_weight", contact_cost_weight,
            "penalty times the sum of squared external contact forces and torques on all "
            "bodies (N^2, Nm^2)");
    v.Field("healthy_height", healthy_height,
            "[low, high] range of the body's height in metres; leaving it terminates the "
            "episode; empty: never terminates");
    v.Field("reset_noise", reset_noise,
            "initial qpos and qvel get uniform noise in [-reset_noise, reset_noise]");
    v.Field("obs_root_xy", obs_root_xy,
            "observe the root's world x and y position (false drops them: translation "
            "invariance)");
    v.Field("obs_actuator_forces", obs_actuator_forces,
            "append actuator forces to the observation");
    v.Field("obs_contact_forces", obs_contact_forces,
            "append each body's external contact force and torque (6 per body) to the "
            "observation");
    v.Field("keyframe", keyframe,
            "name of an MJCF keyframe: episodes start from its qpos, qvel and ctrl (plus "
            "reset_noise), and it is the default pose of action.mode position and of "
            "joint_pos observations; empty: the model's qpos0, at rest");
    v.Field("observations", observations,
            "ordered observation terms replacing the default layout (qpos, qvel, obs_*), e.g. "
            "[{sensor: imu_gyro, scale: 0.25}, {gravity: imu}, {joint_pos: true}, {joint_vel: "
            "true, noise: 0.1}, {last_action: true}]; see docs/config.md, Robot observations");
    v.Section("action", action, "how actions become actuator controls");
    v.Section("commands", commands,
              "velocity commands drawn per episode and redrawn on an interval; the policy sees "
              "them through a {command: true} observation term");
    v.Field("feet", feet,
            "the robot's feet, as geoms (or bodies: all their geoms), for the feet_air_time and "
            "foot_slip rewards, e.g. [FR_foot, FL_foot, RR_foot, RL_foot]");
    v.Section("rewards", rewards,
              "weighted reward terms added to the ones above; each term's sum over an episode "
              "is its own metric (reward/NAME in metrics.csv and TensorBoard)");
    v.Section("termination", termination, "more ways an episode ends");
    v.Section("push", push, "random velocity kicks of the body during episodes");
    v.Section("terrain", terrain,
              "rough ground in a height field, with a curriculum of levels (docs/config.md, "
              "Terrain)");
  }
  void Validate() const;
};

// The simulated task.
struct EnvConfig {
  std::string id = "cartpole_swingup";
  int frame_skip = 0;
  int max_episode_steps = 0;
  RandomizeConfig randomize;
  MjcfTaskConfig mjcf;
  bool privileged_obs = false;
  std::vector<std::string> observe = {};
  int obs_history = 1;

  template <class V>
  void Visit(V& v) {
    v.Field("id", id, "registered task name (unknown names list the valid ones)");
    v.Field("frame_skip", frame_skip,
            "physics steps per control step; 0 keeps the task's own default");
    v.Field("max_episode_steps", max_episode_steps,
            "time limit in control steps; reaching it truncates the episode; 0 keeps the "
            "task's own default");
    v.Field("privileged_obs", privileged_obs,
            "asymmetric actor-critic: each observation ends with entries only the critic "
            "reads, the episode's randomisation factors (env.randomize) and, with observation "
            "noise, the noise-free observation; the actor and the exported policy never see "
            "them");
    v.Field("observe", observe,
            "keep only these entries of the task's observation, in the task's order (a "
            "partially observed task), e.g. [cart_position, pole_cos, pole_sin]; a name "
            "with * keeps every entry it matches (\"*_vel\"); empty keeps every entry");
    v.Field("obs_history", obs_history,
            "the policy reads its last N observations, oldest first (zeros before the "
            "episode's first); the exported policy keeps them itself (docs/config.md, "
            "Observation history); 1: the current one alone");
    v.Section("randomize", randomize, "domain randomisation");
    v.Section("mjcf", mjcf, "the generic mjcf task (env.id: mjcf)");
  }
  void Validate() const;
};

// Actor processes: simulation and inference on CPU.
struct ActorsConfig {
  int count = 2;
  int envs_per_actor = 16;
  int rollout_length = 64;
  int send_hwm = 1;

  template <class V>
  void Visit(V& v) {
    v.Field("count", count, "number of actor processes on each node (at most 1024)");
    v.Field("envs_per_actor", envs_per_actor,
            "envs stepped together by one actor with one batched forward pass (at most 4096)");
    v.Field("rollout_length", rollout_length,
            "control steps per trajectory fragment (times envs_per_actor: at most 1048576)");
    v.Field("send_hwm", send_hwm,
            "fragments an actor may queue before sending blocks (backpressure)");
  }
  void Validate() const;
};

// The policy network: a Gaussian actor and a value critic, as separate MLPs
// or with shared hidden layers.
struct PolicyConfig {
  std::vector<int> hidden = {64, 64};
  std::string activation = "elu";
  double init_log_std = -0.5;
  bool shared_trunk = false;
  bool state_dependent_std = false;
  std::vector<double> log_std_range = {-5.0, 2.0};
  bool tanh_squash = false;
  bool normalize_value = false;

  template <class V>
  void Visit(V& v) {
    v.Field("hidden", hidden, "hidden layer widths of both the actor and the critic MLP");
    v.Field("activation", activation, "hidden activation: elu, tanh or relu");
    v.Field("init_log_std", init_log_std, "initial log standard deviation of the Gaussian policy");
    v.Field("shared_trunk", shared_trunk,
            "actor and critic share the hidden layers and keep their own output layers; "
            "false: two separate MLPs");
    v.Field("state_dependent_std", state_dependent_std,
            "the log standard deviation is an actor output per state; false: one learned "
            "parameter per action dimension");
    v.Field("log_std_range", log_std_range, "[low, high] the log standard deviation is clamped to");
    v.Field("tanh_squash", tanh_squash,
            "actions are tanh of the Gaussian sample, with the log-probability corrected; "
            "the exported forward() returns tanh(mean)");
    v.Field("normalize_value", normalize_value,
            "the critic learns returns normalised by their running mean and std; its "
            "values are de-normalised wherever they are used (saved in checkpoints)");
  }
  void Validate() const;
};

// The learning algorithm and its hyperparameters.
struct AlgorithmConfig {
  std::string name = "ppo";  // a row of algorithms/registry.cc (its test checks the default)
  double gamma = 0.99;
  double gae_lambda = 0.95;
  double clip_ratio = 0.2;
  double entropy_coef = 0.0;
  double value_coef = 1.0;
  double learning_rate = 5e-4;
  std::string lr_schedule = "adaptive";
  double desired_kl = 0.01;
  double max_grad_norm = 1.0;
  int epochs = 5;
  int minibatches = 4;
  bool normalize_advantages = true;
  double value_clip = 0.0;
  double target_kl = 0.0;
  int max_policy_lag = 1;
  double vtrace_rho_clip = 1.0;
  double vtrace_c_clip = 1.0;
  // sac
  int64_t replay_capacity = 1000000;
  double replay_max_mib = 2048.0;
  bool save_replay = true;
  int sac_batch_size = 256;
  double utd_ratio = 1.0;
  int64_t warmup_steps = 5000;
  double tau = 0.005;
  double critic_learning_rate = 0.0;
  double alpha_learning_rate = 0.0;
  double init_alpha = 1.0;
  bool autotune_alpha = true;
  double target_entropy = 0.0;

  template <class V>
  void Visit(V& v) {
    v.Field("name", name,
            "registered algorithm name (unknown names list the valid ones); docs/config.md "
            "describes each");
    v.Field("gamma", gamma, "discount factor per control step");
    v.Field("gae_lambda", gae_lambda, "GAE lambda (bias/variance trade-off of advantages)");
    v.Field("clip_ratio", clip_ratio, "PPO clipping range epsilon of the probability ratio");
    v.Field("entropy_coef", entropy_coef, "weight of the entropy bonus in the loss");
    v.Field("value_coef", value_coef, "weight of the value loss in the loss");
    v.Field("learning_rate", learning_rate, "Adam step size (the initial one under a schedule)");
    v.Field("lr_schedule", lr_schedule,
            "constant; linear (decays to 0 at train.total_env_steps); adaptive (scaled by "
            "1.5 per minibatch to keep the KL near desired_kl)");
    v.Field("desired_kl", desired_kl, "target KL per minibatch of the adaptive schedule");
    v.Field("max_grad_norm", max_grad_norm, "global gradient-norm clip; 0 disables it");
    v.Field("epochs", epochs, "passes over each batch per update (at most 10000)");
    v.Field("minibatches", minibatches, "minibatches each epoch is split into");
    v.Field("normalize_advantages", normalize_advantages,
            "normalise advantages to zero mean, unit std per minibatch");
    v.Field("value_clip", value_clip,
            "clipped value loss (PPO2): a value may move at most this far from its "
            "rollout-time estimate, in the critic's units (normalised with "
            "policy.normalize_value); 0 disables it");
    v.Field("target_kl", target_kl,
            "an update stops early, before the step of the first minibatch whose approximate "
            "KL exceeds this; 0 disables it");
    v.Field("max_policy_lag", max_policy_lag,
            "fragments made by a policy more than this many versions old are dropped "
            "(ppo, appo; sac keeps every fragment)");
    v.Field("vtrace_rho_clip", vtrace_rho_clip,
            "appo: V-trace's rho-bar, the clip of the importance weight of each step's TD "
            "error (and of the policy-gradient advantage)");
    v.Field("vtrace_c_clip", vtrace_c_clip,
            "appo: V-trace's c-bar, the clip of the importance weights that carry later "
            "corrections back in time");
    v.Field("replay_capacity", replay_capacity,
            "sac: transitions the replay buffer holds per learner rank; the oldest are "
            "overwritten");
    v.Field("replay_max_mib", replay_max_mib,
            "sac: limit on the replay buffer's memory per learner rank in MiB; a capacity "
            "that needs more is rejected at start-up");
    v.Field("save_replay", save_replay,
            "sac: each rank writes its replay buffer beside every checkpoint "
            "(checkpoints/replay-rank<R>.pt, overwritten) and --resume continues with it; "
            "false: a resumed run refills the buffer and warms up again");
    v.Field("sac_batch_size", sac_batch_size,
            "sac: transitions sampled uniformly from the replay buffer per gradient step (at most "
            "1048576)");
    v.Field("utd_ratio", utd_ratio,
            "sac: update-to-data ratio, gradient steps per env step collected (over all "
            "ranks); the steps of a batch of fragments run after it arrives");
    v.Field("warmup_steps", warmup_steps,
            "sac: env steps collected with the initial policy before the first gradient step");
    v.Field("tau", tau,
            "sac: Polyak factor of the target critics, target = (1 - tau) target + tau "
            "critic after every gradient step");
    v.Field("critic_learning_rate", critic_learning_rate,
            "sac: Adam step size of the twin critics; 0 uses learning_rate");
    v.Field("alpha_learning_rate", alpha_learning_rate,
            "sac: Adam step size of the log entropy temperature; 0 uses learning_rate");
    v.Field("init_alpha", init_alpha, "sac: initial entropy temperature alpha");
    v.Field("autotune_alpha", autotune_alpha,
            "sac: learn log alpha so that the policy's entropy tracks target_entropy; false "
            "keeps init_alpha");
    v.Field("target_entropy", target_entropy,
            "sac: entropy the temperature tuning aims at, in nats; 0 uses -act_dim");
  }
  // The checks that hold for every algorithm; what one algorithm asks of the
  // config is checked by its registry row (algorithms/registry.h), since
  // core knows no algorithm.
  void Validate() const;
};

// Running observation normalisation, shared by learner and actors.
struct NormalizerConfig {
  bool enabled = true;
  double clip = 10.0;

  template <class V>
  void Visit(V& v) {
    v.Field("enabled", enabled, "normalise observations by running mean and variance");
    v.Field("clip", clip, "normalised observations are clipped to [-clip, clip]");
  }
  void Validate() const;
};

// The learner process.
struct LearnerConfig {
  int batch_size = 8192;
  std::string device = "cpu";
  std::string backend = "auto";
  int threads = 1;
  int count = 1;
  int collective_timeout_s = 120;
  bool receive_during_update = false;

  template <class V>
  void Visit(V& v) {
    v.Field("batch_size", batch_size,
            "env steps per update (sac: per round of gradient steps), over all learner ranks; "
            "rounded up to whole fragments (at most 16777216)");
    v.Field("device", device,
            "where the update runs: cpu, or cuda (each rank on GPU local rank mod the GPUs "
            "it sees; needs a LibTorch with CUDA)");
    v.Field("backend", backend,
            "how ranks average gradients: auto (nccl on cuda, gloo on cpu), gloo or nccl "
            "(needs learner.device: cuda and a build with NCCL)");
    v.Field("threads", threads,
            "compute threads of each learner rank: LibTorch, OpenMP and the BLAS alike (at "
            "most 1024); actors compute on one");
    v.Field("count", count,
            "learner ranks (processes); each trains on the fragments of its own actors "
            "(actor i feeds rank i mod count) and the gradients are averaged; with "
            "--nnodes, ranks per node (at most 64)");
    v.Field("receive_during_update", receive_during_update,
            "a second thread receives and batches the next fragments while the update runs; "
            "worth it when the actors have cores of their own, not when they share the "
            "learner's");
    v.Field("collective_timeout_s", collective_timeout_s,
            "seconds a rank waits for the others at a collective before the run fails");
  }
  void Validate() const;
};

// Run length, checkpoints and reporting.
struct TrainConfig {
  int64_t total_env_steps = 3000000;
  int checkpoint_every = 50;
  double log_every_s = 5.0;
  bool record_video = false;
  int keep_checkpoints = 5;
  int max_nonfinite_updates = 3;
  bool deterministic = false;

  template <class V>
  void Visit(V& v) {
    v.Field("total_env_steps", total_env_steps, "training stops after this many env steps");
    v.Field("checkpoint_every", checkpoint_every,
            "updates between checkpoints (and one at the end)");
    v.Field("log_every_s", log_every_s, "seconds between console progress lines");
    v.Field("record_video", record_video,
            "at the end, render one episode of the final policy to RUN_DIR/final.mp4");
    v.Field("keep_checkpoints", keep_checkpoints, "the newest checkpoints kept on disk");
    v.Field("max_nonfinite_updates", max_nonfinite_updates,
            "updates in a row whose every step had a non-finite loss or gradient before the "
            "run stops with an error (the last good checkpoint stays)");
    v.Field("deterministic", deterministic,
            "one actor, synchronous updates: the same seed gives bit-identical metrics and "
            "parameters, and --resume continues exactly (needs actors.count: 1)");
  }
  void Validate() const;
};

// Process supervision by `robofleet train`.
struct LauncherConfig {
  int max_restarts = 3;
  int actor_restarts_per_minute = 10;

  template <class V>
  void Visit(V& v) {
    v.Field("max_restarts", max_restarts,
            "times a dead learner is restarted from its last checkpoint before the run fails");
    v.Field("actor_restarts_per_minute", actor_restarts_per_minute,
            "actor restarts allowed in any minute before the run fails");
  }
  void Validate() const;
};

// Where the learner's sockets listen, and who may connect to them.
struct TransportConfig {
  std::string bind = "ipc";
  int port = 0;
  bool curve = true;

  template <class V>
  void Visit(V& v) {
    v.Field("bind", bind,
            "ipc: Unix sockets in the run directory (this machine only, unreachable over the "
            "network); or an address to listen on over tcp: 127.0.0.1 (loopback), 0.0.0.0 "
            "(every interface), or one of this host's addresses");
    v.Field("port", port,
            "tcp: the first of the learner's two ports (trajectories, then weights); 0 picks "
            "free ones");
    v.Field("curve", curve,
            "tcp: CURVE encryption with keys made for the run (RUN_DIR/keys); the learner "
            "admits only the run's actors");
  }
  void Validate() const;
};

// A whole experiment: what an experiment file describes.
struct ExperimentConfig {
  std::string name = "experiment";
  uint64_t seed = 1;
  EnvConfig env;
  ActorsConfig actors;
  PolicyConfig policy;
  AlgorithmConfig algorithm;
  NormalizerConfig normalizer;
  LearnerConfig learner;
  TrainConfig train;
  LauncherConfig launcher;
  TransportConfig transport;

  template <class V>
  void Visit(V& v) {
    v.Field("name", name, "experiment name; the run directory is named after it");
    v.Field("seed", seed, "seed of every random stream of the run");
    v.Section("env", env, "the simulated task");
    v.Section("actors", actors, "actor processes");
    v.Section("policy", policy, "policy and value networks");
    v.Section("algorithm", algorithm, "learning algorithm");
    v.Section("normalizer", normalizer, "observation normalisation");
    v.Section("learner", learner, "learner process");
    v.Section("train", train, "run length, checkpoints, reporting");
    v.Section("launcher", launcher, "process supervision");
    v.Section("transport", transport, "sockets between learner and actors");
  }
  void Validate() const;
};

// Env steps in one fragment: actors.rollout_length x actors.envs_per_actor.
int64_t StepsPerFragment(const ExperimentConfig& config);

// Fragments that make up one learner rank's batch: learner.batch_size shared
// out among `ranks` learner ranks, each share rounded up to whole fragments.
// Actors, learners and benchmarks all size batches with this.
int64_t FragmentsPerBatch(const ExperimentConfig& config, int ranks = 1);

// Reads an experiment file, applies `key=value` overrides (dotted keys, YAML
// values), validates, and returns the resolved config. Throws UserError with
// "FILE:LINE: problem; fix" on any bad input: a value out of its type's range,
// a key given twice in one map, a folder instead of a file. Values are
// checked once, after the overrides, so a `--set` can mend a bad value of the
// file. A relative `env.mjcf.path` is taken from the folder of the file that
// sets it (from the working directory for a `--set`), and stored absolute.
// What the algorithm named by
// algorithm.name asks of the config is not checked here (core knows no
// algorithm): algorithms::ValidateAlgorithm checks it, and the launcher's
// commands and the learner run it after loading.
//
// A file may start from another: `extends: base.yaml` (a path relative to the
// including file's folder) reads the base first and lays the file's own keys
// over it, key by key; bases may extend further files, and a cycle is an
// error. A top-level `sweep:` block is left to `robofleet sweep`: here it is
// ignored, so `robofleet train` on a sweep file trains its base config once.
ExperimentConfig LoadExperiment(const std::string& path,
                                const std::vector<std::string>& overrides = {});

// Where the sweep block of an experiment file is: the nearest file of the
// `extends:` chain that has a top-level `sweep:` key, with that file's whole
// text, so that the sweep parser (core/sweep_plan.h) can name its lines.
struct SweepSource {
  std::string path;  // empty when no file of the chain has a sweep block
  std::string text;
};

// LoadExperiment that also reports the sweep block, for `robofleet sweep`,
// and where each key was set, for checks made after loading (either may be
// null).
ExperimentConfig LoadExperiment(const std::string& path, const std::vector<std::string>& overrides,
                                SweepSource* sweep, KeyOrigins* origins = nullptr);

// Applies overrides to an already-resolved config (used by child processes
// and tests). Throws UserError.
void ApplyOverrides(ExperimentConfig& config, const std::vector<std::string>& overrides);

// What `train --resume RUN --set ...` may change. The run's identity stays:
// the task and its shapes (env.id, env.mjcf.*, env.frame_skip,
// env.privileged_obs), the networks (policy.*, normalizer.*), algorithm.name
// and algorithm.replay_capacity, learner.count (each rank has its own state),
// seed and train.deterministic. Every other key may change: the run's length,
// checkpoints and logging (train.*), hyperparameters (algorithm.*), actors,
// learner device, batch and threads, launcher.*, transport.*, env.randomize.*
// and env.max_episode_steps.
bool MayChangeOnResume(const std::string& key);

// Throws UserError naming the first key that differs between the run's
// config and the resumed one and may not change (MayChangeOnResume).
void CheckResumeChanges(const ExperimentConfig& run, const ExperimentConfig& resumed);

// The resolved config as YAML: every key, in declaration order. Loading this
// text gives back the same config.
std::string ToYaml(const ExperimentConfig& config);

// Parses YAML text (as written by ToYaml or a user) into a validated config.
// `source` names the text in error messages; an `extends:` path in the text
// is taken relative to the folder of `source`.
ExperimentConfig ParseExperiment(const std::string& yaml_text, const std::string& source);

// Every key as "section.key", its type, default and meaning, as a Markdown table.
std::string ConfigReferenceMarkdown();

// Every settable key as "section.key" with its type as the errors name it
// ("integer", "number", "bool", "string", "list of int", "list of number",
// "list of observation terms"),
// in declaration order.
std::vector<std::pair<std::string, std::string>> ConfigKeyTypes();

// The valid key closest to `key` by edit distance among `candidates`, or "".
std::string ClosestName(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_CONFIG_H_

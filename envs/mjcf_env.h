// mjcf: any MJCF model, with reward and termination built from weighted terms
// set in the experiment file (env.mjcf, see docs/config.md). For robots that
// have no task of their own: load the model, say which body is the robot's
// root and what to reward, and train.
//
// Model: env.mjcf.path, loaded once per process like every task's. The
// default frame_skip is 1 (the model's own timestep is the control step; set
// env.frame_skip to change it) and the default time limit 1000 control steps.
//
// Default pose: the qpos of the keyframe env.mjcf.keyframe, or the model's
// qpos0 without one.
//
// Actions (env.mjcf.action): mode torque maps each entry onto its actuator's
// ctrlrange; mode position sets ctrl = the default pose's angle of the
// actuator's joint + scale * action, clipped to ctrlrange, and needs every
// actuator to be a position servo (trntype joint on a hinge or slide, fixed
// gain, affine bias with biasprm[1] == -gainprm[0]: MuJoCo's <position>).
//
// Observation (float32; obs_names in the spec name every entry). Without
// env.mjcf.observations:
//   qpos             all entries, without the root's world x and y unless
//                    env.mjcf.obs_root_xy (the root: a free joint, or slide
//                    joints along x and y, of the first body below the world)
//   qvel             all entries
//   actuator forces  nu entries, when env.mjcf.obs_actuator_forces
//   contact forces   6 per body but the world (torque, then force: MuJoCo's
//                    cfrc_ext), when env.mjcf.obs_contact_forces
// With it, its terms in order, each entry times the term's scale plus
// uniform noise in [-noise, noise], named KIND:NAME, with [i] after the name
// when the term has several entries for one name:
//   {sensor: S}         sensordata of sensor S, its full dimension
//                       (sensor:S, or sensor:S[0] .. sensor:S[dim-1])
//   {gravity: F}        the unit gravity direction in the frame of site F (or,
//                       if no site is called F, body F): R^T g, 3 entries
//                       (gravity:F[0] .. gravity:F[2])
//   {joint_pos: true}   per actuator, its joint's position minus the default
//                       pose's (joint_pos:JOINT)
//   {joint_vel: true}   per actuator, its joint's velocity (joint_vel:JOINT)
//   {last_action: true} the previous action, clipped to [-1, 1]; zeros after
//                       a reset (last_action:ACTUATOR)
//   {command: true}     the velocity command in force (env.mjcf.commands,
//                       envs/commands.h): command:lin_vel_x, command:lin_vel_y,
//                       command:yaw_rate
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
// Reward terms of env.mjcf.rewards (core/config.h names and defines each),
// added to the above: each term with a weight adds weight * value per step,
// and its sum over the episode is reported as episode info
// "reward/NAME" (a metric of that name). They read B's free joint (its
// velocity and orientation from qpos and qvel, so they are those of the end
// of the step), the command in force during the step, the feet
// (env.mjcf.feet: geoms, or bodies standing for all their geoms) and
// contacts: a geom or body is in contact when a contact of it carries a
// normal force above 1 N.
//
// Termination: when env.mjcf.healthy_height is set and B's height leaves it,
// when B tilts more than env.mjcf.termination.max_tilt_deg, when a body of
// env.mjcf.termination.contact_bodies is in contact, or on divergence.
// Pushes (env.mjcf.push): every interval_s, B's world x and y velocity get a
// uniform kick in [-max_vel, max_vel], a pure function of the episode seed
// and the push's index, like the commands.
//
// Terrain (env.mjcf.terrain, envs/terrain.h): the model's height field is
// filled once per process (the filled model is cached like any other) and
// each episode starts in the middle of a tile of the env's level, the tile
// drawn from the episode's seed. The level moves at each reset: up when the
// episode's robot got more than half a tile from its start, else down when
// it got less than half as far as its commands asked; it is reported as
// episode info "terrain/level". Truncation: at max_episode_steps. Initial state: the
// keyframe's qpos, qvel and ctrl (without one: qpos0, at rest), plus uniform
// noise in [-reset_noise, reset_noise] on every qpos and qvel entry.
#ifndef ROBOFLEET_ENVS_MJCF_ENV_H_
#define ROBOFLEET_ENVS_MJCF_ENV_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "envs/commands.h"
#include "envs/locomotion.h"
#include "envs/terrain.h"

namespace robofleet::envs {

class MjcfEnv : public LocomotionEnv {
 public:
  // Throws robofleet::UserError, one line naming the key, on a bad config, a
  // model that fails to load (MuJoCo's message, with the path), an unknown
  // body, keyframe, sensor or site name, or actuators that cannot take
  // position mode.
  explicit MjcfEnv(const EnvConfig& config);

  // The velocity command in force at this step of the episode (zeros
  // without env.mjcf.commands).
  VelocityCommand command() const { return commands_.At(episode_seed(), episode_step()); }
  const CommandSchedule& commands() const { return commands_; }
  // What the command is compared with: the body's forward and sideways
  // speed (m/s) and yaw rate (rad/s) in its own frame, from its free joint;
  // zeros when it has none.
  VelocityCommand velocity() const;

  // What a robot's controller reads at this state for each observation term
  // (spec().controller_json), one line per term: its kind, then the raw
  // values in C's hex float notation: a sensor's sensordata; for gravity
  // the frame's rotation matrix (9, MuJoCo's row-major xmat); per actuator
  // its joint's position or velocity; the command; nothing for last_action
  // (the controller keeps its own). examples/deploy_cpp --replay reads it.
  std::string Readings() const;

  // The episode's sum of each weighted reward term (episode_info_names:
  // reward/NAME, in env.mjcf.rewards order).
  void WriteEpisodeInfo(float* info) const override;

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override;
  void BeforeStep(mjData* data) override;
  void AfterStep(const mjData& data) override;
  void WriteObservation(const mjData& data, float* obs) const override;
  float ComputeReward(const mjData& data, const float* action) const override;
  bool IsHealthy(const mjData& data) const override;
  std::string SaveTaskState() const override;
  void LoadTaskState(std::string_view state) override;

 private:
  // One observation term resolved against the model, as WriteObservation
  // reads it: no lookups by name in the step loop.
  struct ObsTerm {
    enum class Kind {
      kSensor,
      kSiteGravity,
      kBodyGravity,
      kJointPos,
      kJointVel,
      kLastAction,
      kCommand
    };
    Kind kind = Kind::kSensor;
    int id = 0;  // sensordata address (kSensor) or site / body id (gravity)
    int dim = 0;
    double scale = 1.0;
  };
  // One reward term of env.mjcf.rewards with a weight.
  struct RewardTerm {
    // in the order of MjcfRewardsConfig's fields
    enum class Kind {
      kTrackLinVel,
      kTrackYawRate,
      kLinVelZ,
      kAngVelXy,
      kOrientation,
      kBaseHeight,
      kTorques,
      kActionRate,
      kJointAcc,
      kFeetAirTime,
      kFootSlip,
      kContacts,
      kStandStill,
      kTermination
    };
    Kind kind = Kind::kTermination;
    double weight = 0.0;
  };
  // The root body's motion in its own frame: linear and angular velocity,
  // gravity's direction, and the world z component of its z axis (1 upright).
  struct RootMotion {
    double v[3] = {0, 0, 0}, w[3] = {0, 0, 0}, g[3] = {0, 0, -1};
    double up = 1.0;
  };
  RootMotion Root(const mjData& data) const;
  struct Setup;  // everything resolved from the config and the model
  static Setup Resolve(const EnvConfig& config);
  static void ResolveRewards(const MjcfTaskConfig& c, const mjModel* m, Setup* s);
  static std::string ControllerJson(const EnvConfig& config, const mjModel* m, const Setup& s);
  bool Grounded(size_t foot, const uint8_t* foot_now) const;
  // Moves the episode's start onto a tile of the terrain (after the
  // curriculum has set the level from the episode that ended).
  void StartOnTerrain(mjData* data);
  MjcfEnv(const EnvConfig& config, Setup setup);

  MjcfTaskConfig task_;
  int keyframe_ = -1;                 // -1: start from qpos0
  std::vector<ObsTerm> obs_terms_;    // empty: LocomotionEnv's default observation
  std::vector<int> actuated_qpos_;    // per actuator, its joint's qpos address
  std::vector<int> actuated_dof_;     // per actuator, its joint's dof address
  std::vector<double> default_qpos_;  // per actuator, its joint's default position
  double gravity_[3] = {0, 0, -1};    // unit gravity direction in world coordinates
  CommandSchedule commands_;

  // the reward terms, terminations and pushes
  std::vector<RewardTerm> reward_terms_;
  int root_qpos_ = -1, root_dof_ = -1;  // B's free joint; -1: it has none
  std::vector<int> foot_geom_;          // per foot, the geom whose speed is its speed
  std::vector<int> geom_foot_;          // per geom, its foot, or -1
  std::vector<uint8_t> body_role_;      // per body: kRewardContact | kEndContact bits
  static constexpr uint8_t kRewardContact = 1, kEndContact = 2;
  double cos_max_tilt_ = -2.0;      // below -1: no tilt termination
  int push_every_ = 0;              // control steps between pushes; 0: none
  std::optional<Terrain> terrain_;  // env.mjcf.terrain, when set

  // state of the episode, kept by AfterStep (SaveTaskState)
  std::vector<double> reward_sums_;    // per term, the episode's weighted sum
  std::vector<float> prev_action_;     // the action of the step before
  std::vector<double> air_time_;       // per foot, seconds in the air before this step
  std::vector<uint8_t> foot_contact_;  // per foot, in contact after the last step
  // the terrain curriculum: this env's level (kept from episode to episode),
  // and the tile, start and distances of the episode in progress
  int level_ = 0;
  int column_ = 0;
  double start_xy_[2] = {0, 0};
  double distance_ = 0.0;            // metres from the start, in the plane
  double commanded_distance_ = 0.0;  // metres the commands asked for so far
  bool played_ = false;              // a step was taken since the reset
  // per step, not state: set by BeforeStep / AfterStep within one Step
  std::vector<double> qvel_before_;  // per actuator, its joint's velocity before the physics
  // scratch of AfterStep: per foot, then per body, whether in contact now
  std::vector<uint8_t> touching_;
  double step_reward_ = 0.0;
  bool terminal_ = false;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_MJCF_ENV_H_

// The generic mjcf task as a robot task: observation terms (sensors,
// projected gravity, joint state about a keyframe, the last action), the
// keyframe reset, and position actions through the model's PD servos, each
// checked against MuJoCo's data or a hand calculation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/mjcf_env.h"
#include "envs/mujoco_env.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using test::WarningFreeTest;

// The quadruped of envs/assets, from its "home" keyframe, with `terms`.
EnvConfig Quadruped(std::vector<ObservationTerm> terms) {
  EnvConfig config;
  config.id = "mjcf";
  config.mjcf.path = AssetPath("quadruped.xml");
  config.mjcf.body = "trunk";
  config.mjcf.keyframe = "home";
  config.mjcf.observations = std::move(terms);
  return config;
}

int Id(const mjModel* m, mjtObj type, const char* name) {
  const int id = mj_name2id(m, type, name);
  EXPECT_GE(id, 0) << name;
  return id;
}

using RobotObsTest = WarningFreeTest;

TEST_F(RobotObsTest, ResetStartsAtTheKeyframe) {
  EnvConfig config = Quadruped({{"joint_pos", "", 1.0, 0.0}});
  MjcfEnv env(config);
  const mjModel* m = env.model();
  const int home = Id(m, mjOBJ_KEY, "home");
  std::vector<float> obs(env.spec().obs_dim);
  env.Reset(3, obs.data());
  const mjData* d = env.data();
  for (int i = 0; i < m->nq; ++i) EXPECT_EQ(d->qpos[i], m->key_qpos[home * m->nq + i]) << i;
  for (int i = 0; i < m->nv; ++i) EXPECT_EQ(d->qvel[i], m->key_qvel[home * m->nv + i]) << i;
  for (int i = 0; i < m->nu; ++i) EXPECT_EQ(d->ctrl[i], m->key_ctrl[home * m->nu + i]) << i;
  // the pose is the default of joint_pos: all zero
  for (float x : obs) EXPECT_EQ(x, 0.0f);

  // without the keyframe the episode starts at qpos0, which is another pose
  config.mjcf.keyframe = "";
  MjcfEnv plain(config);
  plain.Reset(3, obs.data());
  int differ = 0;
  for (int i = 0; i < m->nq; ++i) {
    EXPECT_EQ(plain.data()->qpos[i], m->qpos0[i]) << i;
    differ += m->qpos0[i] != m->key_qpos[home * m->nq + i];
  }
  EXPECT_GT(differ, 0);
}

TEST_F(RobotObsTest, SensorTermsAreSensordataTimesScale) {
  MjcfEnv env(Quadruped({{"sensor", "imu_gyro", 0.25, 0.0},
                         {"sensor", "imu_quat", 1.0, 0.0},
                         {"sensor", "FR_touch", 2.0, 0.0}}));
  const mjModel* m = env.model();
  const EnvSpec& spec = env.spec();
  ASSERT_EQ(spec.obs_dim, 3 + 4 + 1);
  EXPECT_EQ(spec.obs_names[0], "sensor:imu_gyro[0]");
  EXPECT_EQ(spec.obs_names[6], "sensor:imu_quat[3]");
  EXPECT_EQ(spec.obs_names[7], "sensor:FR_touch");

  std::vector<float> obs(spec.obs_dim);
  std::vector<float> action(spec.act_dim);
  env.Reset(1, obs.data());
  test::RandomPolicy policy(5);
  for (int step = 0; step < 20; ++step) {
    policy.Fill(action);
    env.Step(action.data(), obs.data());
  }
  const mjData* d = env.data();
  const int gyro = m->sensor_adr[Id(m, mjOBJ_SENSOR, "imu_gyro")];
  const int quat = m->sensor_adr[Id(m, mjOBJ_SENSOR, "imu_quat")];
  const int touch = m->sensor_adr[Id(m, mjOBJ_SENSOR, "FR_touch")];
  double gyro_norm = 0;
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(obs[k], static_cast<float>(0.25 * d->sensordata[gyro + k])) << k;
    gyro_norm += std::abs(d->sensordata[gyro + k]);
  }
  EXPECT_GT(gyro_norm, 0.0);  // the robot moved: the copy is not of zeros
  for (int k = 0; k < 4; ++k) EXPECT_EQ(obs[3 + k], static_cast<float>(d->sensordata[quat + k]));
  EXPECT_EQ(obs[7], static_cast<float>(2.0 * d->sensordata[touch]));
}

TEST_F(RobotObsTest, GravityIsTheWorldsDownInTheFrameOfTheSiteOrBody) {
  EnvConfig config = Quadruped({{"gravity", "imu", 1.0, 0.0}, {"gravity", "FR_calf", 2.0, 0.0}});
  config.mjcf.reset_noise = 0.1;  // a tilted trunk
  MjcfEnv env(config);
  const mjModel* m = env.model();
  EXPECT_EQ(env.spec().obs_names[0], "gravity:imu[0]");
  EXPECT_EQ(env.spec().obs_names[5], "gravity:FR_calf[2]");
  std::vector<float> obs(env.spec().obs_dim);
  std::vector<float> action(env.spec().act_dim, 0.5f);
  env.Reset(2, obs.data());
  env.Step(action.data(), obs.data());
  const mjData* d = env.data();
  // R^T (0, 0, -1) is minus R's bottom row: R[2][k] = xmat[6 + k]
  const double* site = d->site_xmat + 9 * Id(m, mjOBJ_SITE, "imu");
  const double* calf = d->xmat + 9 * Id(m, mjOBJ_BODY, "FR_calf");
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(obs[k], -site[6 + k], 1e-6) << k;
    EXPECT_NEAR(obs[3 + k], -2.0 * calf[6 + k], 1e-6) << k;
  }
  EXPECT_NEAR(std::hypot(obs[0], obs[1], obs[2]), 1.0, 1e-5);
  EXPECT_GT(std::hypot(obs[0], obs[1]), 0.01);  // tilted: not simply (0, 0, -1)
}

TEST_F(RobotObsTest, JointStateIsAboutTheKeyframeAndLastActionIsTheClippedAction) {
  MjcfEnv env(Quadruped(
      {{"joint_pos", "", 1.0, 0.0}, {"joint_vel", "", 0.5, 0.0}, {"last_action", "", 1.0, 0.0}}));
  const mjModel* m = env.model();
  const int nu = m->nu;
  ASSERT_EQ(nu, 12);
  ASSERT_EQ(env.spec().obs_dim, 3 * nu);
  EXPECT_EQ(env.spec().obs_names[1], "joint_pos:FR_thigh");
  EXPECT_EQ(env.spec().obs_names[nu + 2], "joint_vel:FR_calf");
  EXPECT_EQ(env.spec().obs_names[2 * nu + 11], "last_action:RL_calf");

  const int home = Id(m, mjOBJ_KEY, "home");
  std::vector<float> obs(env.spec().obs_dim);
  std::vector<float> action(nu);
  for (int i = 0; i < nu; ++i) action[i] = 1.6f * (i % 3 - 1) + 0.1f * i;  // some beyond +-1
  env.Reset(1, obs.data());
  for (int step = 0; step < 3; ++step) env.Step(action.data(), obs.data());
  const mjData* d = env.data();
  for (int i = 0; i < nu; ++i) {
    const int joint = m->actuator_trnid[2 * i];
    const int q = m->jnt_qposadr[joint];
    EXPECT_EQ(obs[i], static_cast<float>(d->qpos[q] - m->key_qpos[home * m->nq + q])) << i;
    EXPECT_EQ(obs[nu + i], static_cast<float>(0.5 * d->qvel[m->jnt_dofadr[joint]])) << i;
    EXPECT_EQ(obs[2 * nu + i], std::clamp(action[i], -1.0f, 1.0f)) << i;
  }
  EXPECT_NE(obs[0], 0.0f);  // the joints moved away from home

  // a reset forgets the action
  env.Reset(2, obs.data());
  for (int i = 0; i < nu; ++i) EXPECT_EQ(obs[2 * nu + i], 0.0f) << i;
}

TEST_F(RobotObsTest, NoiseIsUniformWithinItsBoundAndFollowsTheSeed) {
  MjcfEnv env(Quadruped({{"joint_vel", "", 1.0, 0.1}, {"last_action", "", 1.0, 0.0}}));
  const int nu = env.spec().act_dim;
  std::vector<float> first(env.spec().obs_dim), again(env.spec().obs_dim);
  env.Reset(7, first.data());
  // at the keyframe every velocity is 0: what is seen is the noise alone
  int nonzero = 0;
  for (int i = 0; i < nu; ++i) {
    EXPECT_LE(std::abs(first[i]), 0.1f) << i;
    nonzero += first[i] != 0.0f;
    EXPECT_EQ(first[nu + i], 0.0f) << "a term without noise stays exact";
  }
  EXPECT_EQ(nonzero, nu);
  env.Reset(7, again.data());
  EXPECT_EQ(first, again);
  env.Reset(8, again.data());
  EXPECT_NE(first, again);
}

TEST_F(RobotObsTest, PositionActionsDriveTheServosFromTheKeyframePose) {
  for (const double scale : {0.25, 2.0}) {  // 2.0 reaches ctrlrange and forcerange
    SCOPED_TRACE(scale);
    EnvConfig config = Quadruped({});
    config.mjcf.action.mode = "position";
    config.mjcf.action.scale = scale;
    config.mjcf.reset_noise = 0.05;  // moving joints: the velocity term counts
    MjcfEnv env(config);
    const mjModel* m = env.model();
    const int nu = m->nu;
    const int home = Id(m, mjOBJ_KEY, "home");
    std::vector<float> obs(env.spec().obs_dim);
    std::vector<float> action(nu);
    for (int i = 0; i < nu; ++i) action[i] = std::sin(1.0 + i);
    env.Reset(4, obs.data());
    const mjData* d = env.data();
    const std::vector<double> q(d->qpos, d->qpos + m->nq), v(d->qvel, d->qvel + m->nv);
    env.Step(action.data(), obs.data());

    int clipped = 0, saturated = 0;
    for (int i = 0; i < nu; ++i) {
      const int joint = m->actuator_trnid[2 * i];
      const int qa = m->jnt_qposadr[joint], va = m->jnt_dofadr[joint];
      // the target: home's angle + scale * action, clipped to ctrlrange
      const double low = m->actuator_ctrlrange[2 * i], high = m->actuator_ctrlrange[2 * i + 1];
      const double wanted = m->key_qpos[home * m->nq + qa] + scale * action[i];
      const double target = std::clamp(wanted, low, high);
      clipped += target != wanted;
      EXPECT_DOUBLE_EQ(d->ctrl[i], target) << i;
      EXPECT_GE(env.spec().act_high[i], target);
      EXPECT_LE(env.spec().act_low[i], target);
      // the servo's force, from the state the step started at: kp (target - q) - kv qdot,
      // with the model's kp = 40 and kv = 1 (quadruped_robot.xml), clamped to forcerange
      ASSERT_EQ(m->actuator_gainprm[mjNGAIN * i], 40.0);
      ASSERT_EQ(m->actuator_biasprm[mjNBIAS * i + 2], -1.0);
      const double pd = 40.0 * (target - q[qa]) - 1.0 * v[va];
      const double force =
          std::clamp(pd, m->actuator_forcerange[2 * i], m->actuator_forcerange[2 * i + 1]);
      saturated += force != pd;
      EXPECT_NEAR(d->actuator_force[i], force, 1e-9) << i;
    }
    if (scale > 1) {
      EXPECT_GT(clipped, 0);
      EXPECT_GT(saturated, 0);
    }
  }
}

TEST_F(RobotObsTest, QuadrupedStandExperimentRuns) {
  const ExperimentConfig c =
      LoadExperiment(std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/quadruped_stand.yaml");
  MjcfEnv env(c.env);
  EXPECT_EQ(env.spec().obs_dim, 3 + 3 + 12 + 12 + 12);
  EXPECT_EQ(env.spec().obs_names[3], "gravity:imu[0]");
  const test::Trace trace = test::RecordTrace(env, 1, 50, 1);
  for (float x : trace.obs) ASSERT_TRUE(std::isfinite(x));
}

#define EXPECT_HAS(text, fragment) \
  EXPECT_NE((text).find(fragment), std::string::npos) << "in: " << (text)

TEST_F(RobotObsTest, UnknownNamesAndMotorsInPositionModeAreOneLineNamingTheKey) {
  EnvConfig config = Quadruped({{"gravity", "imu", 1.0, 0.0}, {"sensor", "imu_gyr", 1.0, 0.0}});
  std::string err = test::MjcfErrorOf(config);
  EXPECT_HAS(err, "env.mjcf.observations[1].sensor: no sensor 'imu_gyr' in " + config.mjcf.path +
                      "; sensors: imu_gyro, imu_acc");

  config.mjcf.observations = {{"joint_pos", "", 1.0, 0.0}, {"gravity", "head", 1.0, 0.0}};
  err = test::MjcfErrorOf(config);
  EXPECT_HAS(err, "env.mjcf.observations[1].gravity: no site or body 'head' in");
  EXPECT_HAS(err, "sites: imu");
  EXPECT_HAS(err, "bodies: world, trunk");

  config.mjcf.observations = {};
  config.mjcf.keyframe = "sit";
  err = test::MjcfErrorOf(config);
  EXPECT_HAS(err, "env.mjcf.keyframe: no keyframe 'sit' in " + config.mjcf.path +
                      "; keyframes: home, crouch");

  // the hopper's motors take torques, not positions
  config = EnvConfig();
  config.id = "mjcf";
  config.mjcf.path = AssetPath("hopper.xml");
  config.mjcf.action.mode = "position";
  err = test::MjcfErrorOf(config);
  EXPECT_HAS(err, "env.mjcf.action.mode: position needs every actuator to be a position servo");
  EXPECT_HAS(err, "actuator 'thigh' of " + config.mjcf.path);
  // a servo geared to another length: its control would not be a joint angle
  config.mjcf.path = testing::TempDir() + "/robofleet_geared_servo.xml";
  std::ofstream(config.mjcf.path) << R"(<mujoco>
  <worldbody><body name="b"><joint name="j" axis="0 1 0"/><geom size="0.1" mass="1"/></body>
  </worldbody>
  <actuator><position name="servo" joint="j" kp="10" gear="2"/></actuator>
</mujoco>
)";
  err = test::MjcfErrorOf(config);
  EXPECT_HAS(err, "actuator 'servo'");
  EXPECT_HAS(err, "use gear 1");
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  // torque mode is fine, with joint terms too
  config.mjcf.path = AssetPath("hopper.xml");
  config.mjcf.action.mode = "torque";
  config.mjcf.observations = {{"joint_pos", "", 1.0, 0.0}};
  EXPECT_EQ(MjcfEnv(config).spec().obs_dim, 3);
}

}  // namespace
}  // namespace robofleet::envs

namespace robofleet::envs {
namespace {

// The quadruped with joystick commands: every 0.2 s (50 control steps of
// 4 ms) a new one, observed as the only term.
EnvConfig Joystick(double standing_share) {
  EnvConfig config = Quadruped({{"command", "", 1.0, 0.0}});
  config.mjcf.commands.lin_vel_x = {-1.0, 1.0};
  config.mjcf.commands.lin_vel_y = {-0.5, 0.5};
  config.mjcf.commands.yaw_rate = {-2.0, 2.0};
  config.mjcf.commands.resample_s = 0.2;
  config.mjcf.commands.standing_share = standing_share;
  return config;
}

// The command observations of 200 steps of zero actions from `seed`.
std::vector<std::vector<float>> CommandsSeen(MjcfEnv& env, uint64_t seed) {
  std::vector<float> obs(env.spec().obs_dim), action(env.spec().act_dim, 0.0f);
  env.Reset(seed, obs.data());
  std::vector<std::vector<float>> seen{obs};
  for (int t = 0; t < 200; ++t) {
    env.Step(action.data(), obs.data());
    seen.push_back(obs);
  }
  return seen;
}

TEST_F(RobotObsTest, CommandsAreDrawnFromTheirRangesAndRedrawnOnTheInterval) {
  MjcfEnv env(Joystick(0.0));
  ASSERT_EQ(env.spec().obs_dim, 3);
  EXPECT_EQ(
      env.spec().obs_names,
      (std::vector<std::string>{"command:lin_vel_x", "command:lin_vel_y", "command:yaw_rate"}));
  ASSERT_EQ(env.commands().steps_per_draw(), 50);
  const std::vector<std::vector<float>> seen = CommandsSeen(env, 11);
  int changes = 0;
  for (size_t t = 0; t < seen.size(); ++t) {
    const std::vector<float>& c = seen[t];
    EXPECT_GE(c[0], -1.0f);
    EXPECT_LT(c[0], 1.0f);
    EXPECT_GE(c[1], -0.5f);
    EXPECT_LT(c[1], 0.5f);
    EXPECT_GE(c[2], -2.0f);
    EXPECT_LT(c[2], 2.0f);
    if (t == 0) continue;
    // a new command exactly at each 50th step, and only there
    const bool changed = c != seen[t - 1];
    EXPECT_EQ(changed, t % 50 == 0) << t;
    changes += changed;
  }
  EXPECT_EQ(changes, 4);
  // the observation is the command in force, which follows the seed alone
  const VelocityCommand now = env.command();
  EXPECT_FLOAT_EQ(seen.back()[0], static_cast<float>(now.lin_vel_x));
  EXPECT_FLOAT_EQ(seen.back()[2], static_cast<float>(now.yaw_rate));
  MjcfEnv again(Joystick(0.0));
  EXPECT_EQ(CommandsSeen(again, 11), seen);
  EXPECT_NE(CommandsSeen(again, 12), seen);
}

TEST_F(RobotObsTest, StandingShareCommandsStandingStill) {
  MjcfEnv always(Joystick(1.0));
  for (const std::vector<float>& c : CommandsSeen(always, 3)) {
    EXPECT_EQ(c, (std::vector<float>{0.0f, 0.0f, 0.0f}));
  }
  // a share of one half stands in about half of many draws
  const CommandSchedule schedule(Joystick(0.5).mjcf.commands, 0.004);
  int standing = 0;
  for (int segment = 0; segment < 2000; ++segment) {
    standing += schedule.At(7, segment * schedule.steps_per_draw()) == VelocityCommand{};
  }
  EXPECT_GT(standing, 900);
  EXPECT_LT(standing, 1100);
}

TEST_F(RobotObsTest, ARestoredEnvSeesTheSameCommands) {
  MjcfEnv a(Joystick(0.0)), b(Joystick(0.0));
  std::vector<float> obs_a(3), obs_b(3), action(a.spec().act_dim, 0.1f);
  a.Reset(5, obs_a.data());
  for (int t = 0; t < 30; ++t) a.Step(action.data(), obs_a.data());
  b.Reset(99, obs_b.data());
  b.LoadState(a.SaveState());
  for (int t = 0; t < 100; ++t) {
    a.Step(action.data(), obs_a.data());
    b.Step(action.data(), obs_b.data());
    ASSERT_EQ(obs_a, obs_b) << t;
  }
}

TEST_F(RobotObsTest, BadCommandSettingsAreOneLineNamingTheKey) {
  EnvConfig config = Joystick(0.0);
  config.mjcf.commands.lin_vel_x = {1.0, -1.0};
  EXPECT_HAS(test::MjcfErrorOf(config), "config key 'env.mjcf.commands.lin_vel_x' has low > high");
  config = Joystick(0.0);
  config.mjcf.commands.standing_share = 1.5;
  EXPECT_HAS(test::MjcfErrorOf(config), "env.mjcf.commands.standing_share");
  config = Joystick(0.0);
  config.mjcf.commands.resample_s = 0.0;
  EXPECT_HAS(test::MjcfErrorOf(config), "env.mjcf.commands.resample_s");
  // a command term with no commands to observe
  config = Quadruped({{"command", "", 1.0, 0.0}});
  EXPECT_HAS(test::MjcfErrorOf(config), "env.mjcf.observations[0].command");
}

}  // namespace
}  // namespace robofleet::envs

// The generic mjcf task's reward terms, terminations and pushes
// (env.mjcf.rewards, .termination, .push): each term against a calculation
// from MuJoCo's state by hand, the per-episode sums that become metrics, and
// the bad configs that must be refused.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/mjcf_env.h"
#include "envs/mujoco_env.h"
#include "envs/vector_env.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using test::WarningFreeTest;

// The quadruped from "home" with nothing rewarded: forward_weight is the
// only term on by default.
EnvConfig Quadruped() {
  EnvConfig config;
  config.id = "mjcf";
  config.mjcf.path = AssetPath("quadruped.xml");
  config.mjcf.body = "trunk";
  config.mjcf.keyframe = "home";
  config.mjcf.forward_weight = 0.0;
  config.mjcf.action.mode = "position";
  config.mjcf.action.scale = 0.25;
  config.mjcf.feet = {"FR_foot", "FL_foot", "RR_foot", "RL_foot"};
  config.frame_skip = 5;  // 50 Hz control
  return config;
}

// The weights of experiments/quadruped_joystick_flat.yaml, commands included.
EnvConfig Joystick() {
  EnvConfig config = Quadruped();
  config.mjcf.commands.lin_vel_x = {-1.0, 1.0};
  config.mjcf.commands.lin_vel_y = {-0.6, 0.6};
  config.mjcf.commands.yaw_rate = {-1.0, 1.0};
  config.mjcf.commands.resample_s = 0.5;
  MjcfRewardsConfig& r = config.mjcf.rewards;
  r.track_lin_vel.weight = 1.0;
  r.track_yaw_rate.weight = 0.5;
  r.lin_vel_z.weight = -2.0;
  r.ang_vel_xy.weight = -0.05;
  r.orientation.weight = -1.0;
  r.torques.weight = -2e-4;
  r.action_rate.weight = -0.01;
  r.joint_acc.weight = -2.5e-7;
  r.feet_air_time.weight = 1.0;
  r.foot_slip.weight = -0.1;
  r.contacts.weight = -1.0;
  r.contacts.bodies = {"FR_thigh", "FL_thigh", "RR_thigh", "RL_thigh"};
  r.stand_still.weight = -0.5;
  r.termination.weight = -50.0;
  config.mjcf.termination.max_tilt_deg = 60;
  config.mjcf.termination.contact_bodies = {"trunk"};
  config.mjcf.push.interval_s = 0.2;
  return config;
}

// v in the frame whose orientation is the unit quaternion q.
std::vector<double> IntoFrame(const double* q, const double* v) {
  double inverse[4], out[3];
  mju_negQuat(inverse, q);
  mju_rotVecQuat(out, v, inverse);
  return {out[0], out[1], out[2]};
}

using RobotRewardTest = WarningFreeTest;

TEST_F(RobotRewardTest, EachWeightedTermIsAnEpisodeInfoInTheConfigsOrder) {
  EnvConfig config = Quadruped();
  config.mjcf.rewards.termination.weight = -1.0;
  config.mjcf.rewards.track_lin_vel.weight = 2.0;
  config.mjcf.rewards.torques.weight = -1e-4;
  MjcfEnv env(config);
  EXPECT_EQ(
      env.spec().episode_info_names,
      (std::vector<std::string>{"reward/track_lin_vel", "reward/torques", "reward/termination"}));
  EXPECT_TRUE(MjcfEnv(Quadruped()).spec().episode_info_names.empty());
}

TEST_F(RobotRewardTest, EachTermIsItsFormulaOnTheStateTheStepLeft) {
  // one term at a time, weight 2, against the same quantity from mjData
  struct Case {
    const char* name;
    void (*enable)(MjcfRewardsConfig&);
  };
  const Case cases[] = {
      {"track_lin_vel", [](MjcfRewardsConfig& r) { r.track_lin_vel.weight = 2; }},
      {"track_yaw_rate", [](MjcfRewardsConfig& r) { r.track_yaw_rate.weight = 2; }},
      {"lin_vel_z", [](MjcfRewardsConfig& r) { r.lin_vel_z.weight = 2; }},
      {"ang_vel_xy", [](MjcfRewardsConfig& r) { r.ang_vel_xy.weight = 2; }},
      {"orientation", [](MjcfRewardsConfig& r) { r.orientation.weight = 2; }},
      {"base_height", [](MjcfRewardsConfig& r) { r.base_height.weight = 2; }},
      {"torques", [](MjcfRewardsConfig& r) { r.torques.weight = 2; }},
      {"action_rate", [](MjcfRewardsConfig& r) { r.action_rate.weight = 2; }},
      {"joint_acc", [](MjcfRewardsConfig& r) { r.joint_acc.weight = 2; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EnvConfig config = Quadruped();
    config.mjcf.commands.lin_vel_x = {-1.0, 1.0};
    config.mjcf.commands.yaw_rate = {-1.0, 1.0};
    config.mjcf.commands.resample_s = 0.1;  // the command changes within the trace
    config.mjcf.reset_noise = 0.05;
    c.enable(config.mjcf.rewards);
    MjcfEnv env(config);
    const mjModel* m = env.model();
    const double dt = env.spec().control_dt;
    std::vector<float> obs(env.spec().obs_dim), action(m->nu), previous(m->nu, 0.0f);
    test::RandomPolicy policy(3);
    env.Reset(11, obs.data());
    double magnitude = 0.0;
    for (int step = 0; step < 30; ++step) {
      policy.Fill(action);
      const std::vector<double> qvel_before(env.data()->qvel, env.data()->qvel + m->nv);
      const VelocityCommand cmd = env.command();  // what the policy sees for this step
      const StepResult result = env.Step(action.data(), obs.data());
      ASSERT_FALSE(result.terminated);
      const mjData* d = env.data();
      const double* quat = d->qpos + 3;
      const std::vector<double> v = IntoFrame(quat, d->qvel);
      const double* w = d->qvel + 3;
      const double down[3] = {0, 0, -1};
      const std::vector<double> g = IntoFrame(quat, down);
      double want = 0.0;
      const std::string name = c.name;
      if (name == "track_lin_vel") {
        const double ex = cmd.lin_vel_x - v[0], ey = cmd.lin_vel_y - v[1];
        want = std::exp(-(ex * ex + ey * ey) / 0.25);
      } else if (name == "track_yaw_rate") {
        want = std::exp(-(cmd.yaw_rate - w[2]) * (cmd.yaw_rate - w[2]) / 0.25);
      } else if (name == "lin_vel_z") {
        want = v[2] * v[2];
      } else if (name == "ang_vel_xy") {
        want = w[0] * w[0] + w[1] * w[1];
      } else if (name == "orientation") {
        want = g[0] * g[0] + g[1] * g[1];
      } else if (name == "base_height") {
        want = (d->qpos[2] - 0.3) * (d->qpos[2] - 0.3);
      } else if (name == "torques") {
        for (int i = 0; i < m->nu; ++i) want += d->actuator_force[i] * d->actuator_force[i];
      } else if (name == "action_rate") {
        for (int i = 0; i < m->nu; ++i) {
          want += (action[i] - previous[i]) * (action[i] - previous[i]);
        }
      } else if (name == "joint_acc") {
        for (int i = 0; i < m->nu; ++i) {
          const int dof = m->jnt_dofadr[m->actuator_trnid[2 * i]];
          const double acc = (d->qvel[dof] - qvel_before[dof]) / dt;
          want += acc * acc;
        }
      }
      EXPECT_NEAR(result.reward, 2.0 * want, 1e-5 * std::max(1.0, 2.0 * want)) << "step " << step;
      magnitude += std::abs(want);
      previous = action;
    }
    EXPECT_GT(magnitude, 1e-6) << "the term never moved: the check checks nothing";
  }
}

TEST_F(RobotRewardTest, TermSumsAddUpToTheEpisodesReturn) {
  EnvConfig config = Joystick();
  config.max_episode_steps = 60;
  VectorEnv venv(config, 4, 21);
  const int K = 4, D = venv.spec().obs_dim, A = venv.spec().act_dim;
  const size_t M = venv.spec().episode_info_names.size();
  ASSERT_EQ(M, 13u);  // every term but base_height
  std::vector<float> obs(K * D), actions(K * A), reward(K);
  std::vector<uint8_t> term(K), trunc(K);
  venv.Reset(obs.data());
  test::RandomPolicy policy(9);
  for (int step = 0; step < 130; ++step) {
    policy.Fill(actions);
    for (float& a : actions) a *= 0.3f;
    venv.Step(actions.data(), obs.data(), reward.data(), term.data(), trunc.data(), nullptr);
  }
  std::vector<float> info;
  const std::vector<VectorEnv::Episode> episodes = venv.TakeFinishedEpisodes(&info);
  ASSERT_GE(episodes.size(), 8u);
  ASSERT_EQ(info.size(), episodes.size() * M);
  std::vector<int> nonzero(M, 0);
  for (size_t e = 0; e < episodes.size(); ++e) {
    double sum = 0.0;
    for (size_t i = 0; i < M; ++i) {
      sum += info[e * M + i];
      nonzero[i] += info[e * M + i] != 0.0f;
    }
    EXPECT_NEAR(sum, episodes[e].ret, 1e-3 * std::max(1.0, std::abs(sum))) << "episode " << e;
  }
  // the terms that random actions on flat ground move, moved
  for (const char* name : {"reward/track_lin_vel", "reward/torques", "reward/action_rate",
                           "reward/joint_acc", "reward/orientation"}) {
    const auto& names = venv.spec().episode_info_names;
    const size_t i = std::find(names.begin(), names.end(), name) - names.begin();
    ASSERT_LT(i, M) << name;
    EXPECT_GT(nonzero[i], 0) << name;
  }
}

// A 1 kg ball (the foot) on a free body, dropped from `height` with a
// sideways speed, with one motor so that there is something to drive.
std::string DropModel(double height, double speed) {
  return "<mujoco><option timestep='0.002'/><worldbody>"
         "<geom name='floor' type='plane' size='0 0 1'/>"
         "<body name='base' pos='0 0 " +
         std::to_string(height) +
         "'><freejoint/><geom name='foot' type='sphere' size='0.05' mass='1'/>"
         "<body name='tail'><joint name='swing' type='hinge' axis='0 1 0'/>"
         "<geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01' mass='0.01' "
         "contype='0' conaffinity='0'/></body></body></worldbody>"
         "<actuator><motor joint='swing' gear='0.01'/></actuator>"
         "<keyframe><key name='drop' qpos='0 0 " +
         std::to_string(height) + " 1 0 0 0 0' qvel='" + std::to_string(speed) +
         " 0 0 0 0 0 0'/></keyframe></mujoco>";
}

EnvConfig Drop(const std::string& path) {
  EnvConfig config;
  config.id = "mjcf";
  config.mjcf.path = path;
  config.mjcf.body = "base";
  config.mjcf.keyframe = "drop";
  config.mjcf.forward_weight = 0.0;
  config.mjcf.feet = {"foot"};
  config.frame_skip = 5;  // 0.01 s control steps
  return config;
}

TEST_F(RobotRewardTest, AirTimeIsPaidOnceAtTouchDownAndSlipWhileSliding) {
  const double height = 0.25;  // the ball's bottom falls 0.2 m: 0.202 s
  const std::string path = test::WriteTempFile("drop.xml", DropModel(height, 1.0));
  EnvConfig config = Drop(path);
  config.mjcf.rewards.feet_air_time.weight = 1.0;
  config.mjcf.rewards.feet_air_time.target_s = 0.0;
  MjcfEnv air(config);
  config.mjcf.rewards.feet_air_time.weight = 0.0;
  config.mjcf.rewards.foot_slip.weight = 1.0;
  MjcfEnv slip(config);
  std::vector<float> obs(air.spec().obs_dim), action(1, 0.0f);
  air.Reset(1, obs.data());
  slip.Reset(1, obs.data());
  const double fall = std::sqrt(2 * (height - 0.05) / 9.81);
  int paid = 0;
  double slip_in_air = 0.0, slip_on_ground = 0.0;
  for (int step = 1; step <= 60; ++step) {
    const float r = air.Step(action.data(), obs.data()).reward;
    const float s = slip.Step(action.data(), obs.data()).reward;
    if (r != 0.0f) {
      ++paid;
      // the swing's length, to within the contact's detection lag
      EXPECT_NEAR(r, fall, 0.03) << "step " << step;
    }
    (paid == 0 ? slip_in_air : slip_on_ground) += s;
  }
  EXPECT_EQ(paid, 1);  // it bounced at most within the contact filter
  EXPECT_EQ(slip_in_air, 0.0);
  EXPECT_GT(slip_on_ground, 0.05);  // sliding at up to 1 m/s: 1 (m/s)^2 per step at most
}

TEST_F(RobotRewardTest, TiltAndContactsOfNamedBodiesEndTheEpisode) {
  std::vector<float> obs, action(12, 0.0f);
  // the result of step `n` with zero actions, or of the step that ended the episode
  const auto step_result = [&](const EnvConfig& config, int n) {
    MjcfEnv env(config);
    obs.resize(env.spec().obs_dim);
    env.Reset(5, obs.data());
    StepResult r;
    for (int i = 0; i < n && !r.terminated; ++i) r = env.Step(action.data(), obs.data());
    return r;
  };
  EnvConfig config = Quadruped();
  config.mjcf.reset_noise = 0.05;  // a tilted trunk
  config.mjcf.rewards.termination.weight = -7.0;
  StepResult r = step_result(config, 1);
  EXPECT_FALSE(r.terminated);
  EXPECT_EQ(r.reward, 0.0f);

  config.mjcf.termination.max_tilt_deg = 0.01;
  r = step_result(config, 1);
  EXPECT_TRUE(r.terminated);
  EXPECT_FALSE(r.diverged);
  EXPECT_EQ(r.reward, -7.0f);

  // standing at home: the calves hold the feet, which carry the robot
  config.mjcf.reset_noise = 0.0;
  config.mjcf.termination.max_tilt_deg = 0.0;
  config.mjcf.termination.contact_bodies = {"trunk"};
  EXPECT_FALSE(step_result(config, 10).terminated);
  config.mjcf.termination.contact_bodies = {"FR_calf"};
  EXPECT_TRUE(step_result(config, 10).terminated);

  // the contacts term counts the named bodies that touch
  config.mjcf.termination.contact_bodies = {};
  config.mjcf.rewards.termination.weight = 0.0;
  config.mjcf.rewards.contacts.weight = -1.0;
  config.mjcf.rewards.contacts.bodies = {"FR_calf", "RL_calf", "trunk"};
  EXPECT_EQ(step_result(config, 10).reward, -2.0f);
}

TEST_F(RobotRewardTest, PushesKickTheBaseOnTheirIntervalAsTheSeedSays) {
  EnvConfig config = Quadruped();
  config.mjcf.push.interval_s = 0.04;  // every second control step
  config.mjcf.push.max_vel = 1.0;
  MjcfEnv pushed(config), again(config);
  config.mjcf.push.interval_s = 0.0;
  MjcfEnv still(config);
  std::vector<float> obs(pushed.spec().obs_dim), action(12, 0.0f);
  for (MjcfEnv* env : {&pushed, &again, &still}) env->Reset(4, obs.data());
  double largest = 0.0;
  for (int step = 0; step < 6; ++step) {
    const double before_x = pushed.data()->qvel[0] - still.data()->qvel[0];
    for (MjcfEnv* env : {&pushed, &again, &still}) env->Step(action.data(), obs.data());
    for (int k = 0; k < pushed.model()->nv; ++k) {
      ASSERT_EQ(pushed.data()->qvel[k], again.data()->qvel[k]) << "the same seed pushes alike";
    }
    const double after_x = pushed.data()->qvel[0] - still.data()->qvel[0];
    if (step < 2) {
      EXPECT_EQ(after_x, 0.0) << "no push before the first interval";
    } else if (step == 2) {
      EXPECT_NE(after_x, 0.0) << "the push at step 2";
    }
    largest = std::max(largest, std::abs(after_x - before_x));
  }
  EXPECT_LE(largest, 1.0 + 0.2);  // at most max_vel, give or take a step of physics
}

TEST_F(RobotRewardTest, RestoredEnvKeepsItsTermsAndSums) {
  EnvConfig config = Joystick();
  config.max_episode_steps = 30;
  // saved mid-episode, feet in the air or not
  const test::VectorRun after = test::ExpectRestoresBitForBit(config, 2, 17, 40);
  EXPECT_FALSE(after.info.empty());
}

TEST_F(RobotRewardTest, RandomisationWorksWithTheTermsTerminationsAndPushes) {
  // every randomisation there is, on the joystick task with all its pieces
  EnvConfig config = Joystick();
  config.max_episode_steps = 40;
  RandomizeConfig& r = config.randomize;
  r.body_mass_scale = {0.8, 1.2};
  r.geom_friction_scale = {0.5, 1.5};
  r.joint_damping_scale = {0.8, 1.2};
  r.actuator_gain_scale = {0.8, 1.2};  // motor strength
  r.obs_noise = 0.01;
  r.action_noise = 0.05;
  r.action_delay = {0, 2};
  ASSERT_EQ(MjcfEnv(config).spec().episode_info_names.size(), 13u);
  // a randomised env restores bit for bit, model draws, delays and all
  const test::VectorRun after = test::ExpectRestoresBitForBit(config, 3, 50, 60, 0.5f);
  ASSERT_GE(after.episodes.size(), 3u);
  for (size_t e = 0; e < after.episodes.size(); ++e) {
    double sum = 0.0;
    for (size_t i = 0; i < 13; ++i) sum += after.info[e * 13 + i];
    EXPECT_NEAR(sum, after.episodes[e].ret, 1e-3 * std::max(1.0, std::abs(sum))) << e;
  }
}

TEST_F(RobotRewardTest, TermsThatCannotBeComputedAreRefusedNamingTheKey) {
  EnvConfig config = Quadruped();
  config.mjcf.feet = {"FR_foot", "nosuch"};
  EXPECT_NE(test::MjcfErrorOf(config).find(
                "env.mjcf.feet[1]: no geom or body with geoms called 'nosuch'"),
            std::string::npos)
      << test::MjcfErrorOf(config);

  config = Quadruped();
  config.mjcf.termination.contact_bodies = {"trunkk"};
  EXPECT_NE(
      test::MjcfErrorOf(config).find("env.mjcf.termination.contact_bodies[0]: no body 'trunkk'"),
      std::string::npos)
      << test::MjcfErrorOf(config);

  // hopper's torso moves on slide and hinge joints: no floating base to track
  config = EnvConfig();
  config.id = "mjcf";
  config.mjcf.path = AssetPath("hopper.xml");
  config.mjcf.body = "torso";
  config.mjcf.rewards.track_lin_vel.weight = 1.0;
  EXPECT_NE(test::MjcfErrorOf(config).find("env.mjcf.rewards.track_lin_vel: needs body 'torso'"),
            std::string::npos)
      << test::MjcfErrorOf(config);
  EXPECT_NE(test::MjcfErrorOf(config).find("free joint"), std::string::npos);
}

}  // namespace
}  // namespace robofleet::envs

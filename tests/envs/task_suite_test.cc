// Tests of the robot task suite: every task's spec and observation layout
// against its header, reward and termination rules, determinism, bad actions
// and divergence; then the generic mjcf task.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/ant.h"
#include "envs/arm_push.h"
#include "envs/arm_reach.h"
#include "envs/halfcheetah.h"
#include "envs/hopper.h"
#include "envs/humanoid.h"
#include "envs/mjcf_env.h"
#include "envs/mujoco_env.h"
#include "envs/reacher.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "envs/walker2d.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using test::RandomPolicy;
using test::RecordTrace;
using test::WarningFreeTest;

constexpr double kPi = 3.14159265358979323846;

// What each task's header promises.
struct TaskFacts {
  const char* id;
  int obs_dim;
  int act_dim;
  int frame_skip;
  double control_dt;
  int max_episode_steps;
  std::map<int, std::string> obs_names;  // a sample of index -> name
};

const std::vector<TaskFacts>& AllTasks() {
  static const std::vector<TaskFacts> tasks = {
      {"reacher",
       10,
       2,
       2,
       0.02,
       50,
       {{0, "shoulder_cos"},
        {3, "elbow_sin"},
        {4, "target_x"},
        {7, "elbow_vel"},
        {9, "tip_to_target_y"}}},
      {"hopper",
       11,
       3,
       4,
       0.008,
       1000,
       {{0, "rootz"}, {1, "rooty"}, {4, "foot_joint"}, {5, "rootx_vel"}, {10, "foot_joint_vel"}}},
      {"walker2d",
       17,
       6,
       4,
       0.008,
       1000,
       {{0, "rootz"},
        {2, "thigh_joint"},
        {5, "thigh_left_joint"},
        {8, "rootx_vel"},
        {16, "foot_left_joint_vel"}}},
      {"halfcheetah",
       17,
       6,
       5,
       0.05,
       1000,
       {{0, "rootz"}, {2, "bthigh"}, {7, "ffoot"}, {8, "rootx_vel"}, {16, "ffoot_vel"}}},
      {"ant",
       27,
       8,
       5,
       0.05,
       1000,
       {{0, "root_z"},
        {1, "root_qw"},
        {5, "hip_front_left"},
        {12, "ankle_back_right"},
        {13, "root_vx"},
        {16, "root_wx"},
        {19, "hip_front_left_vel"},
        {26, "ankle_back_right_vel"}}},
      {"humanoid",
       140,
       17,
       5,
       0.015,
       1000,
       {{0, "root_z"},
        {5, "abdomen_z"},
        {21, "left_elbow"},
        {22, "root_vx"},
        {44, "left_elbow_vel"},
        {45, "abdomen_y_force"},
        {61, "left_elbow_force"},
        {62, "torso_tx"},
        {67, "torso_fz"},
        {139, "left_lower_arm_fz"}}},
      {"arm_reach",
       38,
       7,
       5,
       0.02,
       200,
       {{0, "j1"},
        {7, "j1_vel"},
        {14, "ee_x"},
        {17, "ee_xaxis_x"},
        {20, "ee_zaxis_x"},
        {23, "target_x"},
        {26, "target_xaxis_x"},
        {32, "pos_error_x"},
        {37, "rot_error_z"}}},
      {"arm_push",
       34,
       7,
       5,
       0.02,
       250,
       {{0, "j1"},
        {14, "tip_x"},
        {17, "block_x"},
        {20, "block_qw"},
        {24, "block_vx"},
        {27, "target_x"},
        {29, "tip_to_block_x"},
        {32, "block_to_target_x"},
        {33, "block_to_target_y"}}},
  };
  return tasks;
}

EnvConfig TaskConfig(const std::string& id, int max_episode_steps = 0) {
  EnvConfig config;
  config.id = id;
  config.max_episode_steps = max_episode_steps;
  return config;
}

MujocoEnv& AsMujoco(Env& env) { return dynamic_cast<MujocoEnv&>(env); }

// The episode-ending rule each header states, as a function of the state.
bool Healthy(const std::string& id, const mjModel* m, const mjData& d) {
  if (id == "hopper") {
    for (int i = 2; i < m->nq; ++i) {
      if (std::fabs(d.qpos[i]) >= 100) return false;
    }
    for (int i = 0; i < m->nv; ++i) {
      if (std::fabs(d.qvel[i]) >= 100) return false;
    }
    return d.qpos[1] > 0.7 && std::fabs(d.qpos[2]) < 0.2;
  }
  if (id == "walker2d") {
    return d.qpos[1] > 0.8 && d.qpos[1] < 2.0 && d.qpos[2] > -1 && d.qpos[2] < 1;
  }
  if (id == "ant") return d.qpos[2] >= 0.2 && d.qpos[2] <= 1.0;
  if (id == "humanoid") return d.qpos[2] > 1.0 && d.qpos[2] < 2.0;
  if (id == "arm_push")
    return d.qpos[m->jnt_qposadr[mj_name2id(m, mjOBJ_JOINT, "block")] + 2] >= -0.1;
  return true;  // reacher, halfcheetah, arm_reach never end early
}

class TaskSuiteTest : public WarningFreeTest, public testing::WithParamInterface<TaskFacts> {};

TEST_P(TaskSuiteTest, SpecMatchesTheHeader) {
  const TaskFacts& facts = GetParam();
  std::unique_ptr<Env> env = MakeEnv(TaskConfig(facts.id));
  const EnvSpec& spec = env->spec();
  EXPECT_EQ(spec.id, facts.id);
  EXPECT_EQ(spec.obs_dim, facts.obs_dim);
  EXPECT_EQ(spec.act_dim, facts.act_dim);
  EXPECT_EQ(spec.frame_skip, facts.frame_skip);
  EXPECT_NEAR(spec.control_dt, facts.control_dt, 1e-12);
  EXPECT_EQ(spec.max_episode_steps, facts.max_episode_steps);
  ASSERT_EQ(spec.obs_names.size(), static_cast<size_t>(facts.obs_dim));
  for (const auto& [index, name] : facts.obs_names) EXPECT_EQ(spec.obs_names[index], name);
  // names are unique, so each one identifies an entry
  std::vector<std::string> sorted = spec.obs_names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(spec.act_names.size(), static_cast<size_t>(facts.act_dim));
}

// Every observation entry named after a joint holds that joint's position or
// (NAME_vel, NAME_vx.._wz) velocity; the velocity clip of hopper and walker2d
// is the only transformation allowed.
TEST_P(TaskSuiteTest, JointEntriesOfTheObservationHoldTheState) {
  const TaskFacts& facts = GetParam();
  std::unique_ptr<Env> env = MakeEnv(TaskConfig(facts.id));
  const mjModel* m = AsMujoco(*env).model();
  const mjData* d = AsMujoco(*env).data();
  const double clip =
      std::string(facts.id) == "hopper" || std::string(facts.id) == "walker2d" ? 10.0 : INFINITY;
  // expected value of each name, from the state
  const auto expected = [&](const std::string& name, double* value) {
    static const char* const kFree[] = {"_x", "_y", "_z", "_qw", "_qx", "_qy", "_qz"};
    static const char* const kFreeVel[] = {"_vx", "_vy", "_vz", "_wx", "_wy", "_wz"};
    for (int j = 0; j < m->njnt; ++j) {
      const std::string joint = mj_id2name(m, mjOBJ_JOINT, j);
      const int q = m->jnt_qposadr[j], v = m->jnt_dofadr[j];
      if (m->jnt_type[j] == mjJNT_FREE) {
        for (int k = 0; k < 7; ++k) {
          if (name == joint + kFree[k]) return *value = d->qpos[q + k], true;
        }
        for (int k = 0; k < 6; ++k) {
          if (name == joint + kFreeVel[k])
            return *value = std::clamp(d->qvel[v + k], -clip, clip), true;
        }
      } else {
        if (name == joint) return *value = d->qpos[q], true;
        if (name == joint + "_vel") return *value = std::clamp(d->qvel[v], -clip, clip), true;
      }
    }
    return false;
  };
  std::vector<float> obs(env->spec().obs_dim), action(env->spec().act_dim);
  RandomPolicy policy(4);
  env->Reset(3, obs.data());
  int checked = 0;
  for (int t = 0; t < 30; ++t) {
    policy.Fill(action);
    if (env->Step(action.data(), obs.data()).terminated) env->Reset(100 + t, obs.data());
    for (int i = 0; i < env->spec().obs_dim; ++i) {
      double value;
      if (!expected(env->spec().obs_names[i], &value)) continue;
      ASSERT_EQ(obs[i], static_cast<float>(value)) << env->spec().obs_names[i] << " step " << t;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST_P(TaskSuiteTest, TerminatesExactlyWhenTheHeaderSaysAndTruncatesAtTheLimit) {
  const TaskFacts& facts = GetParam();
  constexpr int kLimit = 60;
  std::unique_ptr<Env> env = MakeEnv(TaskConfig(facts.id, kLimit));
  const mjModel* m = AsMujoco(*env).model();
  const mjData* d = AsMujoco(*env).data();
  std::vector<float> obs(env->spec().obs_dim), action(env->spec().act_dim);
  RandomPolicy policy(5);
  int terminations = 0, truncations = 0;
  for (uint64_t episode = 0; episode < 6; ++episode) {
    env->Reset(episode, obs.data());
    for (int t = 1;; ++t) {
      policy.Fill(action);
      const StepResult r = env->Step(action.data(), obs.data());
      ASSERT_FALSE(r.diverged);
      ASSERT_EQ(r.terminated, !Healthy(facts.id, m, *d)) << "episode " << episode << " step " << t;
      ASSERT_EQ(r.truncated, !r.terminated && t == kLimit) << "step " << t;
      for (float x : obs) ASSERT_TRUE(std::isfinite(x));
      if (r.terminated || r.truncated) {
        terminations += r.terminated;
        truncations += r.truncated;
        break;
      }
    }
  }
  EXPECT_EQ(terminations + truncations, 6);
}

TEST_P(TaskSuiteTest, SameSeedGivesBitIdenticalTrajectories) {
  const TaskFacts& facts = GetParam();
  std::unique_ptr<Env> a = MakeEnv(TaskConfig(facts.id, 40));
  std::unique_ptr<Env> b = MakeEnv(TaskConfig(facts.id, 40));
  const test::Trace first = RecordTrace(*a, 11, 120, 7);
  EXPECT_TRUE(first == RecordTrace(*b, 11, 120, 7));
  EXPECT_TRUE(first == RecordTrace(*a, 11, 120, 7)) << "state leaked between episodes";
  EXPECT_FALSE(first == RecordTrace(*a, 12, 120, 7)) << "the seed must matter";
}

TEST_P(TaskSuiteTest, NonFiniteActionThrowsNamingEnvAndIndex) {
  const TaskFacts& facts = GetParam();
  std::unique_ptr<Env> env = MakeEnv(TaskConfig(facts.id));
  std::vector<float> obs(env->spec().obs_dim), action(env->spec().act_dim, 0.0f);
  env->Reset(1, obs.data());
  action.back() = std::nanf("");
  try {
    env->Step(action.data(), obs.data());
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(facts.id), std::string::npos) << what;
    EXPECT_NE(what.find("action[" + std::to_string(facts.act_dim - 1) + "]"), std::string::npos)
        << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Tasks, TaskSuiteTest, testing::ValuesIn(AllTasks()),
                         [](const testing::TestParamInfo<TaskFacts>& param_info) {
                           return std::string(param_info.param.id);
                         });

// ---------------------------------------------------------------------------
// divergence: a task started with absurd velocities ends its first step as a
// diverged termination with a finite observation, and the vector env counts it

template <class Task>
class Blowup : public Task {
 public:
  using Task::Task;

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override {
    Task::InitializeEpisode(data, rng);
    for (int i = 0; i < this->model()->nv; ++i) data->qvel[i] = 1e12;
  }
};

template <class Task>
void ExpectDivergenceEndsEpisodes(const std::string& id) {
  InstallMujocoHandlers();
  std::vector<std::unique_ptr<Env>> envs;
  envs.push_back(std::make_unique<Blowup<Task>>(TaskConfig(id)));
  envs.push_back(std::make_unique<Blowup<Task>>(TaskConfig(id)));
  VectorEnv venv(std::move(envs), 1);
  const int obs_dim = venv.spec().obs_dim;
  std::vector<float> obs(2 * obs_dim), actions(2 * venv.spec().act_dim, 0.0f), reward(2);
  std::vector<uint8_t> terminated(2), truncated(2);
  venv.Reset(obs.data());
  for (int t = 0; t < 3; ++t) {
    venv.Step(actions.data(), obs.data(), reward.data(), terminated.data(), truncated.data(),
              nullptr);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(terminated[i], 1) << id << " step " << t;
      EXPECT_EQ(truncated[i], 0) << id;
      EXPECT_EQ(reward[i], 0.0f) << id;
    }
  }
  EXPECT_EQ(venv.diverged_episodes(), 6) << id;
  for (const VectorEnv::Episode& e : venv.TakeFinishedEpisodes()) EXPECT_TRUE(e.diverged) << id;
}

TEST(TaskDivergenceTest, DivergedSimulationTerminatesAndIsCounted) {
  ExpectDivergenceEndsEpisodes<Reacher>("reacher");
  ExpectDivergenceEndsEpisodes<Hopper>("hopper");
  ExpectDivergenceEndsEpisodes<Walker2d>("walker2d");
  ExpectDivergenceEndsEpisodes<HalfCheetah>("halfcheetah");
  ExpectDivergenceEndsEpisodes<Ant>("ant");
  ExpectDivergenceEndsEpisodes<Humanoid>("humanoid");
  ExpectDivergenceEndsEpisodes<ArmReach>("arm_reach");
  ExpectDivergenceEndsEpisodes<ArmPush>("arm_push");
}

// ---------------------------------------------------------------------------
// rewards, term by term, recomputed from the state

// Steps `env` with random actions and calls check(action, reward, position
// of `body` before the step) after each step.
template <class Check>
void ForEachStep(Env& env, const std::string& body, bool subtree_com, int steps, Check check) {
  MujocoEnv& menv = AsMujoco(env);
  const int b = mj_name2id(menv.model(), mjOBJ_BODY, body.c_str());
  ASSERT_GE(b, 0) << body;
  std::vector<float> obs(env.spec().obs_dim), action(env.spec().act_dim);
  RandomPolicy policy(21);
  env.Reset(2, obs.data());
  for (int t = 0; t < steps; ++t) {
    policy.Fill(action);
    const double* p = subtree_com ? menv.data()->subtree_com : menv.data()->xpos;
    const double before[3] = {p[3 * b], p[3 * b + 1], p[3 * b + 2]};
    const StepResult r = env.Step(action.data(), obs.data());
    check(action, static_cast<double>(r.reward), before, p + 3 * b, obs);
    if (r.terminated || r.truncated) env.Reset(3 + t, obs.data());
  }
}

double SumSquares(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += static_cast<double>(x) * x;
  return s;
}

struct LocomotionReward {
  const char* id;
  double forward_weight, healthy_reward, ctrl_cost_weight, contact_cost_weight;
  bool subtree_com;
};

using LocomotionRewardTest = WarningFreeTest;

TEST_F(LocomotionRewardTest, RewardIsForwardVelocityPlusHealthyMinusCosts) {
  for (const LocomotionReward& spec : {LocomotionReward{"hopper", 1, 1, 1e-3, 0, false},
                                       LocomotionReward{"walker2d", 1, 1, 1e-3, 0, false},
                                       LocomotionReward{"halfcheetah", 1, 0, 0.1, 0, false},
                                       LocomotionReward{"ant", 1, 1, 0.5, 5e-4, false},
                                       LocomotionReward{"humanoid", 1.25, 5, 0.016, 0, true}}) {
    std::unique_ptr<Env> env = MakeEnv(TaskConfig(spec.id));
    const mjModel* m = AsMujoco(*env).model();
    const mjData* d = AsMujoco(*env).data();
    const double dt = env->spec().control_dt;
    ForEachStep(*env, "torso", spec.subtree_com, 40,
                [&](const std::vector<float>& action, double reward, const double* before,
                    const double* after, const std::vector<float>&) {
                  double contact = 0.0;
                  for (int i = 6; i < 6 * m->nbody; ++i) {
                    const double f = std::clamp(d->cfrc_ext[i], -1.0, 1.0);
                    contact += f * f;
                  }
                  const double expected = spec.forward_weight * (after[0] - before[0]) / dt +
                                          spec.healthy_reward -
                                          spec.ctrl_cost_weight * SumSquares(action) -
                                          spec.contact_cost_weight * contact;
                  ASSERT_NEAR(reward, expected, 1e-4 * (1 + std::fabs(expected))) << spec.id;
                });
  }
}

using ReacherTest = WarningFreeTest;

TEST_F(ReacherTest, ObservationAndRewardFollowTheTipAndTarget) {
  Reacher env(TaskConfig("reacher"));
  const mjData* d = env.data();
  const int tip = mj_name2id(env.model(), mjOBJ_BODY, "fingertip");
  std::vector<float> obs(10);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    env.Reset(seed, obs.data());
    EXPECT_LT(std::hypot(obs[4], obs[5]), 0.2f);  // target in the disc
    EXPECT_LE(std::fabs(std::atan2(obs[2], obs[0])), 0.1 + 1e-6);
  }
  ForEachStep(env, "fingertip", false, 60,
              [&](const std::vector<float>& action, double reward, const double*, const double*,
                  const std::vector<float>& o) {
                const double dx = d->xpos[3 * tip] - d->mocap_pos[0];
                const double dy = d->xpos[3 * tip + 1] - d->mocap_pos[1];
                ASSERT_FLOAT_EQ(o[0], static_cast<float>(std::cos(d->qpos[0])));
                ASSERT_FLOAT_EQ(o[3], static_cast<float>(std::sin(d->qpos[1])));
                ASSERT_FLOAT_EQ(o[8], static_cast<float>(dx));
                ASSERT_FLOAT_EQ(o[9], static_cast<float>(dy));
                ASSERT_NEAR(reward, -std::hypot(dx, dy) - SumSquares(action), 1e-5);
              });
}

using ArmReachTest = WarningFreeTest;

TEST_F(ArmReachTest, TargetsAreHighEnoughAndErrorsAreConsistent) {
  ArmReach env(TaskConfig("arm_reach"));
  std::vector<float> obs(38);
  for (uint64_t seed = 0; seed < 30; ++seed) {
    env.Reset(seed, obs.data());
    EXPECT_GE(obs[25], 0.15f);  // target z
    // the target's axes are a rotation's columns: unit and orthogonal
    const float* x = &obs[26];
    const float* z = &obs[29];
    EXPECT_NEAR(x[0] * x[0] + x[1] * x[1] + x[2] * x[2], 1.0f, 1e-5f);
    EXPECT_NEAR(x[0] * z[0] + x[1] * z[1] + x[2] * z[2], 0.0f, 1e-5f);
  }
  ForEachStep(env, "link7", false, 50,
              [&](const std::vector<float>&, double reward, const double*, const double*,
                  const std::vector<float>& o) {
                double speed = 0.0;
                for (int i = 7; i < 14; ++i) speed += static_cast<double>(o[i]) * o[i];
                double pos = 0.0, rot = 0.0;
                for (int k = 0; k < 3; ++k) {
                  ASSERT_NEAR(o[32 + k], o[23 + k] - o[14 + k], 1e-6);
                  pos += static_cast<double>(o[32 + k]) * o[32 + k];
                  rot += static_cast<double>(o[35 + k]) * o[35 + k];
                }
                ASSERT_LE(std::sqrt(rot), kPi + 1e-5);
                ASSERT_NEAR(reward, -std::sqrt(pos) - 0.1 * std::sqrt(rot) - 1e-4 * speed, 1e-4);
              });
}

// Servoing the arm to the joint angles of the target pose puts the end
// effector on the target: the error terms vanish there, with the right signs.
class ArmReachKnownTarget : public ArmReach {
 public:
  using ArmReach::ArmReach;
  static constexpr double kPose[7] = {0.6, 0.8, -0.4, 1.2, 0.5, 0.9, -0.7};

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override {
    ArmReach::InitializeEpisode(data, rng);
    // replace the drawn target by the end-effector pose of kPose
    std::vector<double> start(data->qpos, data->qpos + 7);
    std::copy(kPose, kPose + 7, data->qpos);
    mj_kinematics(model(), data);
    const int site = mj_name2id(model(), mjOBJ_SITE, "end_effector");
    std::copy(data->site_xpos + 3 * site, data->site_xpos + 3 * site + 3, data->mocap_pos);
    mju_mat2Quat(data->mocap_quat, data->site_xmat + 9 * site);
    std::copy(start.begin(), start.end(), data->qpos);
  }
};

TEST_F(ArmReachTest, ServoingToTheTargetPoseZeroesTheErrors) {
  ArmReachKnownTarget env(TaskConfig("arm_reach"));
  const mjModel* m = env.model();
  std::vector<float> obs(38), action(7);
  env.Reset(0, obs.data());
  const double start_error = std::sqrt(obs[32] * obs[32] + obs[33] * obs[33] + obs[34] * obs[34]);
  EXPECT_GT(start_error, 0.1);
  for (int i = 0; i < 7; ++i) {
    const double low = m->actuator_ctrlrange[2 * i], high = m->actuator_ctrlrange[2 * i + 1];
    action[i] =
        static_cast<float>((2 * ArmReachKnownTarget::kPose[i] - (low + high)) / (high - low));
  }
  StepResult r;
  for (int t = 0; t < 100; ++t) r = env.Step(action.data(), obs.data());
  // gravity makes the servos sag a little
  EXPECT_LT(std::sqrt(obs[32] * obs[32] + obs[33] * obs[33] + obs[34] * obs[34]), 0.02);
  EXPECT_LT(std::sqrt(obs[35] * obs[35] + obs[36] * obs[36] + obs[37] * obs[37]), 0.05);
  EXPECT_GT(r.reward, -0.03f);
}

using ArmPushTest = WarningFreeTest;

TEST_F(ArmPushTest, StartsAsTheHeaderSaysAndRewardsFollowTheBlock) {
  ArmPush env(TaskConfig("arm_push"));
  std::vector<float> obs(34);
  for (uint64_t seed = 0; seed < 30; ++seed) {
    env.Reset(seed, obs.data());
    EXPECT_GE(obs[17], 0.45f);
    EXPECT_LE(obs[17], 0.6f);
    EXPECT_LE(std::fabs(obs[18]), 0.15f);
    EXPECT_NEAR(obs[19], 0.025f, 1e-6f);
    EXPECT_GE(std::hypot(obs[32], obs[33]), 0.15f);
    EXPECT_GE(obs[27], 0.35f);
    EXPECT_LE(obs[27], 0.7f);
    EXPECT_LE(std::fabs(obs[28]), 0.3f);
  }
  ForEachStep(env, "block", false, 60,
              [&](const std::vector<float>&, double reward, const double*, const double*,
                  const std::vector<float>& o) {
                double speed = 0.0;
                for (int i = 7; i < 14; ++i) speed += static_cast<double>(o[i]) * o[i];
                for (int k = 0; k < 3; ++k) ASSERT_NEAR(o[29 + k], o[17 + k] - o[14 + k], 1e-6);
                for (int k = 0; k < 2; ++k) ASSERT_NEAR(o[32 + k], o[27 + k] - o[17 + k], 1e-6);
                const double expected =
                    -std::hypot(o[32], o[33]) -
                    0.5 * std::sqrt(o[29] * o[29] + o[30] * o[30] + o[31] * o[31]) - 1e-4 * speed;
                ASSERT_NEAR(reward, expected, 1e-4);
              });
}

// the block placed beyond the table's edge falls, which ends the episode
class ArmPushBlockOffTable : public ArmPush {
 public:
  using ArmPush::ArmPush;

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override {
    ArmPush::InitializeEpisode(data, rng);
    const int block = mj_name2id(model(), mjOBJ_JOINT, "block");
    data->qpos[model()->jnt_qposadr[block]] = 1.5;
  }
};

TEST_F(ArmPushTest, BlockFallingOffTheTableTerminates) {
  ArmPushBlockOffTable env(TaskConfig("arm_push"));
  std::vector<float> obs(34), action(7, 0.0f);
  env.Reset(1, obs.data());
  StepResult r;
  int steps = 0;
  while (!r.terminated && !r.truncated) {
    r = env.Step(action.data(), obs.data());
    ++steps;
  }
  EXPECT_TRUE(r.terminated);
  EXPECT_FALSE(r.diverged);
  EXPECT_LT(obs[19], -0.1f);
  EXPECT_LT(steps, 50);
}

// ---------------------------------------------------------------------------
// the generic mjcf task

EnvConfig MjcfConfig(const std::string& file) {
  EnvConfig config;
  config.id = "mjcf";
  config.mjcf.path = AssetPath(file);
  return config;
}

using MjcfEnvTest = WarningFreeTest;

TEST_F(MjcfEnvTest, ObservationLayoutFollowsTheOptions) {
  EnvConfig config = MjcfConfig("hopper.xml");
  std::unique_ptr<Env> env = MakeEnv(config);
  // qpos without rootx (5), qvel (6)
  EXPECT_EQ(env->spec().obs_dim, 11);
  EXPECT_EQ(env->spec().obs_names.front(), "rootz");
  EXPECT_EQ(env->spec().obs_names[5], "rootx_vel");
  EXPECT_EQ(env->spec().frame_skip, 1);
  EXPECT_EQ(env->spec().max_episode_steps, 1000);

  config.mjcf.obs_root_xy = true;
  config.mjcf.obs_actuator_forces = true;
  config.mjcf.obs_contact_forces = true;
  env = MakeEnv(config);
  EXPECT_EQ(env->spec().obs_dim, 6 + 6 + 3 + 6 * 4);
  EXPECT_EQ(env->spec().obs_names.front(), "rootx");
  EXPECT_EQ(env->spec().obs_names[12], "thigh_force");
  EXPECT_EQ(env->spec().obs_names[15], "torso_tx");

  // a free root loses its x and y
  env = MakeEnv(MjcfConfig("ant.xml"));
  EXPECT_EQ(env->spec().obs_dim, 13 + 14);
  EXPECT_EQ(env->spec().obs_names.front(), "root_z");
}

TEST_F(MjcfEnvTest, HopperTermsReproduceTheHopperTask) {
  EnvConfig config = MjcfConfig("hopper.xml");
  config.frame_skip = 4;
  config.mjcf.body = "torso";
  config.mjcf.forward_weight = 1.0;
  config.mjcf.alive_bonus = 1.0;
  config.mjcf.ctrl_cost_weight = 1e-3;
  config.mjcf.reset_noise = 5e-3;
  config.mjcf.healthy_height = {0.7, 100.0};
  std::unique_ptr<Env> generic = MakeEnv(config);
  std::unique_ptr<Env> hopper = MakeEnv(TaskConfig("hopper"));
  std::vector<float> obs_a(11), obs_b(11), action(3);
  generic->Reset(5, obs_a.data());
  hopper->Reset(5, obs_b.data());
  EXPECT_EQ(obs_a, obs_b);
  RandomPolicy policy(6);
  for (int t = 0; t < 10; ++t) {
    policy.Fill(action);
    const StepResult a = generic->Step(action.data(), obs_a.data());
    const StepResult b = hopper->Step(action.data(), obs_b.data());
    ASSERT_EQ(a.reward, b.reward) << t;
    ASSERT_EQ(a.terminated, false);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(obs_a[i], obs_b[i]) << t;
  }
}

TEST_F(MjcfEnvTest, HeightUprightAndContactTerms) {
  EnvConfig config = MjcfConfig("hopper.xml");
  config.mjcf.body = "torso";
  config.mjcf.forward_weight = 0.0;
  config.mjcf.height_weight = 2.0;
  config.mjcf.upright_weight = 0.5;
  config.mjcf.contact_cost_weight = 1e-3;
  MjcfEnv env(config);
  const mjData* d = env.data();
  const mjModel* m = env.model();
  const int torso = mj_name2id(m, mjOBJ_BODY, "torso");
  std::vector<float> obs(env.spec().obs_dim), action(3, 0.0f);
  env.Reset(0, obs.data());
  double touched = 0.0;
  for (int t = 0; t < 300; ++t) {
    const StepResult r = env.Step(action.data(), obs.data());
    double contact = 0.0;
    for (int i = 6; i < 6 * m->nbody; ++i) contact += d->cfrc_ext[i] * d->cfrc_ext[i];
    touched += contact;
    const double expected =
        2.0 * d->xpos[3 * torso + 2] + 0.5 * d->xmat[9 * torso + 8] - 1e-3 * contact;
    ASSERT_NEAR(r.reward, expected, 1e-4 * (1 + std::fabs(expected))) << t;
    if (r.terminated || r.truncated) break;
  }
  EXPECT_GT(touched, 0.0) << "the hopper should land on the floor";
}

TEST_F(MjcfEnvTest, LeavingTheHealthyHeightTerminates) {
  EnvConfig config = MjcfConfig("hopper.xml");
  config.mjcf.body = "torso";
  config.mjcf.healthy_height = {1.2, 2.0};
  MjcfEnv env(config);
  const int torso = mj_name2id(env.model(), mjOBJ_BODY, "torso");
  std::vector<float> obs(env.spec().obs_dim), action(3, 0.0f);
  env.Reset(0, obs.data());
  StepResult r;
  int steps = 0;
  while (!r.terminated && !r.truncated) {
    r = env.Step(action.data(), obs.data());
    ++steps;
    ASSERT_EQ(r.terminated, env.data()->xpos[3 * torso + 2] < 1.2) << steps;
  }
  EXPECT_TRUE(r.terminated);
  EXPECT_LT(steps, 1000);
}

TEST_F(MjcfEnvTest, AnyModelFileRuns) {
  const std::string path = test::WriteTempFile("pendulum.xml", R"(
<mujoco model="pendulum">
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="swing" type="hinge" axis="0 1 0" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.02" mass="1"/>
    </body>
  </worldbody>
  <actuator><motor joint="swing" ctrllimited="true" ctrlrange="-2 2"/></actuator>
</mujoco>)");
  EnvConfig config;
  config.id = "mjcf";
  config.mjcf.path = path;
  config.mjcf.forward_weight = 0.0;
  config.mjcf.alive_bonus = 1.0;
  config.max_episode_steps = 20;
  std::unique_ptr<Env> env = MakeEnv(config);
  EXPECT_EQ(env->spec().obs_names, (std::vector<std::string>{"swing", "swing_vel"}));
  const test::Trace trace = RecordTrace(*env, 1, 20, 1);
  for (float r : trace.rewards) EXPECT_FLOAT_EQ(r, 1.0f);
  EXPECT_EQ(trace.flags.back(), 1);  // truncated at the limit
}

TEST_F(MjcfEnvTest, BadPathOrModelIsOneLineNamingTheKey) {
  EnvConfig config;
  config.id = "mjcf";
  const auto expect_error = [&](std::initializer_list<std::string> fragments) {
    try {
      MakeEnv(config);
      ADD_FAILURE() << "expected UserError for " << config.mjcf.path;
    } catch (const UserError& e) {
      const std::string what = e.what();
      for (const std::string& f : fragments) EXPECT_NE(what.find(f), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  config.mjcf.path = testing::TempDir() + "/robofleet_no_such_robot.xml";
  expect_error({"env.mjcf.path: cannot read the MJCF file", config.mjcf.path});
  // a file MuJoCo cannot compile: its own words, on one line
  config.mjcf.path = testing::TempDir() + "/robofleet_broken_robot.xml";
  std::ofstream(config.mjcf.path) << "<mujoco><worldbody><body></worldbody></mujoco>\n";
  expect_error({config.mjcf.path, "failed to load"});
  // a robot with nothing to drive
  config.mjcf.path = testing::TempDir() + "/robofleet_still_robot.xml";
  std::ofstream(config.mjcf.path) << "<mujoco><worldbody><body name=\"b\"><joint type=\"slide\"/>"
                                     "<geom size=\"0.1\"/></body></worldbody></mujoco>\n";
  expect_error({"env.mjcf.path", "no actuators"});
  config.mjcf.path = "";
  try {
    MakeEnv(config);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("env.mjcf.path"), std::string::npos) << e.what();
  }
}

// Robot files written for MuJoCo 3 use options that 2.x's schema refuses
// ("unrecognized attribute: 'ls_iterations'"): they must load and take effect.
TEST_F(MjcfEnvTest, LoadsAModelThatUsesMujoco3Options) {
  EnvConfig config;
  config.id = "mjcf";
  config.mjcf.path = testing::TempDir() + "/robofleet_mujoco3_robot.xml";
  std::ofstream(config.mjcf.path) << R"(<mujoco>
  <compiler angle="radian"/>
  <option timestep="0.004" gravity="0 0 0" iterations="4" ls_iterations="7">
    <flag eulerdamp="disable"/>
  </option>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body name="base" pos="0 0 0.3">
      <freejoint/>
      <geom type="box" size="0.2 0.1 0.05" mass="5"/>
      <body name="leg" pos="0.2 0 0">
        <joint name="hip" axis="0 1 0" range="-1 1" actuatorfrcrange="-20 20"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.2" size="0.02"/>
      </body>
    </body>
  </worldbody>
  <actuator><position name="hip" joint="hip" kp="30" kv="1" ctrlrange="-1 1"/></actuator>
</mujoco>
)";
  MjcfEnv env(config);
  EXPECT_EQ(env.model()->opt.ls_iterations, 7);
  EXPECT_NE(env.model()->opt.disableflags & mjDSBL_EULERDAMP, 0);
  EXPECT_EQ(env.model()->jnt_actfrclimited[1], 1);
  std::vector<float> obs(env.spec().obs_dim), action(1, 0.5f);
  env.Reset(0, obs.data());
  for (int t = 0; t < 500; ++t) {
    const StepResult r = env.Step(action.data(), obs.data());
    ASSERT_FALSE(r.diverged) << t;
  }
  // weightless, the position actuator holds the hip at its target
  EXPECT_NEAR(env.data()->qpos[7], 0.5, 0.02);
}

TEST_F(MjcfEnvTest, UnknownBodyListsTheBodies) {
  EnvConfig config = MjcfConfig("hopper.xml");
  config.mjcf.body = "chassis";
  try {
    MakeEnv(config);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'chassis'"), std::string::npos) << what;
    EXPECT_NE(what.find("torso"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace robofleet::envs

// Tests of the envs library: the MuJoCo base class (with tiny inline
// models), the cart-pole task, the registry and the vector env.
#include "envs/env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "envs/cartpole_swingup.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "envs/rewards.h"
#include "envs/vector_env.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using test::RandomPolicy;
using test::WarningFreeTest;
using test::WriteTempFile;

// a slider driven by one ranged and one unlimited motor
constexpr char kSliderXml[] = R"(
<mujoco model="slider">
  <option timestep="0.01"/>
  <worldbody>
    <body name="block">
      <joint name="x" type="slide" axis="1 0 0"/>
      <geom type="sphere" size="0.1" mass="1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="ranged" joint="x" ctrllimited="true" ctrlrange="2 6"/>
    <motor name="" joint="x" ctrllimited="false"/>
  </actuator>
</mujoco>
)";

// a spring far too stiff for explicit integration at this timestep
constexpr char kExplodingXml[] = R"(
<mujoco model="exploding">
  <option timestep="0.01"/>
  <worldbody>
    <body name="block">
      <joint name="x" type="slide" axis="1 0 0" stiffness="1e8"/>
      <geom type="sphere" size="0.1" mass="1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="push" joint="x" ctrllimited="true" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
)";

// a box that falls onto the floor with too little arena for its contacts:
// MuJoCo raises an error inside mj_step when the contacts appear
constexpr char kStackOverflowXml[] = R"(
<mujoco model="overflow">
  <size memory="1K"/>
  <worldbody>
    <geom type="plane" size="5 5 0.1"/>
    <body pos="0 0 0.3">
      <freejoint/>
      <geom type="box" size="0.1 0.1 0.1"/>
    </body>
  </worldbody>
</mujoco>
)";

// a minimal task over the first joint: obs (q, v), reward = first action
class TinyEnv : public MujocoEnv {
 public:
  TinyEnv(const EnvConfig& config, const std::string& path, double initial_q)
      : MujocoEnv(config, TaskInfo{"tiny", path, 1, {"q", "v"}}), initial_q_(initial_q) {}

 protected:
  void InitializeEpisode(mjData* data, EnvRandom& rng) override {
    data->qpos[0] = initial_q_ + 1e-3 * rng.Normal();
  }
  void WriteObservation(const mjData& data, float* obs) const override {
    obs[0] = static_cast<float>(data.qpos[0]);
    obs[1] = static_cast<float>(data.qvel[0]);
  }
  float ComputeReward(const mjData&, const float* action) const override {
    return spec().act_dim > 0 ? action[0] : 1.0f;
  }

 private:
  double initial_q_;
};

EnvConfig TinyConfig(int max_episode_steps = 1000) {
  EnvConfig config;
  config.id = "tiny";
  config.max_episode_steps = max_episode_steps;
  return config;
}

EnvConfig CartpoleConfig(int max_episode_steps = 1000, int frame_skip = 0) {
  EnvConfig config;
  config.id = "cartpole_swingup";
  config.max_episode_steps = max_episode_steps;
  config.frame_skip = frame_skip;
  return config;
}

// ---------------------------------------------------------------------------

using MujocoEnvTest = WarningFreeTest;

TEST_F(MujocoEnvTest, ActionsAreClippedAndScaledToCtrlrange) {
  TinyEnv env(TinyConfig(), WriteTempFile("slider.xml", kSliderXml), 0.0);
  ASSERT_EQ(env.spec().act_dim, 2);
  EXPECT_EQ(env.spec().act_names[0], "ranged");
  EXPECT_EQ(env.spec().act_names[1], "actuator_1");
  float obs[2];
  env.Reset(1, obs);

  // ranged: [-1, 1] -> [2, 6]; unlimited: clipped value passes through
  const struct {
    float in[2];
    double ranged;
    double free;
  } cases[] = {{{-1.0f, 0.5f}, 2.0, 0.5},  {{0.0f, -0.25f}, 4.0, -0.25}, {{1.0f, 1.0f}, 6.0, 1.0},
               {{7.0f, -3.0f}, 6.0, -1.0}, {{-9.0f, 2.0f}, 2.0, 1.0},    {{0.5f, 0.0f}, 5.0, 0.0}};
  for (const auto& c : cases) {
    const StepResult r = env.Step(c.in, obs);
    EXPECT_DOUBLE_EQ(env.data()->ctrl[0], c.ranged) << c.in[0];
    EXPECT_DOUBLE_EQ(env.data()->ctrl[1], c.free) << c.in[1];
    // the task sees the clipped action
    EXPECT_FLOAT_EQ(r.reward, std::fmin(std::fmax(c.in[0], -1.0f), 1.0f));
  }
}

TEST_F(MujocoEnvTest, NonFiniteActionThrowsNamingEnvAndIndex) {
  TinyEnv env(TinyConfig(), WriteTempFile("slider.xml", kSliderXml), 0.0);
  float obs[2];
  env.Reset(1, obs);
  const float nan_second[2] = {0.0f, std::nanf("")};
  try {
    env.Step(nan_second, obs);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'tiny'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("action[1]"), std::string::npos) << e.what();
  }
  const float inf_first[2] = {-INFINITY, 0.0f};
  EXPECT_THROW(env.Step(inf_first, obs), std::invalid_argument);
  // a rejected action leaves the episode usable
  const float ok[2] = {0.0f, 0.0f};
  EXPECT_NO_THROW(env.Step(ok, obs));
}

TEST_F(MujocoEnvTest, StepOutsideAnEpisodeThrows) {
  TinyEnv env(TinyConfig(3), WriteTempFile("slider.xml", kSliderXml), 0.0);
  float obs[2];
  const float action[2] = {0.0f, 0.0f};
  EXPECT_THROW(env.Step(action, obs), std::logic_error);
  env.Reset(1, obs);
  for (int t = 0; t < 3; ++t) env.Step(action, obs);
  EXPECT_THROW(env.Step(action, obs), std::logic_error);
  env.Reset(2, obs);
  EXPECT_NO_THROW(env.Step(action, obs));
}

TEST(MujocoEnvDivergenceTest, DivergedStateTerminatesWithFiniteObservation) {
  InstallMujocoHandlers();
  TinyEnv env(TinyConfig(), WriteTempFile("exploding.xml", kExplodingXml), 0.1);
  float obs[2];
  env.Reset(1, obs);
  const int64_t warnings_before = MujocoWarningCount();
  const float action[1] = {0.0f};
  StepResult r;
  int steps = 0;
  while (!r.terminated && !r.truncated && steps < 200) {
    r = env.Step(action, obs);
    ++steps;
  }
  EXPECT_TRUE(r.terminated);
  EXPECT_TRUE(r.diverged);
  EXPECT_FALSE(r.truncated);
  EXPECT_LT(steps, 200);
  EXPECT_EQ(r.reward, 0.0f);
  EXPECT_TRUE(std::isfinite(obs[0]) && std::isfinite(obs[1]));
  // MuJoCo's warning went to our handler, not to stderr or a crash
  EXPECT_GT(MujocoWarningCount(), warnings_before);
  EXPECT_THROW(env.Step(action, obs), std::logic_error);

  // the env is usable again after a reset
  env.Reset(2, obs);
  EXPECT_NEAR(obs[0], 0.1, 0.01);
}

TEST(MujocoEnvDivergenceTest, MujocoErrorInsideStepEndsTheEpisode) {
  InstallMujocoHandlers();
  TinyEnv env(TinyConfig(), WriteTempFile("overflow.xml", kStackOverflowXml), 0.0);
  ASSERT_EQ(env.spec().act_dim, 0);
  float obs[2];
  env.Reset(1, obs);
  StepResult r;
  int steps = 0;
  while (!r.terminated && !r.truncated && steps < 1000) {
    r = env.Step(nullptr, obs);
    ++steps;
  }
  EXPECT_TRUE(r.terminated);
  EXPECT_TRUE(r.diverged);
  EXPECT_NE(LastMujocoWarning().find("stack overflow"), std::string::npos) << LastMujocoWarning();
  // the data is whole again after the next reset
  env.Reset(2, obs);
  EXPECT_NO_THROW(env.Step(nullptr, obs));
}

TEST_F(MujocoEnvTest, MissingMjcfIsUserErrorNamingThePath) {
  const std::string path = testing::TempDir() + "/robofleet_no_such_model.xml";
  try {
    LoadModel(path);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    // MuJoCo's own words, on one line
    EXPECT_NE(what.find("Error opening file"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST_F(MujocoEnvTest, BrokenMjcfIsUserErrorWithMujocosMessage) {
  const std::string path = WriteTempFile(
      "broken.xml",
      R"(<mujoco><worldbody><body><joint name="j" type="slide"/><geom size="0.1"/></body>)"
      R"(</worldbody><actuator><motor joint="missing_joint"/></actuator></mujoco>)");
  try {
    TinyEnv env(TinyConfig(), path, 0.0);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("missing_joint"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line expected: " << what;
  }
}

TEST_F(MujocoEnvTest, ModelIsLoadedOncePerPath) {
  const std::string path = WriteTempFile("cached.xml", kSliderXml);
  std::shared_ptr<const mjModel> a = LoadModel(path);
  std::shared_ptr<const mjModel> b = LoadModel(path);
  EXPECT_EQ(a.get(), b.get());
  TinyEnv env1(TinyConfig(), path, 0.0);
  TinyEnv env2(TinyConfig(), path, 0.0);
  EXPECT_EQ(env1.model(), a.get());
  EXPECT_EQ(env2.model(), a.get());
  EXPECT_NE(env1.data(), env2.data());
}

// the model cache and the warning log are process-wide; envs on several
// threads (as a bench or a caller's own thread pool makes them) share them
TEST(MujocoEnvThreadsTest, ThreadsShareOneModelAndEveryWarningIsCounted) {
  InstallMujocoHandlers();
  const std::string path = WriteTempFile("threads_exploding.xml", kExplodingXml);
  const int64_t warnings_before = MujocoWarningCount();
  constexpr int kThreads = 4;
  std::vector<const mjModel*> models(kThreads);
  std::vector<int> diverged(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      TinyEnv env(TinyConfig(), path, 0.1);
      models[i] = env.model();
      float obs[2];
      const float action[1] = {0.0f};
      env.Reset(i, obs);
      // each env's data diverges once, and MuJoCo warns once per data
      for (int step = 0; step < 200; ++step) {
        const StepResult r = env.Step(action, obs);
        if (r.diverged) {
          diverged[i] = 1;
          break;
        }
        if (r.terminated || r.truncated) env.Reset(i, obs);
      }
      EXPECT_FALSE(LastMujocoWarning().empty());
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(models[i], LoadModel(path).get()) << "thread " << i;
    EXPECT_EQ(diverged[i], 1) << "thread " << i;
  }
  EXPECT_GE(MujocoWarningCount() - warnings_before, kThreads);
}

// sets or clears an environment variable for one scope, then restores it
class ScopedEnvVar {
 public:
  ScopedEnvVar(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = std::make_unique<std::string>(old);
    Set(value);
  }
  ~ScopedEnvVar() { Set(old_ ? old_->c_str() : nullptr); }
  void Set(const char* value) {
    if (value != nullptr) {
      setenv(name_.c_str(), value, 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::unique_ptr<std::string> old_;
};

TEST_F(MujocoEnvTest, AssetPathHonoursEnvironmentVariable) {
  ScopedEnvVar assets("ROBOFLEET_ASSETS", nullptr);
  const std::string built_in = AssetPath("cartpole.xml");
  EXPECT_TRUE(std::ifstream(built_in).good()) << built_in;

  assets.Set("/opt/robot_assets");
  EXPECT_EQ(AssetPath("cartpole.xml"), "/opt/robot_assets/cartpole.xml");
  EXPECT_EQ(AssetPath("/abs/model.xml"), "/abs/model.xml");

  // a task whose assets are not there fails with the path in the message
  try {
    MakeEnv(CartpoleConfig());
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("/opt/robot_assets/cartpole.xml"), std::string::npos)
        << e.what();
  }
  assets.Set("");
  EXPECT_EQ(AssetPath("cartpole.xml"), built_in);
}

TEST_F(MujocoEnvTest, MujocoErrorsThrowInsteadOfExiting) {
  EXPECT_THROW(mju_error("deliberate test error"), std::runtime_error);
}

TEST_F(MujocoEnvTest, BadConfigIsUserError) {
  const std::string path = WriteTempFile("slider.xml", kSliderXml);
  EnvConfig config = TinyConfig();
  config.max_episode_steps = -1;
  EXPECT_THROW(TinyEnv(config, path, 0.0), UserError);
  config = TinyConfig();
  config.frame_skip = -1;
  EXPECT_THROW(TinyEnv(config, path, 0.0), UserError);
}

TEST(EnvRandomTest, SeededAndWellShaped) {
  EnvRandom a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const double x = a.Normal();
    EXPECT_EQ(x, b.Normal());
    differs |= (x != c.Normal());
  }
  EXPECT_TRUE(differs);

  // moments of many draws
  EnvRandom rng(1);
  constexpr int kDraws = 200000;
  double sum = 0.0, sum_sq = 0.0, umin = 1.0, umax = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = rng.Normal();
    sum += z;
    sum_sq += z * z;
    const double u = rng.Uniform();
    umin = std::fmin(umin, u);
    umax = std::fmax(umax, u);
  }
  EXPECT_NEAR(sum / kDraws, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / kDraws, 1.0, 0.02);
  EXPECT_GE(umin, 0.0);
  EXPECT_LT(umax, 1.0);
}

TEST(RewardsTest, ToleranceShapes) {
  EXPECT_DOUBLE_EQ(Tolerance(0.0, 2.0), 1.0);
  EXPECT_NEAR(Tolerance(2.0, 2.0), 0.1, 1e-12);
  EXPECT_NEAR(Tolerance(-2.0, 2.0), 0.1, 1e-12);
  EXPECT_GT(Tolerance(1.0, 2.0), Tolerance(1.5, 2.0));
  EXPECT_GT(Tolerance(6.0, 2.0), 0.0);  // gaussian tails never reach 0 exactly
  EXPECT_DOUBLE_EQ(Tolerance(0.0, 1.0, 0.0, ToleranceShape::kQuadratic), 1.0);
  EXPECT_DOUBLE_EQ(Tolerance(0.5, 1.0, 0.0, ToleranceShape::kQuadratic), 0.75);
  EXPECT_DOUBLE_EQ(Tolerance(1.0, 1.0, 0.0, ToleranceShape::kQuadratic), 0.0);
  EXPECT_DOUBLE_EQ(Tolerance(3.0, 1.0, 0.0, ToleranceShape::kQuadratic), 0.0);
  EXPECT_NEAR(Tolerance(1.0, 1.0, 0.2, ToleranceShape::kQuadratic), 0.2, 1e-12);
}

// ---------------------------------------------------------------------------

using CartpoleSwingupTest = WarningFreeTest;

// runs `steps` steps of a fixed action sequence and records obs and rewards
void Rollout(Env& env, uint64_t seed, int steps, std::vector<float>* obs_log,
             std::vector<float>* reward_log) {
  std::vector<float> obs(env.spec().obs_dim);
  env.Reset(seed, obs.data());
  obs_log->insert(obs_log->end(), obs.begin(), obs.end());
  for (int t = 0; t < steps; ++t) {
    const float action[1] = {static_cast<float>(std::sin(0.05 * t) + 0.3 * std::cos(0.31 * t))};
    const StepResult r = env.Step(action, obs.data());
    obs_log->insert(obs_log->end(), obs.begin(), obs.end());
    reward_log->push_back(r.reward);
  }
}

TEST_F(CartpoleSwingupTest, Spec) {
  CartpoleSwingup env(CartpoleConfig());
  const EnvSpec& spec = env.spec();
  EXPECT_EQ(spec.id, "cartpole_swingup");
  EXPECT_EQ(spec.obs_dim, 5);
  EXPECT_EQ(spec.act_dim, 1);
  EXPECT_EQ(spec.frame_skip, 2);
  EXPECT_EQ(spec.max_episode_steps, 1000);
  EXPECT_DOUBLE_EQ(spec.control_dt, 0.01);
  EXPECT_EQ(spec.obs_names, (std::vector<std::string>{"cart_position", "pole_cos", "pole_sin",
                                                      "cart_velocity", "pole_angular_velocity"}));
  EXPECT_EQ(spec.act_names, std::vector<std::string>{"cart_force"});

  CartpoleSwingup skip4(CartpoleConfig(500, 4));
  EXPECT_EQ(skip4.spec().frame_skip, 4);
  EXPECT_DOUBLE_EQ(skip4.spec().control_dt, 0.02);
  EXPECT_EQ(skip4.spec().max_episode_steps, 500);
}

TEST_F(CartpoleSwingupTest, StartsHangingDownWithSmallNoise) {
  CartpoleSwingup env(CartpoleConfig());
  float obs[5];
  for (uint64_t seed = 0; seed < 20; ++seed) {
    env.Reset(seed, obs);
    EXPECT_LT(std::fabs(obs[0]), 0.05f);
    EXPECT_LT(obs[1], -0.998f);  // cos: -1 hanging down
    EXPECT_LT(std::fabs(obs[2]), 0.05f);
    EXPECT_LT(std::fabs(obs[3]), 0.05f);
    EXPECT_LT(std::fabs(obs[4]), 0.05f);
    EXPECT_NEAR(obs[1] * obs[1] + obs[2] * obs[2], 1.0f, 1e-5f);
  }
}

TEST_F(CartpoleSwingupTest, SameSeedGivesBitIdenticalTrajectory) {
  CartpoleSwingup env1(CartpoleConfig());
  CartpoleSwingup env2(CartpoleConfig());
  std::vector<float> obs1, obs2, rew1, rew2;
  Rollout(env1, 42, 300, &obs1, &rew1);
  Rollout(env2, 42, 300, &obs2, &rew2);
  ASSERT_EQ(obs1.size(), obs2.size());
  EXPECT_EQ(std::memcmp(obs1.data(), obs2.data(), obs1.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(rew1.data(), rew2.data(), rew1.size() * sizeof(float)), 0);

  // the same env object replays too: nothing leaks between episodes
  std::vector<float> obs3, rew3;
  Rollout(env1, 42, 300, &obs3, &rew3);
  EXPECT_EQ(obs1, obs3);
  EXPECT_EQ(rew1, rew3);
}

TEST_F(CartpoleSwingupTest, DifferentSeedsDiffer) {
  CartpoleSwingup env(CartpoleConfig());
  std::vector<float> obs1, obs2, rew1, rew2;
  Rollout(env, 1, 50, &obs1, &rew1);
  Rollout(env, 2, 50, &obs2, &rew2);
  EXPECT_NE(obs1, obs2);
  EXPECT_NE(rew1, rew2);
}

TEST_F(CartpoleSwingupTest, TruncatesExactlyAtTheLimitAndNeverTerminates) {
  for (int limit : {1000, 37, 1}) {
    CartpoleSwingup env(CartpoleConfig(limit));
    RandomPolicy policy(limit);
    float obs[5];
    env.Reset(3, obs);
    for (int t = 1; t <= limit; ++t) {
      const float action[1] = {policy.Next()};
      const StepResult r = env.Step(action, obs);
      ASSERT_FALSE(r.terminated) << "limit " << limit << " step " << t;
      ASSERT_FALSE(r.diverged);
      ASSERT_EQ(r.truncated, t == limit) << "limit " << limit << " step " << t;
    }
    EXPECT_EQ(env.episode_step(), limit);
  }
}

TEST_F(CartpoleSwingupTest, NanActionThrowsNamingTheIndex) {
  CartpoleSwingup env(CartpoleConfig());
  float obs[5];
  env.Reset(1, obs);
  const float action[1] = {std::nanf("")};
  try {
    env.Step(action, obs);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cartpole_swingup"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("action[0]"), std::string::npos) << e.what();
  }
}

TEST_F(CartpoleSwingupTest, OutOfRangeActionsAreClipped) {
  CartpoleSwingup clipped(CartpoleConfig());
  CartpoleSwingup saturated(CartpoleConfig());
  float obs_a[5], obs_b[5];
  clipped.Reset(5, obs_a);
  saturated.Reset(5, obs_b);
  for (int t = 0; t < 100; ++t) {
    const float big[1] = {t < 50 ? 25.0f : -3.0f};
    const float unit[1] = {t < 50 ? 1.0f : -1.0f};
    const StepResult ra = clipped.Step(big, obs_a);
    const StepResult rb = saturated.Step(unit, obs_b);
    ASSERT_EQ(std::memcmp(obs_a, obs_b, sizeof(obs_a)), 0) << t;
    ASSERT_EQ(ra.reward, rb.reward);
  }
}

TEST_F(CartpoleSwingupTest, RewardsInUnitIntervalAndRandomPolicyScoresLow) {
  CartpoleSwingup env(CartpoleConfig());
  RandomPolicy policy(11);
  float obs[5];
  for (uint64_t episode = 0; episode < 3; ++episode) {
    env.Reset(episode, obs);
    double total = 0.0;
    StepResult r;
    while (!r.truncated) {
      const float action[1] = {policy.Next()};
      r = env.Step(action, obs);
      ASSERT_GE(r.reward, 0.0f);
      ASSERT_LE(r.reward, 1.0f);
      ASSERT_NEAR(obs[1] * obs[1] + obs[2] * obs[2], 1.0f, 1e-5f);
      total += r.reward;
    }
    EXPECT_LT(total, 100.0) << "episode " << episode;
  }
}

// the same task started upright and still, to check the top of the reward
class UprightCartpole : public CartpoleSwingup {
 public:
  using CartpoleSwingup::CartpoleSwingup;

 protected:
  void InitializeEpisode(mjData*, EnvRandom&) override {}  // qpos0: upright, centred
};

TEST_F(CartpoleSwingupTest, UprightStillPoleEarnsNearlyFullReward) {
  UprightCartpole env(CartpoleConfig());
  float obs[5];
  env.Reset(0, obs);
  EXPECT_FLOAT_EQ(obs[1], 1.0f);  // cos: +1 upright
  const float zero[1] = {0.0f};
  for (int t = 0; t < 20; ++t) {
    const StepResult r = env.Step(zero, obs);
    EXPECT_GT(r.reward, 0.99f) << t;
  }
  // full effort costs a fifth of the reward
  const float full[1] = {1.0f};
  const StepResult r = env.Step(full, obs);
  EXPECT_LT(r.reward, 0.81f);
  EXPECT_GT(r.reward, 0.7f);
}

TEST_F(CartpoleSwingupTest, EnergyPumpingSwingsThePoleUp) {
  // a bang-bang energy controller: proof that the motor is strong enough
  CartpoleSwingup env(CartpoleConfig());
  float obs[5];
  env.Reset(9, obs);
  float best_cos = -1.0f;
  for (int t = 0; t < 1000; ++t) {
    const float cos_a = obs[1], angular_velocity = obs[4];
    // push so that the pole's swing gains energy, and stay off the ends
    float u = (angular_velocity * cos_a > 0.0f) ? -1.0f : 1.0f;
    if (std::fabs(angular_velocity) < 1e-3f) u = 1.0f;
    u -= 0.5f * obs[0];
    const float action[1] = {u};
    env.Step(action, obs);
    best_cos = std::fmax(best_cos, obs[1]);
  }
  EXPECT_GT(best_cos, 0.95f);
}

// ---------------------------------------------------------------------------

using EnvRegistryTest = WarningFreeTest;

TEST_F(EnvRegistryTest, ListsAndMakesCartpole) {
  const std::vector<std::string> names = EnvNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "cartpole_swingup"), names.end());
  std::unique_ptr<Env> env = MakeEnv(CartpoleConfig());
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->spec().id, "cartpole_swingup");
  EXPECT_EQ(GetEnvSpec(CartpoleConfig(123)).max_episode_steps, 123);
}

TEST_F(EnvRegistryTest, EnvsOfOneTaskShareOneModel) {
  std::unique_ptr<Env> a = MakeEnv(CartpoleConfig());
  std::unique_ptr<Env> b = MakeEnv(CartpoleConfig());
  auto* ma = dynamic_cast<MujocoEnv*>(a.get());
  auto* mb = dynamic_cast<MujocoEnv*>(b.get());
  ASSERT_TRUE(ma != nullptr && mb != nullptr);
  EXPECT_EQ(ma->model(), mb->model());
  EXPECT_NE(ma->data(), mb->data());
}

TEST_F(EnvRegistryTest, UnknownIdListsAvailableNames) {
  EnvConfig config;
  config.id = "no_such_task";
  try {
    MakeEnv(config);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown env 'no_such_task'"), std::string::npos) << what;
    EXPECT_NE(what.find("available: "), std::string::npos) << what;
    for (const std::string& name : EnvNames()) {
      EXPECT_NE(what.find(name), std::string::npos) << what;
    }
  }
  config.id = "cartpole_swingp";
  try {
    MakeEnv(config);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'cartpole_swingup'"), std::string::npos)
        << e.what();
  }
}

TEST_F(EnvRegistryTest, BadConfigIsUserError) {
  EXPECT_THROW(MakeEnv(CartpoleConfig(-1)), UserError);
  EXPECT_THROW(MakeEnv(CartpoleConfig(10, -2)), UserError);
}

TEST_F(EnvRegistryTest, ZeroTimeLimitKeepsTheTaskDefault) {
  EXPECT_EQ(GetEnvSpec(CartpoleConfig(0)).max_episode_steps, 1000);
  EXPECT_EQ(GetEnvSpec(CartpoleConfig(25)).max_episode_steps, 25);
}

// ---------------------------------------------------------------------------

using VectorEnvTest = WarningFreeTest;

// the seed env i uses for its n-th reset (n = 0 first)
uint64_t ResetSeed(uint64_t seed, int env, int n) {
  std::mt19937_64 stream(DeriveSeed(seed, static_cast<uint64_t>(env)));
  uint64_t s = stream();
  for (int i = 0; i < n; ++i) s = stream();
  return s;
}

// the action env i takes at step t in the vector tests
float VectorAction(int i, int t) { return static_cast<float>(std::sin(0.1 * t + i)); }

TEST_F(VectorEnvTest, ShapesAndSpec) {
  VectorEnv venv(CartpoleConfig(), 4, 1);
  EXPECT_EQ(venv.num_envs(), 4);
  EXPECT_EQ(venv.spec().id, "cartpole_swingup");
  EXPECT_EQ(venv.spec().obs_dim, 5);
  EXPECT_EQ(venv.spec().act_dim, 1);
  EXPECT_THROW(VectorEnv(CartpoleConfig(), 0, 1), UserError);
}

TEST_F(VectorEnvTest, MatchesSingleEnvsThroughAutoReset) {
  constexpr int kEnvs = 3, kLimit = 25, kSteps = 60, kObs = 5;
  constexpr uint64_t kSeed = 77;
  VectorEnv venv(CartpoleConfig(kLimit), kEnvs, kSeed);

  // reference: one plain env per slot, reset with the documented seeds
  std::vector<std::unique_ptr<Env>> refs;
  std::vector<std::vector<float>> ref_obs(kEnvs, std::vector<float>(kObs));
  std::vector<int> ref_episode(kEnvs, 0);
  std::vector<double> ref_return(kEnvs, 0.0);
  for (int i = 0; i < kEnvs; ++i) {
    refs.push_back(MakeEnv(CartpoleConfig(kLimit)));
    refs[i]->Reset(ResetSeed(kSeed, i, 0), ref_obs[i].data());
  }

  std::vector<float> obs(kEnvs * kObs), reward(kEnvs), actions(kEnvs);
  std::vector<uint8_t> terminated(kEnvs), truncated(kEnvs);
  std::vector<float> truncated_obs;
  venv.Reset(obs.data());
  for (int i = 0; i < kEnvs; ++i) {
    ASSERT_EQ(std::memcmp(&obs[i * kObs], ref_obs[i].data(), kObs * sizeof(float)), 0);
  }

  std::vector<VectorEnv::Episode> expected_episodes;
  for (int t = 0; t < kSteps; ++t) {
    for (int i = 0; i < kEnvs; ++i) actions[i] = VectorAction(i, t);
    truncated_obs.clear();
    venv.Step(actions.data(), obs.data(), reward.data(), terminated.data(), truncated.data(),
              &truncated_obs);

    std::vector<float> expected_truncated_obs;
    for (int i = 0; i < kEnvs; ++i) {
      const StepResult r = refs[i]->Step(&actions[i], ref_obs[i].data());
      ref_return[i] += r.reward;
      ASSERT_EQ(reward[i], r.reward) << "env " << i << " step " << t;
      ASSERT_EQ(terminated[i], 0);
      ASSERT_EQ(truncated[i], (t + 1) % kLimit == 0 ? 1 : 0) << "env " << i << " step " << t;
      if (r.truncated) {
        // final obs goes to truncated_obs; the row holds the next episode's start
        expected_truncated_obs.insert(expected_truncated_obs.end(), ref_obs[i].begin(),
                                      ref_obs[i].end());
        expected_episodes.push_back({static_cast<float>(ref_return[i]), kLimit, false});
        ref_return[i] = 0.0;
        refs[i]->Reset(ResetSeed(kSeed, i, ++ref_episode[i]), ref_obs[i].data());
      }
      ASSERT_EQ(std::memcmp(&obs[i * kObs], ref_obs[i].data(), kObs * sizeof(float)), 0)
          << "env " << i << " step " << t;
    }
    ASSERT_EQ(truncated_obs, expected_truncated_obs) << "step " << t;
  }

  const std::vector<VectorEnv::Episode> episodes = venv.TakeFinishedEpisodes();
  ASSERT_EQ(episodes.size(), expected_episodes.size());
  ASSERT_EQ(episodes.size(), static_cast<size_t>(kEnvs * (kSteps / kLimit)));
  for (size_t e = 0; e < episodes.size(); ++e) {
    EXPECT_FLOAT_EQ(episodes[e].ret, expected_episodes[e].ret);
    EXPECT_EQ(episodes[e].length, kLimit);
    EXPECT_FALSE(episodes[e].diverged);
  }
  EXPECT_TRUE(venv.TakeFinishedEpisodes().empty());
  EXPECT_EQ(venv.diverged_episodes(), 0);
}

TEST_F(VectorEnvTest, OneSeedFixesEverything) {
  auto run = [](uint64_t seed) {
    VectorEnv venv(CartpoleConfig(30), 2, seed);
    std::vector<float> obs(10), reward(2), log;
    std::vector<uint8_t> terminated(2), truncated(2);
    std::vector<float> truncated_obs;
    venv.Reset(obs.data());
    for (int t = 0; t < 100; ++t) {
      const float actions[2] = {VectorAction(0, t), VectorAction(1, t)};
      venv.Step(actions, obs.data(), reward.data(), terminated.data(), truncated.data(),
                &truncated_obs);
      log.insert(log.end(), obs.begin(), obs.end());
      log.insert(log.end(), reward.begin(), reward.end());
    }
    log.insert(log.end(), truncated_obs.begin(), truncated_obs.end());
    return log;
  };
  const std::vector<float> a = run(5), b = run(5), c = run(6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);

  // envs inside one vector env start differently
  VectorEnv venv(CartpoleConfig(), 2, 5);
  float obs[10];
  venv.Reset(obs);
  EXPECT_NE(std::memcmp(obs, obs + 5, 5 * sizeof(float)), 0);
}

TEST_F(VectorEnvTest, NonFiniteActionThrowsBeforeSteppingAnyEnv) {
  VectorEnv venv(CartpoleConfig(), 3, 2);
  VectorEnv twin(CartpoleConfig(), 3, 2);
  std::vector<float> obs(15), twin_obs(15), reward(3);
  std::vector<uint8_t> terminated(3), truncated(3);
  venv.Reset(obs.data());
  twin.Reset(twin_obs.data());
  const float bad[3] = {0.5f, 0.5f, std::nanf("")};
  try {
    venv.Step(bad, obs.data(), reward.data(), terminated.data(), truncated.data(), nullptr);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("env 2"), std::string::npos) << e.what();
  }
  // nothing moved: the next good step matches a vector env that never saw it
  const float good[3] = {0.5f, 0.5f, 0.5f};
  venv.Step(good, obs.data(), reward.data(), terminated.data(), truncated.data(), nullptr);
  twin.Step(good, twin_obs.data(), reward.data(), terminated.data(), truncated.data(), nullptr);
  EXPECT_EQ(obs, twin_obs);
}

TEST_F(VectorEnvTest, StaggeredEpisodesEndAsUnreportedTruncations) {
  constexpr int kEnvs = 8, kLimit = 50, kObs = 5;
  VectorEnv venv(CartpoleConfig(kLimit), kEnvs, 5);
  std::vector<float> obs(kEnvs * kObs), reward(kEnvs), actions(kEnvs, 0.0f), final_obs;
  std::vector<uint8_t> terminated(kEnvs), truncated(kEnvs);
  venv.Reset(obs.data());
  venv.StaggerEpisodes(kLimit);
  // first truncation step of every env: spread out, all within the limit
  std::vector<int> first_cut(kEnvs, -1);
  for (int t = 0; t < kLimit; ++t) {
    venv.Step(actions.data(), obs.data(), reward.data(), terminated.data(), truncated.data(),
              &final_obs);
    for (int i = 0; i < kEnvs; ++i) {
      EXPECT_EQ(terminated[i], 0);
      if (truncated[i] && first_cut[i] < 0) first_cut[i] = t;
    }
  }
  std::sort(first_cut.begin(), first_cut.end());
  EXPECT_GE(first_cut.front(), 0) << "every env is cut within the limit";
  EXPECT_GT(first_cut.back() - first_cut.front(), kLimit / 4) << "cuts are spread out";
  EXPECT_EQ(final_obs.size() % kObs, 0u);
  EXPECT_GE(final_obs.size(), static_cast<size_t>(kEnvs * kObs)) << "cut steps keep final obs";
  // cut episodes are not real episodes: only full-length ones are reported
  for (const auto& e : venv.TakeFinishedEpisodes()) EXPECT_EQ(e.length, kLimit);
}

TEST_F(VectorEnvTest, StepBeforeResetThrows) {
  VectorEnv venv(CartpoleConfig(), 1, 0);
  float obs[5], reward[1], action[1] = {0.0f};
  uint8_t terminated[1], truncated[1];
  EXPECT_THROW(venv.Step(action, obs, reward, terminated, truncated, nullptr), std::logic_error);
}

TEST(VectorEnvDivergenceTest, DivergedEpisodesAreCountedAndReset) {
  InstallMujocoHandlers();
  const std::string path = WriteTempFile("exploding.xml", kExplodingXml);
  std::vector<std::unique_ptr<Env>> envs;
  envs.push_back(std::make_unique<TinyEnv>(TinyConfig(), path, 0.1));
  envs.push_back(std::make_unique<TinyEnv>(TinyConfig(), path, 0.1));
  VectorEnv venv(std::move(envs), 3);
  std::vector<float> obs(4), reward(2), truncated_obs;
  std::vector<uint8_t> terminated(2), truncated(2);
  venv.Reset(obs.data());
  const float actions[2] = {0.0f, 0.0f};
  int terminations = 0;
  for (int t = 0; t < 200; ++t) {
    venv.Step(actions, obs.data(), reward.data(), terminated.data(), truncated.data(),
              &truncated_obs);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(truncated[i], 0);
      terminations += terminated[i];
      // the row already holds the next episode's first observation
      if (terminated[i]) {
        EXPECT_NEAR(obs[2 * i], 0.1f, 0.01f);
      }
    }
  }
  EXPECT_GE(terminations, 2);
  EXPECT_TRUE(truncated_obs.empty());
  EXPECT_EQ(venv.diverged_episodes(), terminations);
  const std::vector<VectorEnv::Episode> episodes = venv.TakeFinishedEpisodes();
  ASSERT_EQ(episodes.size(), static_cast<size_t>(terminations));
  for (const VectorEnv::Episode& e : episodes) EXPECT_TRUE(e.diverged);
}

TEST(VectorEnvConstructionTest, RejectsMixedOrEmptyEnvs) {
  std::vector<std::unique_ptr<Env>> none;
  EXPECT_THROW(VectorEnv(std::move(none), 0), std::invalid_argument);
  std::vector<std::unique_ptr<Env>> mixed;
  mixed.push_back(MakeEnv(CartpoleConfig()));
  mixed.push_back(
      std::make_unique<TinyEnv>(TinyConfig(), WriteTempFile("slider.xml", kSliderXml), 0.0));
  EXPECT_THROW(VectorEnv(std::move(mixed), 0), std::invalid_argument);
}

}  // namespace
}  // namespace robofleet::envs

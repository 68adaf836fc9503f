// Tests of domain randomisation (env.randomize): ranges, per-episode draws,
// determinism, noise, delay, model sharing and config checks.
#include "envs/randomize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using test::RandomPolicy;
using test::RecordTrace;
using test::WarningFreeTest;

EnvConfig Config(const std::string& id) {
  EnvConfig config;
  config.id = id;
  return config;
}

// every model parameter randomised, and all the noises
EnvConfig FullyRandomized(const std::string& id) {
  EnvConfig config = Config(id);
  RandomizeConfig& r = config.randomize;
  r.body_mass_scale = {0.8, 1.2};
  r.geom_friction_scale = {0.5, 1.5};
  r.joint_damping_scale = {0.7, 1.3};
  r.actuator_gain_scale = {0.9, 1.1};
  r.gravity_scale = {0.9, 1.1};
  r.obs_noise = 0.01;
  r.action_noise = 0.05;
  r.action_delay = {0, 2};
  return config;
}

std::unique_ptr<MujocoEnv> MakeMujocoEnv(const EnvConfig& config) {
  std::unique_ptr<Env> env = MakeEnv(config);
  return std::unique_ptr<MujocoEnv>(dynamic_cast<MujocoEnv*>(env.release()));
}

using RandomizeTest = WarningFreeTest;

TEST_F(RandomizeTest, ModelIsCopiedOnlyWhenAModelParameterVaries) {
  std::unique_ptr<MujocoEnv> plain = MakeMujocoEnv(Config("hopper"));
  const mjModel* shared = plain->model();
  EXPECT_EQ(MakeMujocoEnv(Config("hopper"))->model(), shared);

  EnvConfig noisy = Config("hopper");
  noisy.randomize.obs_noise = 0.1;
  noisy.randomize.action_noise = 0.1;
  noisy.randomize.action_delay = {1, 2};
  EXPECT_EQ(MakeMujocoEnv(noisy)->model(), shared);

  EnvConfig heavy = Config("hopper");
  heavy.randomize.body_mass_scale = {1.1, 1.2};
  std::unique_ptr<MujocoEnv> a = MakeMujocoEnv(heavy);
  std::unique_ptr<MujocoEnv> b = MakeMujocoEnv(heavy);
  EXPECT_NE(a->model(), shared);
  EXPECT_NE(a->model(), b->model());
}

TEST_F(RandomizeTest, ParametersStayInTheirRangesAndChangePerEpisode) {
  const EnvConfig config = FullyRandomized("hopper");
  std::unique_ptr<MujocoEnv> env = MakeMujocoEnv(config);
  const mjModel* base = LoadModel(AssetPath("hopper.xml")).get();
  const mjModel* m = env->model();
  std::vector<float> obs(env->spec().obs_dim);
  const auto within = [](double value, double reference, const std::vector<double>& range) {
    if (reference == 0.0) return value == 0.0;
    const double s = value / reference;
    return s >= range[0] - 1e-12 && s <= range[1] + 1e-12;
  };
  const auto masses = [&] { return std::vector<double>(m->body_mass, m->body_mass + m->nbody); };

  env->Reset(1, obs.data());
  const std::vector<double> first = masses();
  const RandomizeConfig& r = config.randomize;
  for (int b = 1; b < m->nbody; ++b) {
    EXPECT_TRUE(within(m->body_mass[b], base->body_mass[b], r.body_mass_scale)) << b;
    const double s = m->body_mass[b] / base->body_mass[b];
    EXPECT_NEAR(m->body_inertia[3 * b], s * base->body_inertia[3 * b], 1e-12);
  }
  for (int g = 0; g < m->ngeom; ++g) {
    EXPECT_TRUE(within(m->geom_friction[3 * g], base->geom_friction[3 * g], r.geom_friction_scale));
  }
  for (int i = 0; i < m->nv; ++i) {
    EXPECT_TRUE(within(m->dof_damping[i], base->dof_damping[i], r.joint_damping_scale)) << i;
  }
  for (int i = 0; i < m->nu; ++i) {
    EXPECT_TRUE(within(m->actuator_gainprm[mjNGAIN * i], base->actuator_gainprm[mjNGAIN * i],
                       r.actuator_gain_scale));
  }
  EXPECT_TRUE(within(m->opt.gravity[2], base->opt.gravity[2], r.gravity_scale));
  // masses feed the compiled constants
  double total = 0.0;
  for (int b = 1; b < m->nbody; ++b) total += m->body_mass[b];
  EXPECT_NEAR(m->body_subtreemass[0], total, 1e-9);

  // another episode, other parameters; the same seed, the same ones
  env->Reset(2, obs.data());
  EXPECT_NE(masses(), first);
  env->Reset(1, obs.data());
  EXPECT_EQ(masses(), first);
  // the shared model is never touched
  EXPECT_EQ(base->body_mass[1], MakeMujocoEnv(Config("hopper"))->model()->body_mass[1]);
}

TEST_F(RandomizeTest, OneSeedFixesEverythingWithAllTermsOn) {
  for (const char* id : {"cartpole_swingup", "hopper", "ant", "arm_push"}) {
    EnvConfig config = FullyRandomized(id);
    config.max_episode_steps = 50;
    std::unique_ptr<Env> a = MakeEnv(config);
    std::unique_ptr<Env> b = MakeEnv(config);
    const test::Trace trace = RecordTrace(*a, 3, 150, 9);
    EXPECT_TRUE(trace == RecordTrace(*b, 3, 150, 9)) << id;
    EXPECT_FALSE(trace == RecordTrace(*b, 4, 150, 9)) << id;
    // and randomisation changes the trajectory
    std::unique_ptr<Env> plain = MakeEnv(Config(id));
    EXPECT_FALSE(trace == RecordTrace(*plain, 3, 150, 9)) << id;
  }
}

TEST_F(RandomizeTest, ObservationNoiseLeavesTheStateAloneAndHasTheConfiguredSpread) {
  constexpr double kSigma = 0.1;
  EnvConfig noisy_config = Config("halfcheetah");
  noisy_config.randomize.obs_noise = kSigma;
  std::unique_ptr<MujocoEnv> noisy = MakeMujocoEnv(noisy_config);
  std::unique_ptr<MujocoEnv> plain = MakeMujocoEnv(Config("halfcheetah"));
  const int n = plain->spec().obs_dim;
  std::vector<float> obs_noisy(n), obs_plain(n), action(plain->spec().act_dim);
  noisy->Reset(8, obs_noisy.data());
  plain->Reset(8, obs_plain.data());
  RandomPolicy policy(1);
  double sum = 0.0, sum_sq = 0.0;
  int count = 0;
  for (int t = 0; t < 400; ++t) {
    policy.Fill(action);
    noisy->Step(action.data(), obs_noisy.data());
    plain->Step(action.data(), obs_plain.data());
    for (int i = 0; i < plain->model()->nq; ++i) {
      ASSERT_EQ(noisy->data()->qpos[i], plain->data()->qpos[i]);
    }
    for (int i = 0; i < n; ++i) {
      const double e = static_cast<double>(obs_noisy[i]) - obs_plain[i];
      sum += e;
      sum_sq += e * e;
      ++count;
    }
  }
  EXPECT_NEAR(sum / count, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sum_sq / count), kSigma, 0.01);
}

TEST_F(RandomizeTest, ActionNoiseHasTheConfiguredSpread) {
  constexpr double kSigma = 0.2;
  EnvConfig config = Config("cartpole_swingup");
  config.randomize.action_noise = kSigma;
  config.max_episode_steps = 5000;
  std::unique_ptr<MujocoEnv> env = MakeMujocoEnv(config);
  std::vector<float> obs(5);
  const float zero[1] = {0.0f};
  env->Reset(1, obs.data());
  double sum_sq = 0.0;
  constexpr int kSteps = 2000;
  for (int t = 0; t < kSteps; ++t) {
    env->Step(zero, obs.data());
    const double applied = env->data()->ctrl[0];  // the ctrlrange is -1..1
    sum_sq += applied * applied;
  }
  EXPECT_NEAR(std::sqrt(sum_sq / kSteps), kSigma, 0.02);
}

// the control step at which an impulse at step 0 reaches the actuator
int MeasuredDelay(MujocoEnv& env, uint64_t seed) {
  std::vector<float> obs(env.spec().obs_dim);
  env.Reset(seed, obs.data());
  const float impulse[1] = {1.0f}, zero[1] = {0.0f};
  for (int t = 0; t < 20; ++t) {
    env.Step(t == 0 ? impulse : zero, obs.data());
    if (env.data()->ctrl[0] != 0.0) return t;
  }
  return -1;
}

TEST_F(RandomizeTest, ActionDelayAppliesOldActionsAndVariesPerEpisode) {
  EnvConfig config = Config("cartpole_swingup");
  config.randomize.action_delay = {3, 3};
  std::unique_ptr<MujocoEnv> fixed = MakeMujocoEnv(config);
  std::vector<float> obs(5);
  fixed->Reset(1, obs.data());
  // actions 0.1, 0.2, ... arrive three steps late, the zero action before
  for (int t = 0; t < 10; ++t) {
    const float action[1] = {0.1f * static_cast<float>(t + 1)};
    fixed->Step(action, obs.data());
    const double expected = t < 3 ? 0.0 : 0.1f * static_cast<float>(t - 2);
    ASSERT_NEAR(fixed->data()->ctrl[0], expected, 1e-6) << t;
  }

  config.randomize.action_delay = {0, 4};
  std::unique_ptr<MujocoEnv> varying = MakeMujocoEnv(config);
  std::set<int> delays;
  for (uint64_t seed = 0; seed < 60; ++seed) {
    const int delay = MeasuredDelay(*varying, seed);
    ASSERT_GE(delay, 0);
    ASSERT_LE(delay, 4);
    EXPECT_EQ(delay, MeasuredDelay(*varying, seed)) << "the seed fixes the delay";
    delays.insert(delay);
  }
  EXPECT_EQ(delays.size(), 5u);
}

TEST_F(RandomizeTest, EveryTaskRunsRandomizedWithoutWarnings) {
  for (const std::string& id : EnvNames()) {
    if (id == "mjcf") continue;
    EnvConfig config = FullyRandomized(id);
    config.max_episode_steps = 100;
    std::unique_ptr<Env> env = MakeEnv(config);
    const test::Trace trace = RecordTrace(*env, 1, 300, 2);
    for (float x : trace.obs) ASSERT_TRUE(std::isfinite(x)) << id;
    for (int flags : trace.flags) ASSERT_NE(flags, 3) << id;
  }
}

TEST(RandomizeConfigTest, BadValuesNameTheKey) {
  const auto expect_rejected = [](const std::function<void(RandomizeConfig&)>& edit,
                                  const std::string& key) {
    EnvConfig config;
    edit(config.randomize);
    try {
      config.Validate();
      FAIL() << "expected UserError for " << key;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  expect_rejected([](RandomizeConfig& r) { r.body_mass_scale = {1.2, 0.8}; }, "body_mass_scale");
  expect_rejected([](RandomizeConfig& r) { r.body_mass_scale = {0.0, 1.0}; }, "body_mass_scale");
  expect_rejected([](RandomizeConfig& r) { r.geom_friction_scale = {1.0}; }, "geom_friction_scale");
  expect_rejected([](RandomizeConfig& r) { r.gravity_scale = {-1.0, 1.0}; }, "gravity_scale");
  expect_rejected([](RandomizeConfig& r) { r.obs_noise = -0.1; }, "obs_noise");
  expect_rejected([](RandomizeConfig& r) { r.action_delay = {-1, 2}; }, "action_delay");
  expect_rejected([](RandomizeConfig& r) { r.action_delay = {0, 5000}; }, "action_delay");
}

TEST(RandomizeConfigTest, OverridesAndYamlRoundTrip) {
  ExperimentConfig config;
  ApplyOverrides(config,
                 {"env.randomize.body_mass_scale=[0.8, 1.25]", "env.randomize.action_delay=[1, 3]",
                  "env.randomize.obs_noise=0.05", "env.mjcf.healthy_height=[0.5, 2]"});
  EXPECT_EQ(config.env.randomize.body_mass_scale, (std::vector<double>{0.8, 1.25}));
  EXPECT_EQ(config.env.randomize.action_delay, (std::vector<int>{1, 3}));
  EXPECT_DOUBLE_EQ(config.env.randomize.obs_noise, 0.05);
  EXPECT_TRUE(config.env.randomize.ChangesModel());
  const std::string yaml = ToYaml(config);
  EXPECT_NE(yaml.find("    body_mass_scale: [0.8, 1.25]"), std::string::npos) << yaml;
  const ExperimentConfig back = ParseExperiment(yaml, "round trip");
  EXPECT_EQ(back.env.randomize.body_mass_scale, config.env.randomize.body_mass_scale);
  EXPECT_EQ(back.env.mjcf.healthy_height, (std::vector<double>{0.5, 2.0}));
  EXPECT_THROW(ApplyOverrides(config, {"env.randomize.body_mass_scale=heavy"}), UserError);
}

TEST_F(RandomizeTest, PrivilegedEntriesAreTheFactorsAndTheNoiseFreeObservation) {
  EnvConfig config = Config("hopper");
  config.randomize.body_mass_scale = {0.5, 1.5};
  config.randomize.obs_noise = 0.1;
  config.privileged_obs = true;
  std::unique_ptr<MujocoEnv> env = MakeMujocoEnv(config);
  // the same physics without noise or privileged entries
  EnvConfig quiet_config = config;
  quiet_config.randomize.obs_noise = 0.0;
  quiet_config.privileged_obs = false;
  std::unique_ptr<MujocoEnv> quiet = MakeMujocoEnv(quiet_config);

  const EnvSpec& spec = env->spec();
  const int task_dim = quiet->spec().obs_dim;
  const int bodies = env->model()->nbody - 1;
  ASSERT_EQ(spec.privileged_dim, bodies + task_dim);
  ASSERT_EQ(spec.obs_dim, task_dim + spec.privileged_dim);
  ASSERT_EQ(static_cast<int>(spec.obs_names.size()), spec.obs_dim);
  EXPECT_EQ(spec.obs_names[task_dim].rfind("mass_scale:", 0), 0u) << spec.obs_names[task_dim];
  EXPECT_EQ(spec.obs_names[task_dim + bodies], "true:" + spec.obs_names[0]);

  std::vector<float> obs(spec.obs_dim), quiet_obs(task_dim), action(spec.act_dim);
  RandomPolicy policy(3);
  std::unique_ptr<MujocoEnv> plain = MakeMujocoEnv(Config("hopper"));
  const mjModel* base = plain->model();
  for (uint64_t episode = 0; episode < 2; ++episode) {
    env->Reset(40 + episode, obs.data());
    quiet->Reset(40 + episode, quiet_obs.data());
    const mjModel* m = env->model();
    for (int step = 0; step < 20; ++step) {
      // the drawn mass factors: this episode's masses over the task's own
      for (int b = 1; b <= bodies; ++b) {
        if (base->body_mass[b] <= 0) continue;
        EXPECT_NEAR(obs[task_dim + b - 1], m->body_mass[b] / base->body_mass[b], 1e-5);
      }
      double noise = 0.0;
      for (int i = 0; i < task_dim; ++i) {
        // the critic's copy is the observation before noise, bit for bit
        EXPECT_EQ(obs[task_dim + bodies + i], quiet_obs[i]) << spec.obs_names[i];
        noise += std::abs(obs[i] - quiet_obs[i]);
      }
      EXPECT_GT(noise / task_dim, 0.01);  // and the actor's part is the noisy one
      policy.Fill(action);
      StepResult r = env->Step(action.data(), obs.data());
      StepResult q = quiet->Step(action.data(), quiet_obs.data());
      ASSERT_EQ(r.terminated, q.terminated);
      if (r.terminated || r.truncated) break;
    }
  }
}

TEST_F(RandomizeTest, PrivilegedObservationsNeedSomethingRandomised) {
  EnvConfig config = Config("cartpole_swingup");
  config.privileged_obs = true;
  try {
    config.Validate();
    FAIL() << "privileged_obs without randomisation was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("env.privileged_obs"), std::string::npos) << e.what();
  }
  config.randomize.action_delay = {0, 3};  // the delay alone is something to know
  std::unique_ptr<Env> env = MakeEnv(config);
  EXPECT_EQ(env->spec().privileged_dim, 1);
  EXPECT_EQ(env->spec().obs_names.back(), "action_delay");
}

}  // namespace
}  // namespace robofleet::envs

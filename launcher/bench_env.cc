// `robofleet bench env`: env steps per second of a VectorEnv under random
// actions, next to the simulator's ceiling measured in the same run: raw
// mj_step on the same model, frame_skip physics steps per env step, with
// random controls and resets as often as the env's episodes ended. The ratio
// says what the env layer (actions, observations, rewards, resets,
// bookkeeping) costs on top of the physics.
#include <cxxopts.hpp>

#include <mujoco/mujoco.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "launcher/commands.h"

namespace robofleet::launcher {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// K envs of the task through the VectorEnv, random actions in [-1, 1].
class EnvLoop {
 public:
  EnvLoop(const EnvConfig& config, int num_envs, uint64_t seed)
      : venv_(config, num_envs, seed), rng_(seed) {
    const int k = venv_.num_envs();
    obs_.resize(static_cast<size_t>(k) * venv_.spec().obs_dim);
    actions_.resize(static_cast<size_t>(k) * venv_.spec().act_dim);
    reward_.resize(k);
    terminated_.resize(k);
    truncated_.resize(k);
    venv_.Reset(obs_.data());
  }

  // Steps every env `steps` times; returns env steps taken.
  int64_t Run(int steps) {
    for (int t = 0; t < steps; ++t) {
      for (float& a : actions_) a = static_cast<float>(rng_.Uniform(-1.0, 1.0));
      venv_.Step(actions_.data(), obs_.data(), reward_.data(), terminated_.data(),
                 truncated_.data(), nullptr);
    }
    for (const envs::VectorEnv::Episode& e : venv_.TakeFinishedEpisodes()) {
      episode_steps_ += e.length;
      ++episodes_;
    }
    return static_cast<int64_t>(steps) * venv_.num_envs();
  }

  const envs::EnvSpec& spec() const { return venv_.spec(); }
  // Mean length of the episodes finished so far (0 when none).
  double mean_episode_length() const {
    return episodes_ > 0 ? static_cast<double>(episode_steps_) / episodes_ : 0.0;
  }

 private:
  envs::VectorEnv venv_;
  envs::EnvRandom rng_;
  std::vector<float> obs_, actions_, reward_;
  std::vector<uint8_t> terminated_, truncated_;
  int64_t episode_steps_ = 0;
  int64_t episodes_ = 0;
};

// K mjData on the model, stepped with raw mj_step.
class RawLoop {
 public:
  RawLoop(const mjModel* model, int num_datas, int frame_skip, uint64_t seed)
      : model_(model), frame_skip_(frame_skip), rng_(seed) {
    for (int i = 0; i < num_datas; ++i) {
      datas_.emplace_back(mj_makeData(model));
      steps_in_episode_.push_back(0);
    }
  }

  // Every data takes `steps` env steps of frame_skip mj_steps each, with new
  // random controls per env step and a reset after `episode_length` env
  // steps; returns env steps taken.
  int64_t Run(int steps, int episode_length) {
    const mjModel* m = model_;
    for (int t = 0; t < steps; ++t) {
      for (size_t i = 0; i < datas_.size(); ++i) {
        mjData* d = datas_[i].get();
        if (steps_in_episode_[i] >= episode_length) {
          mj_resetData(m, d);
          steps_in_episode_[i] = 0;
        }
        for (int u = 0; u < m->nu; ++u) {
          const double low = m->actuator_ctrlrange[2 * u], high = m->actuator_ctrlrange[2 * u + 1];
          d->ctrl[u] = m->actuator_ctrllimited[u] ? rng_.Uniform(low, high) : rng_.Uniform(-1, 1);
        }
        for (int k = 0; k < frame_skip_; ++k) mj_step(m, d);
        ++steps_in_episode_[i];
      }
    }
    return static_cast<int64_t>(steps) * static_cast<int64_t>(datas_.size());
  }

 private:
  const mjModel* model_;
  int frame_skip_;
  envs::EnvRandom rng_;
  std::vector<envs::MjDataPtr> datas_;
  std::vector<int> steps_in_episode_;
};

}  // namespace

int BenchEnv(int argc, char** argv) {
  cxxopts::Options options("robofleet bench env",
                           "Env steps/s of a VectorEnv with random actions, beside raw mj_step "
                           "on the same model times frame_skip (the simulator's ceiling), both "
                           "on one thread, measured in alternating slices of the same run.");
  options.add_options()
      ("env", "task name", cxxopts::value<std::string>()->default_value("hopper"))
      ("envs", "envs in the vector env (and mjData in the raw loop)",
       cxxopts::value<int>()->default_value("16"))
      ("seconds", "minimum timed seconds of each of the two loops",
       cxxopts::value<double>()->default_value("3"))
      ("seed", "seed of the envs and of the random actions",
       cxxopts::value<uint64_t>()->default_value("1"))
      ("set", "experiment key=value for the env, repeatable (e.g. env.mjcf.path=robot.xml, "
              "env.randomize.obs_noise=0.01)",
       cxxopts::value<std::string>())
      ("json", "print one JSON object")
      ("h,help", "show this help");
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const int num_envs = args["envs"].as<int>();
  const double seconds = args["seconds"].as<double>();
  const uint64_t seed = args["seed"].as<uint64_t>();
  if (num_envs < 1) throw UserError("--envs must be >= 1");
  if (!(seconds > 0)) throw UserError("--seconds must be > 0");

  ExperimentConfig experiment;
  experiment.env.id = args["env"].as<std::string>();
  ApplyOverrides(experiment, SetOverrides(args));
  const EnvConfig& config = experiment.env;
  EnvLoop env_loop(config, num_envs, seed);
  const int frame_skip = env_loop.spec().frame_skip;
  // the raw loop simulates the very model the envs were built on
  const std::unique_ptr<envs::Env> probe = envs::MakeEnv(config);
  const auto* mujoco_env = dynamic_cast<const envs::MujocoEnv*>(probe.get());
  if (mujoco_env == nullptr) throw UserError("env '" + config.id + "' is not a MuJoCo env");
  RawLoop raw_loop(mujoco_env->model(), num_envs, frame_skip, seed);

  // slices of about 50 ms each, alternating, so that both loops see the same
  // machine; one warm-up slice each first
  const int slice = std::max(1, static_cast<int>(2000 / frame_skip / num_envs));
  env_loop.Run(slice);
  const auto episode_length = [&] {
    const double mean = env_loop.mean_episode_length();
    return mean > 0 ? static_cast<int>(mean + 0.5) : env_loop.spec().max_episode_steps;
  };
  raw_loop.Run(slice, episode_length());
  double env_s = 0.0, raw_s = 0.0;
  int64_t env_steps = 0, raw_steps = 0;
  while (env_s < seconds || raw_s < seconds) {
    Clock::time_point start = Clock::now();
    env_steps += env_loop.Run(slice);
    env_s += SecondsSince(start);
    const int length = episode_length();
    start = Clock::now();
    raw_steps += raw_loop.Run(slice, length);
    raw_s += SecondsSince(start);
  }
  const double env_rate = env_steps / env_s;
  const double raw_rate = raw_steps / raw_s;
  const double ratio = env_rate / raw_rate;

  if (args.count("json")) {
    std::printf(
        "{\"bench\": \"env\", \"env\": \"%s\", \"envs\": %d, \"frame_skip\": %d, "
        "\"env_steps_per_s\": %.1f, \"raw_steps_per_s\": %.1f, \"ratio\": %.4f, "
        "\"mj_steps_per_s\": %.1f, \"mean_episode_length\": %.1f}\n",
        config.id.c_str(), num_envs, frame_skip, env_rate, raw_rate, ratio, raw_rate * frame_skip,
        env_loop.mean_episode_length());
  } else {
    std::printf("env bench: %s, %d envs, frame_skip %d, one thread, random actions\n",
                config.id.c_str(), num_envs, frame_skip);
    std::printf("  vector env     %10.0f env steps/s\n", env_rate);
    std::printf("  raw mj_step    %10.0f env steps/s (%.0f mj_step/s)\n", raw_rate,
                raw_rate * frame_skip);
    std::printf("  ratio          %10.3f (mean episode %.1f steps)\n", ratio,
                env_loop.mean_episode_length());
  }
  return 0;
}

}  // namespace robofleet::launcher

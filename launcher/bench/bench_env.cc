// `robofleet bench env`: env steps per second of a VectorEnv under random
// actions, next to the simulator's ceiling measured in the same run: raw
// mj_step on the same model, frame_skip physics steps per env step, with
// random controls and resets as often as the env's episodes ended. The ratio
// says what the env layer (actions, observations, rewards, resets,
// bookkeeping) costs on top of the physics.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cxxopts.hpp>
#include <memory>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "launcher/bench/env_loops.h"
#include "launcher/cli.h"
#include "launcher/commands.h"

namespace robofleet::launcher {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int BenchEnv(int argc, char** argv) {
  cxxopts::Options options("robofleet bench env",
                           "Env steps/s of a VectorEnv with random actions, beside raw mj_step "
                           "on the same model times frame_skip (the simulator's ceiling), both "
                           "on one thread, measured in alternating slices of the same run.");
  options.add_options()("env", "task name", cxxopts::value<std::string>()->default_value("hopper"))(
      "envs", "envs in the vector env (and mjData in the raw loop)",
      cxxopts::value<int>()->default_value("16"))("seconds",
                                                  "minimum timed seconds of each of the two loops",
                                                  cxxopts::value<double>()->default_value("3"))(
      "seed", "seed of the envs and of the random actions",
      cxxopts::value<uint64_t>()->default_value("1"))(
      "set",
      "experiment key=value for the env, repeatable (e.g. env.mjcf.path=robot.xml, "
      "env.randomize.obs_noise=0.01)",
      cxxopts::value<std::string>())("json", "print one JSON object")("h,help", "show this help");
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
  // every --set is checked as everywhere, though only env.* matters here
  ApplyOverrides(experiment, SetOverrides(args));
  algorithms::ValidateAlgorithm(experiment);
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
  const int slice = SliceSteps(frame_skip, num_envs);
  env_loop.Run(slice);
  raw_loop.Run(slice, env_loop.episode_length());
  double env_s = 0.0, raw_s = 0.0;
  int64_t env_steps = 0, raw_steps = 0;
  while (env_s < seconds || raw_s < seconds) {
    Clock::time_point start = Clock::now();
    env_steps += env_loop.Run(slice);
    env_s += SecondsSince(start);
    const int length = env_loop.episode_length();
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

#include "launcher/bench/env_loops.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "envs/registry.h"

namespace robofleet::launcher {

double RandomAction(envs::EnvRandom& rng, double action_std) {
  if (action_std <= 0.0) return rng.Uniform(-1.0, 1.0);
  return std::clamp(rng.Normal(0.0, action_std), -1.0, 1.0);
}

EnvLoop::EnvLoop(const EnvConfig& config, int num_envs, uint64_t seed, double action_std)
    : venv_(config, num_envs, seed), rng_(seed), action_std_(action_std) {
  const int k = venv_.num_envs();
  obs_.resize(static_cast<size_t>(k) * venv_.spec().obs_dim);
  actions_.resize(static_cast<size_t>(k) * venv_.spec().act_dim);
  reward_.resize(k);
  terminated_.resize(k);
  truncated_.resize(k);
  venv_.Reset(obs_.data());
}

int64_t EnvLoop::Run(int steps) {
  for (int t = 0; t < steps; ++t) {
    for (float& a : actions_) a = static_cast<float>(RandomAction(rng_, action_std_));
    venv_.Step(actions_.data(), obs_.data(), reward_.data(), terminated_.data(), truncated_.data(),
               nullptr);
  }
  for (const envs::VectorEnv::Episode& e : venv_.TakeFinishedEpisodes()) {
    episode_steps_ += e.length;
    ++episodes_;
  }
  return static_cast<int64_t>(steps) * venv_.num_envs();
}

int EnvLoop::episode_length() const {
  const double mean = mean_episode_length();
  return mean > 0 ? static_cast<int>(mean + 0.5) : spec().max_episode_steps;
}

RawLoop::RawLoop(const mjModel* model, int num_datas, int frame_skip, uint64_t seed,
                 double action_std)
    : model_(model), frame_skip_(frame_skip), rng_(seed), action_std_(action_std) {
  for (int i = 0; i < num_datas; ++i) {
    datas_.emplace_back(mj_makeData(model));
    steps_in_episode_.push_back(0);
  }
}

int64_t RawLoop::Run(int steps, int episode_length) {
  const mjModel* m = model_;
  for (int t = 0; t < steps; ++t) {
    for (size_t i = 0; i < datas_.size(); ++i) {
      mjData* d = datas_[i].get();
      if (steps_in_episode_[i] >= episode_length) {
        mj_resetData(m, d);
        steps_in_episode_[i] = 0;
      }
      for (int u = 0; u < m->nu; ++u) {
        const double a = RandomAction(rng_, action_std_);
        const double low = m->actuator_ctrlrange[2 * u], high = m->actuator_ctrlrange[2 * u + 1];
        d->ctrl[u] = m->actuator_ctrllimited[u] ? low + (a + 1.0) * 0.5 * (high - low) : a;
      }
      for (int k = 0; k < frame_skip_; ++k) mj_step(m, d);
      ++steps_in_episode_[i];
    }
  }
  return static_cast<int64_t>(steps) * static_cast<int64_t>(datas_.size());
}

int SliceSteps(int frame_skip, int num_envs) { return std::max(1, 2000 / frame_skip / num_envs); }

double RawStepsPerSecond(const EnvConfig& config, int num_datas, double seconds, uint64_t seed,
                         double action_std, const std::function<void()>& before_timing) {
  using Clock = std::chrono::steady_clock;
  EnvLoop env_loop(config, num_datas, seed, action_std);
  const int frame_skip = env_loop.spec().frame_skip;
  // the raw loop simulates the very model the envs were built on
  const std::unique_ptr<envs::Env> probe = envs::MakeEnv(config);
  const auto* mujoco_env = dynamic_cast<const envs::MujocoEnv*>(probe.get());
  if (mujoco_env == nullptr) throw UserError("env '" + config.id + "' is not a MuJoCo env");
  RawLoop raw_loop(mujoco_env->model(), num_datas, frame_skip, seed, action_std);
  const int slice = SliceSteps(frame_skip, num_datas);
  env_loop.Run(slice);
  const int episode_length = env_loop.episode_length();
  raw_loop.Run(slice, episode_length);
  if (before_timing) before_timing();
  int64_t steps = 0;
  const Clock::time_point start = Clock::now();
  double elapsed = 0.0;
  while (elapsed < seconds) {
    steps += raw_loop.Run(slice, episode_length);
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return steps / elapsed;
}

}  // namespace robofleet::launcher

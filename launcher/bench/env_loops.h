// The loops behind the env throughput benchmarks: a VectorEnv under random
// actions, and the simulator's ceiling on the same model, raw mj_step with
// frame_skip physics steps per env step and no env layer.
//
// Each object belongs to one thread.
#ifndef ROBOFLEET_LAUNCHER_BENCH_ENV_LOOPS_H_
#define ROBOFLEET_LAUNCHER_BENCH_ENV_LOOPS_H_

#include <mujoco/mujoco.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/config.h"
#include "envs/mujoco_env.h"
#include "envs/vector_env.h"

namespace robofleet::launcher {

// Random actions in [-1, 1] per action entry: uniform when `action_std` is 0,
// else normal with mean 0 and that standard deviation, clipped (what a fresh
// Gaussian policy with that std sends).
double RandomAction(envs::EnvRandom& rng, double action_std);

// K envs of the task through the VectorEnv, random actions (RandomAction).
class EnvLoop {
 public:
  // Throws UserError as VectorEnv does.
  EnvLoop(const EnvConfig& config, int num_envs, uint64_t seed, double action_std = 0.0);

  // Steps every env `steps` times; returns env steps taken.
  int64_t Run(int steps);

  const envs::EnvSpec& spec() const { return venv_.spec(); }
  // Mean length of the episodes finished so far (0 when none).
  double mean_episode_length() const {
    return episodes_ > 0 ? static_cast<double>(episode_steps_) / episodes_ : 0.0;
  }
  // The mean episode length rounded, or the time limit before any episode ended.
  int episode_length() const;

 private:
  envs::VectorEnv venv_;
  envs::EnvRandom rng_;
  double action_std_;
  std::vector<float> obs_, actions_, reward_;
  std::vector<uint8_t> terminated_, truncated_;
  int64_t episode_steps_ = 0;
  int64_t episodes_ = 0;
};

// K mjData on `model` (not owned; must outlive the loop), stepped with raw
// mj_step; controls are RandomAction mapped onto each actuator's ctrlrange.
class RawLoop {
 public:
  RawLoop(const mjModel* model, int num_datas, int frame_skip, uint64_t seed,
          double action_std = 0.0);

  // Every data takes `steps` env steps of frame_skip mj_steps each, with new
  // random controls per env step and a reset after `episode_length` env
  // steps; returns env steps taken.
  int64_t Run(int steps, int episode_length);

 private:
  const mjModel* model_;
  int frame_skip_;
  envs::EnvRandom rng_;
  double action_std_;
  std::vector<envs::MjDataPtr> datas_;
  std::vector<int> steps_in_episode_;
};

// Env steps per loop call that take about 50 ms on a typical task.
int SliceSteps(int frame_skip, int num_envs);

// The ceiling of one process: env steps/s of raw mj_step on the task's model
// with `num_datas` datas, timed for `seconds` on this thread after a warm-up
// that also measures the episode length the resets follow, both under
// RandomAction(action_std). `before_timing`, when given, runs between the
// warm-up and the timed steps. Throws UserError for unknown or non-MuJoCo envs.
double RawStepsPerSecond(const EnvConfig& config, int num_datas, double seconds, uint64_t seed,
                         double action_std, const std::function<void()>& before_timing = {});

}  // namespace robofleet::launcher

#endif  // ROBOFLEET_LAUNCHER_BENCH_ENV_LOOPS_H_

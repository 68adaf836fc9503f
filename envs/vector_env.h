// VectorEnv: K envs of one task in one process, stepped one after another,
// with automatic reset.
//
// Buffers are row-major float32 (flags uint8), one row per env, owned by the
// caller:
//   obs         [K, obs_dim]
//   actions     [K, act_dim], each entry finite; clipped to [-1, 1] inside
//   reward      [K]
//   terminated  [K]  1 = real end (includes divergence), else 0
//   truncated   [K]  1 = time limit, else 0 (never both 1)
// After Step, obs row i is the next observation of env i, which for an env
// whose episode just ended is already the first observation of its next
// episode. The final observation of a truncated episode (needed to bootstrap)
// is appended to *truncated_obs; the final observation of a terminated one
// is not needed and is dropped.
//
// Seeding: one seed fixes every episode. Env i owns a reset-seed stream,
// std::mt19937_64 seeded with DeriveSeed(seed, i); each reset of env i (the
// first included) calls Reset(stream_i(), ...). So env i's k-th episode is
// the one a single env starts with the k-th draw of that stream.
//
// Thread-safety: one thread at a time. Step does not allocate on the heap
// once *truncated_obs and the finished-episode buffer have grown to their
// working size.
#ifndef ROBOFLEET_ENVS_VECTOR_ENV_H_
#define ROBOFLEET_ENVS_VECTOR_ENV_H_

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "core/config.h"
#include "core/seeds.h"
#include "envs/env.h"

namespace robofleet::envs {

class VectorEnv {
 public:
  // A finished episode.
  struct Episode {
    float ret = 0.0f;       // undiscounted sum of rewards
    int length = 0;         // control steps
    bool diverged = false;  // ended by a diverged simulation
  };

  // Makes num_envs envs of config.id through the registry. Throws
  // robofleet::UserError like MakeEnv, or when num_envs < 1.
  VectorEnv(const EnvConfig& config, int num_envs, uint64_t seed);

  // Takes ownership of ready-made envs (e.g. a task built outside the
  // registry). They must all have the same id, obs_dim and act_dim. Throws
  // std::invalid_argument when `envs` is empty, holds null, or mixes specs.
  VectorEnv(std::vector<std::unique_ptr<Env>> envs, uint64_t seed);

  VectorEnv(const VectorEnv&) = delete;
  VectorEnv& operator=(const VectorEnv&) = delete;

  const EnvSpec& spec() const { return spec_; }
  int num_envs() const { return static_cast<int>(envs_.size()); }

  // Starts a new episode in every env (each with the next seed of its
  // stream) and writes obs [K, obs_dim]. Episodes in progress are discarded
  // without being reported. Must be called once before the first Step.
  void Reset(float* obs);

  // Steps every env once with its row of `actions` and fills obs, reward,
  // terminated and truncated (shapes above). For each env with truncated = 1,
  // in env order, appends its final observation (obs_dim floats) to
  // *truncated_obs; the vector is not cleared first. truncated_obs may be
  // null when the caller does not need final observations.
  // Throws std::invalid_argument, before stepping any env, if an action is
  // not finite; std::logic_error if Reset was never called.
  void Step(const float* actions, float* obs, float* reward, uint8_t* terminated,
            uint8_t* truncated, std::vector<float>* truncated_obs);

  // Cuts each env's episode in progress short, as a truncation after a
  // length drawn uniformly from [1, max_steps] with the env's own stream.
  // Called once after Reset, it spreads the envs over the episode, so that a
  // batch of consecutive steps does not see every env in the same phase (all
  // at the start, say): without terminations, envs reset together stay in
  // lockstep forever. Cut episodes are not reported as finished episodes.
  void StaggerEpisodes(int max_steps);

  // Episodes completed since the last call, in completion order. With
  // `info`, their episode-info rows (spec().episode_info_names, one row per
  // episode in the same order) are appended to it.
  std::vector<Episode> TakeFinishedEpisodes(std::vector<float>* info = nullptr);

  // Episodes ended by divergence since construction.
  int64_t diverged_episodes() const { return diverged_episodes_; }

  // Every env's state (Env::SaveState) with the episodes in progress, the
  // seed streams and unreported finished episodes; LoadState restores it into
  // a VectorEnv made with the same config and size. Throws std::runtime_error
  // when the state does not fit.
  std::string SaveState() const;
  void LoadState(std::string_view state);

 private:
  // per-env bookkeeping of the episode in progress
  struct Slot {
    std::unique_ptr<Env> env;
    std::mt19937_64 seeds;  // reset-seed stream
    double ret = 0.0;
    int length = 0;
    int cut_at = 0;  // > 0: truncate this episode after cut_at steps (StaggerEpisodes)
  };

  void Init(std::vector<std::unique_ptr<Env>> envs, uint64_t seed);
  void ResetSlot(Slot& slot, float* obs);

  EnvSpec spec_;
  std::vector<Slot> envs_;
  std::vector<Episode> finished_;
  std::vector<float> finished_info_;  // [finished_.size(), episode_info_names.size()]
  int64_t diverged_episodes_ = 0;
  bool started_ = false;
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_VECTOR_ENV_H_

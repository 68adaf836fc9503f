// The replay buffer of off-policy algorithms: a ring of transitions
// (obs, action, reward, next obs, terminated), sampled uniformly.
//
// Observations are stored raw and normalised when sampled, with the
// normaliser of that moment: the statistics keep moving while old
// transitions stay. Memory is allocated once, for the whole capacity, at
// construction; BytesFor() tells beforehand how much that is. Save/Load keep
// the contents beside a checkpoint, so that a resumed run continues with them.
//
// Thread-compatible: one thread at a time.
#ifndef ROBOFLEET_LEARNER_REPLAY_BUFFER_H_
#define ROBOFLEET_LEARNER_REPLAY_BUFFER_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "algorithms/algorithm.h"
#include "core/config.h"
#include "core/normalizer.h"

namespace robofleet::learner {

class FragmentBatcher;

// Transitions of a batch of fragments, flattened over time and envs.
struct Transitions {
  torch::Tensor obs;         // f32 [N, D] raw
  torch::Tensor actions;     // f32 [N, A] as the env got them: tanh of the wire's raw actions
  torch::Tensor rewards;     // f32 [N]
  torch::Tensor next_obs;    // f32 [N, D] raw: obs[t + 1], or the final obs when truncated
  torch::Tensor terminated;  // f32 [N] 0/1
};

// The transitions of a full batcher; the actions carried on the wire are the
// pre-squash Gaussian samples, squashed here as the actors did.
Transitions TransitionsOf(const FragmentBatcher& batch);

class ReplayBuffer {
 public:
  // Bytes of one stored transition and of a buffer of `capacity`.
  static int64_t BytesPerTransition(int obs_dim, int act_dim);
  static int64_t BytesFor(int64_t capacity, int obs_dim, int act_dim);

  ReplayBuffer(int64_t capacity, int obs_dim, int act_dim);

  // Appends N transitions, overwriting the oldest once full.
  void Add(const Transitions& transitions);

  // `n` transitions drawn uniformly with replacement (LibTorch's default
  // generator) from those stored, observations normalised by `normalizer`.
  // Requires size() > 0.
  algorithms::TransitionBatch Sample(int64_t n, const RunningNormalizer& normalizer) const;

  // Forgets every transition (the memory stays).
  void Clear() { size_ = next_ = 0; }

  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  // What the buffer holds in memory: the whole capacity, in bytes.
  int64_t bytes() const { return BytesFor(capacity_, obs_dim_, act_dim_); }
  // Slot the next transition goes to.
  int64_t next() const { return next_; }

  // The stored transition at slot `i` < size(), raw (tests, inspection).
  Transitions At(int64_t i) const;

  // Writes the stored transitions to `path` atomically (temp file, fsync,
  // rename), tagged with `update`, the checkpoint they belong to. Throws
  // std::runtime_error on I/O failure.
  void Save(const std::string& path, int64_t update) const;
  // Replaces the contents with those saved at `path` when the file exists, is
  // readable, matches this buffer's dimensions and was saved at `update`;
  // otherwise leaves the buffer as it is and returns false with the reason
  // in `problem`.
  bool Load(const std::string& path, int64_t update, std::string* problem);

 private:
  int64_t capacity_;
  int obs_dim_, act_dim_;
  int64_t size_ = 0;
  int64_t next_ = 0;
  torch::Tensor obs_, actions_, rewards_, next_obs_, terminated_;
};

// Throws UserError when the replay buffer config asks for would exceed
// algorithm.replay_max_mib for a task with these dimensions.
void CheckReplayMemory(const AlgorithmConfig& config, int obs_dim, int act_dim,
                       const std::string& task = "");

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_REPLAY_BUFFER_H_

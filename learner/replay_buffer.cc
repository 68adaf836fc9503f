#include "learner/replay_buffer.h"

#include <cstdio>
#include <filesystem>

#include "algorithms/registry.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "learner/checkpoint.h"
#include "learner/learner.h"

namespace robofleet::learner {

Transitions TransitionsOf(const FragmentBatcher& batch) {
  ROBOFLEET_CHECK(batch.full());
  const int64_t T = batch.T(), B = batch.B();
  const int64_t D = batch.obs().size(2), A = batch.actions().size(2);
  Transitions out;
  out.obs = batch.obs().slice(0, 0, T).reshape({T * B, D});
  torch::Tensor next_obs = batch.obs().slice(0, 1, T + 1).reshape({T * B, D}).clone();
  // a truncated step continues from its final observation, not the next episode's first
  const torch::Tensor index = batch.truncated_index();
  if (index.numel() > 0) next_obs.index_copy_(0, index, batch.truncated_obs());
  out.next_obs = next_obs;
  out.actions = torch::tanh(batch.actions()).reshape({T * B, A});
  out.rewards = batch.rewards().reshape({T * B});
  out.terminated = batch.terminated().reshape({T * B});
  return out;
}

int64_t ReplayBuffer::BytesPerTransition(int obs_dim, int act_dim) {
  // obs and next obs, action, reward, terminated, all float32
  return static_cast<int64_t>(sizeof(float)) * (2 * obs_dim + act_dim + 2);
}

int64_t ReplayBuffer::BytesFor(int64_t capacity, int obs_dim, int act_dim) {
  return capacity * BytesPerTransition(obs_dim, act_dim);
}

ReplayBuffer::ReplayBuffer(int64_t capacity, int obs_dim, int act_dim)
    : capacity_(capacity), obs_dim_(obs_dim), act_dim_(act_dim) {
  ROBOFLEET_CHECK(capacity > 0);
  obs_ = torch::empty({capacity, obs_dim});
  actions_ = torch::empty({capacity, act_dim});
  rewards_ = torch::empty({capacity});
  next_obs_ = torch::empty({capacity, obs_dim});
  terminated_ = torch::empty({capacity});
}

void ReplayBuffer::Add(const Transitions& t) {
  const int64_t n = t.obs.size(0);
  ROBOFLEET_CHECK(t.actions.size(0) == n && t.rewards.size(0) == n && t.next_obs.size(0) == n &&
                  t.terminated.size(0) == n);
  // more than fits: only the newest capacity_ survive
  const int64_t skip = std::max<int64_t>(0, n - capacity_);
  next_ = (next_ + skip) % capacity_;
  int64_t from = skip;
  while (from < n) {
    // one contiguous run up to the end of the ring at a time
    const int64_t run = std::min(n - from, capacity_ - next_);
    obs_.narrow(0, next_, run).copy_(t.obs.narrow(0, from, run));
    actions_.narrow(0, next_, run).copy_(t.actions.narrow(0, from, run));
    rewards_.narrow(0, next_, run).copy_(t.rewards.narrow(0, from, run));
    next_obs_.narrow(0, next_, run).copy_(t.next_obs.narrow(0, from, run));
    terminated_.narrow(0, next_, run).copy_(t.terminated.narrow(0, from, run));
    next_ = (next_ + run) % capacity_;
    size_ = std::min(capacity_, size_ + run);
    from += run;
  }
}

algorithms::TransitionBatch ReplayBuffer::Sample(int64_t n,
                                                 const RunningNormalizer& normalizer) const {
  ROBOFLEET_CHECK(size_ > 0);
  const torch::Tensor index = torch::randint(0, size_, {n}, torch::kInt64);
  algorithms::TransitionBatch batch;
  batch.obs = NormalizeObs(obs_.index_select(0, index), normalizer);
  batch.actions = actions_.index_select(0, index);
  batch.rewards = rewards_.index_select(0, index);
  batch.next_obs = NormalizeObs(next_obs_.index_select(0, index), normalizer);
  batch.terminated = terminated_.index_select(0, index);
  return batch;
}

Transitions ReplayBuffer::At(int64_t i) const {
  ROBOFLEET_CHECK(i >= 0 && i < size_);
  return {obs_[i], actions_[i], rewards_[i], next_obs_[i], terminated_[i]};
}

void ReplayBuffer::Save(const std::string& path, int64_t update) const {
  // slots [0, size) in ring order, plus where the next one goes
  torch::serialize::OutputArchive archive;
  archive.write("obs", obs_.narrow(0, 0, size_));
  archive.write("actions", actions_.narrow(0, 0, size_));
  archive.write("rewards", rewards_.narrow(0, 0, size_));
  archive.write("next_obs", next_obs_.narrow(0, 0, size_));
  archive.write("terminated", terminated_.narrow(0, 0, size_));
  archive.write("state", torch::tensor({capacity_, size_, next_, update}, torch::kInt64));
  WriteAtomically(path, [&](const std::string& tmp) { archive.save_to(tmp); });
}

bool ReplayBuffer::Load(const std::string& path, int64_t update, std::string* problem) {
  if (!std::filesystem::exists(path)) {
    *problem = "no " + path;
    return false;
  }
  torch::Tensor obs, actions, rewards, next_obs, terminated, state;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    archive.read("obs", obs);
    archive.read("actions", actions);
    archive.read("rewards", rewards);
    archive.read("next_obs", next_obs);
    archive.read("terminated", terminated);
    archive.read("state", state);
  } catch (const c10::Error&) {
    *problem = path + " is not readable";
    return false;
  }
  const int64_t n = obs.size(0);
  if (state.numel() != 4 || obs.dim() != 2 || obs.size(1) != obs_dim_ ||
      actions.size(1) != act_dim_ || n > capacity_) {
    *problem = path + " does not fit this buffer's dimensions or capacity";
    return false;
  }
  auto s = state.accessor<int64_t, 1>();
  if (s[3] != update) {
    *problem =
        path + " belongs to update " + std::to_string(s[3]) + ", not " + std::to_string(update);
    return false;
  }
  obs_.narrow(0, 0, n).copy_(obs);
  actions_.narrow(0, 0, n).copy_(actions);
  rewards_.narrow(0, 0, n).copy_(rewards);
  next_obs_.narrow(0, 0, n).copy_(next_obs);
  terminated_.narrow(0, 0, n).copy_(terminated);
  size_ = n;
  // the same capacity continues the ring where it was; another starts after the last
  next_ = s[0] == capacity_ ? s[2] : n % capacity_;
  return true;
}

void CheckReplayMemory(const AlgorithmConfig& config, int obs_dim, int act_dim,
                       const std::string& task) {
  if (!algorithms::IsOffPolicy(config.name)) return;
  const double mib =
      static_cast<double>(ReplayBuffer::BytesFor(config.replay_capacity, obs_dim, act_dim)) /
      (1024.0 * 1024.0);
  if (mib <= config.replay_max_mib) return;
  char line[512];
  std::snprintf(line, sizeof(line),
                "config key 'algorithm.replay_capacity' asks for %lld transitions%s%s "
                "(%lld bytes each), %.1f MiB, above algorithm.replay_max_mib %g; lower "
                "algorithm.replay_capacity or raise algorithm.replay_max_mib",
                static_cast<long long>(config.replay_capacity), task.empty() ? "" : " of ",
                task.c_str(),
                static_cast<long long>(ReplayBuffer::BytesPerTransition(obs_dim, act_dim)), mib,
                config.replay_max_mib);
  throw UserError(line);
}

}  // namespace robofleet::learner

#include "envs/vector_env.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/bytes.h"
#include "core/seeds.h"
#include "envs/registry.h"

namespace robofleet::envs {

VectorEnv::VectorEnv(const EnvConfig& config, int num_envs, uint64_t seed) {
  if (num_envs < 1) {
    throw UserError("a vector env needs at least one env, got " + std::to_string(num_envs) +
                    "; set actors.envs_per_actor >= 1");
  }
  std::vector<std::unique_ptr<Env>> envs;
  for (int i = 0; i < num_envs; ++i) envs.push_back(MakeEnv(config));
  Init(std::move(envs), seed);
}

VectorEnv::VectorEnv(std::vector<std::unique_ptr<Env>> envs, uint64_t seed) {
  if (envs.empty()) throw std::invalid_argument("VectorEnv needs at least one env");
  for (const auto& env : envs) {
    if (env == nullptr) throw std::invalid_argument("VectorEnv was given a null env");
    const EnvSpec& a = env->spec();
    const EnvSpec& b = envs.front()->spec();
    if (a.id != b.id || a.obs_dim != b.obs_dim || a.act_dim != b.act_dim) {
      throw std::invalid_argument("VectorEnv envs must share one task; got '" + a.id + "' and '" +
                                  b.id + "'");
    }
  }
  Init(std::move(envs), seed);
}

void VectorEnv::Init(std::vector<std::unique_ptr<Env>> envs, uint64_t seed) {
  envs_.resize(envs.size());
  for (size_t i = 0; i < envs.size(); ++i) {
    envs_[i].env = std::move(envs[i]);
    envs_[i].seeds.seed(DeriveSeed(seed, i));
  }
  spec_ = envs_[0].env->spec();
  // room for one finished episode per env before the buffer has to grow
  finished_.reserve(envs_.size());
}

void VectorEnv::ResetSlot(Slot& slot, float* obs) {
  slot.env->Reset(slot.seeds(), obs);
  slot.ret = 0.0;
  slot.length = 0;
  slot.cut_at = 0;
}

void VectorEnv::StaggerEpisodes(int max_steps) {
  for (Slot& slot : envs_) {
    // the raw engine output, like every other draw here, so all libraries agree
    slot.cut_at =
        1 + static_cast<int>(slot.seeds() % static_cast<uint64_t>(std::max(1, max_steps)));
  }
}

std::string VectorEnv::SaveState() const {
  ByteWriter w;
  w.Put<uint64_t>(envs_.size());
  for (const Slot& slot : envs_) {
    std::ostringstream seeds;
    seeds << slot.seeds;
    w.PutString(seeds.str());
    w.Put(slot.ret);
    w.Put(slot.length);
    w.Put(slot.cut_at);
    w.PutString(slot.env->SaveState());
  }
  w.Put<uint64_t>(finished_.size());
  for (const Episode& e : finished_) w.Put(e);
  for (float x : finished_info_) w.Put(x);
  w.Put(diverged_episodes_);
  w.Put(started_);
  return w.str();
}

void VectorEnv::LoadState(std::string_view state) {
  ByteReader r(state);
  if (r.Get<uint64_t>() != envs_.size()) {
    throw std::runtime_error("saved state is of a different number of envs");
  }
  for (Slot& slot : envs_) {
    std::istringstream seeds{std::string(r.GetString())};
    seeds >> slot.seeds;
    if (!seeds) throw std::runtime_error("saved seed stream is malformed");
    slot.ret = r.Get<double>();
    slot.length = r.Get<int>();
    slot.cut_at = r.Get<int>();
    slot.env->LoadState(r.GetString());
  }
  const auto finished = r.Get<uint64_t>();
  if (finished > (uint64_t{1} << 20)) throw std::runtime_error("saved state is malformed");
  finished_.resize(finished);
  for (Episode& e : finished_) e = r.Get<Episode>();
  finished_info_.resize(finished * spec_.episode_info_names.size());
  for (float& x : finished_info_) x = r.Get<float>();
  diverged_episodes_ = r.Get<int64_t>();
  started_ = r.Get<bool>();
  if (!r.done()) throw std::runtime_error("saved state has trailing bytes");
}

void VectorEnv::Reset(float* obs) {
  for (size_t i = 0; i < envs_.size(); ++i) ResetSlot(envs_[i], obs + i * spec_.obs_dim);
  started_ = true;
}

void VectorEnv::Step(const float* actions, float* obs, float* reward, uint8_t* terminated,
                     uint8_t* truncated, std::vector<float>* truncated_obs) {
  if (!started_) throw std::logic_error("VectorEnv::Step called before Reset");
  const int obs_dim = spec_.obs_dim;
  const int act_dim = spec_.act_dim;
  const int k = num_envs();

  // check the whole batch first so a bad row leaves every env untouched
  for (int i = 0; i < k * act_dim; ++i) {
    if (!std::isfinite(actions[i])) {
      throw std::invalid_argument(
          "env '" + spec_.id + "': action of env " + std::to_string(i / act_dim) + " at index " +
          std::to_string(i % act_dim) + " is not finite; actions must be finite values in [-1, 1]");
    }
  }

  for (int i = 0; i < k; ++i) {
    Slot& slot = envs_[i];
    float* row = obs + static_cast<size_t>(i) * obs_dim;
    const StepResult result = slot.env->Step(actions + static_cast<size_t>(i) * act_dim, row);
    reward[i] = result.reward;
    slot.ret += result.reward;
    ++slot.length;
    const bool cut =
        !result.terminated && !result.truncated && slot.cut_at > 0 && slot.length >= slot.cut_at;
    terminated[i] = result.terminated ? 1 : 0;
    truncated[i] = result.truncated || cut ? 1 : 0;
    if (!result.terminated && !truncated[i]) continue;

    // record the episode, keep the bootstrap observation, start the next one
    if (truncated[i] && truncated_obs != nullptr) {
      truncated_obs->insert(truncated_obs->end(), row, row + obs_dim);
    }
    if (!cut) {
      finished_.push_back(Episode{static_cast<float>(slot.ret), slot.length, result.diverged});
      const size_t m = spec_.episode_info_names.size();
      finished_info_.resize(finished_info_.size() + m);
      if (m > 0) slot.env->WriteEpisodeInfo(finished_info_.data() + finished_info_.size() - m);
    }
    if (result.diverged) ++diverged_episodes_;
    ResetSlot(slot, row);
  }
}

std::vector<VectorEnv::Episode> VectorEnv::TakeFinishedEpisodes(std::vector<float>* info) {
  // copy out and keep our buffers' capacity for the next steps
  std::vector<Episode> out(finished_.begin(), finished_.end());
  if (info != nullptr) info->insert(info->end(), finished_info_.begin(), finished_info_.end());
  finished_.clear();
  finished_info_.clear();
  return out;
}

}  // namespace robofleet::envs

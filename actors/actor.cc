#include "actors/actor.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "actors/rollout_times.h"
#include "core/bytes.h"
#include "core/compute_threads.h"
#include "core/normalizer.h"
#include "core/policy.h"
#include "core/security.h"
#include "core/seeds.h"
#include "core/signals.h"
#include "core/state_file.h"
#include "core/wire.h"
#include "envs/mujoco_env.h"
#include "envs/vector_env.h"

namespace robofleet::actors {
namespace {

// The newest weights from the learner, applied to the local policy copy.
class WeightsReceiver {
 public:
  WeightsReceiver(zmq::socket_t& socket, ActorCritic& policy, RunningNormalizer& normalizer)
      : socket_(socket),
        policy_(policy),
        normalizer_(normalizer),
        num_params_(NumParameters(*policy)) {}
  ~WeightsReceiver() {
    if (rejected_ > 0) {
      std::fprintf(stderr, "actor: %lld weights messages rejected in all\n",
                   static_cast<long long>(rejected_));
    }
  }

  // Drains every queued message and applies the newest valid one. Waits up
  // to `timeout_ms` for the first. Returns true if weights changed.
  bool Poll(int timeout_ms) {
    bool applied = false;
    while (RecvMultipart(socket_, &parts_, applied ? 0 : timeout_ms)) {
      std::vector<wire::Frame> frames = FramesOf(parts_);
      wire::WeightsView w;
      wire::DecodeStatus status =
          wire::DecodeWeights(frames.data(), frames.size(), num_params_, normalizer_.dim(), &w);
      if (status.wrong_shape) {
        // a sound message for another network: no later message will fit
        // either, so end the actor rather than wait forever
        throw UserError("the learner's weights do not fit this actor's policy (" + status.error +
                        "); the learner runs another network or env than RUN_DIR/config.yaml "
                        "says: start a new run for a new shape");
      }
      if (!status.ok()) {
        // the first few reasons are worth a line; all are counted
        if (++rejected_ <= 10) {
          std::fprintf(stderr, "actor: rejected a weights message: %s\n", status.error.c_str());
        }
        continue;
      }
      // messages arrive in publishing order, so the last one is the newest; a
      // restarted learner may publish a lower version than the one it replaced
      if (has_version_ && static_cast<int64_t>(w.policy_version) == version_) continue;
      LoadFlatParameters(*policy_, w.params, w.num_params);
      normalizer_.Set(w.obs_mean, w.obs_var, 0.0);
      version_ = static_cast<int64_t>(w.policy_version);
      has_version_ = true;
      applied = true;
      timeout_ms = 0;
    }
    return applied;
  }

  bool has_version() const { return has_version_; }
  int64_t version() const { return version_; }
  int64_t rejected() const { return rejected_; }

 private:
  zmq::socket_t& socket_;
  ActorCritic& policy_;
  RunningNormalizer& normalizer_;
  int64_t num_params_;
  std::vector<zmq::message_t> parts_;
  bool has_version_ = false;
  int64_t version_ = -1;
  int64_t rejected_ = 0;
};

// Draws every row's action from the policy's Gaussian with the actor's own
// stream: raw = mean + std * noise goes to the learner, tanh(raw) to the env
// when the policy squashes, and the log-prob follows from the noise exactly
// as ActorCritic::LogProb computes it from raw. Plain loops over K x A
// numbers: at actor batch sizes the dozen tensor ops of the same arithmetic
// cost more than the policy's matrix products.
void SampleActions(const ActionDistribution& dist, bool tanh_squash, envs::EnvRandom& noise,
                   float* raw, float* log_prob, float* squashed) {
  const torch::Tensor mean_t = dist.mean.contiguous(), log_std_t = dist.log_std.contiguous();
  const float* mean = mean_t.data_ptr<float>();
  const float* log_std = log_std_t.data_ptr<float>();
  const int64_t K = mean_t.size(0), A = mean_t.size(1);
  const double kLogSqrt2Pi = 0.5 * std::log(2.0 * M_PI), kLog2 = std::log(2.0);
  for (int64_t k = 0; k < K; ++k) {
    double lp = 0.0;
    for (int64_t a = 0; a < A; ++a) {
      const int64_t i = k * A + a;
      const double z = noise.Normal();
      raw[i] = static_cast<float>(mean[i] + std::exp(log_std[i]) * z);
      lp += -0.5 * z * z - log_std[i] - kLogSqrt2Pi;
      if (tanh_squash) {
        // log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))
        const double u = raw[i];
        const double softplus = std::max(-2.0 * u, 0.0) + std::log1p(std::exp(-std::abs(2.0 * u)));
        lp -= 2.0 * (kLog2 - u - softplus);
        squashed[i] = static_cast<float>(std::tanh(u));
      }
    }
    log_prob[k] = static_cast<float>(lp);
  }
}

// Everything the actor carries from one fragment to the next, as bytes.
std::string SaveActorState(const envs::VectorEnv& venv, const std::vector<float>& current_obs,
                           uint64_t sequence, const envs::EnvRandom& noise) {
  ByteWriter w;
  w.Put(sequence);
  w.PutString(std::string_view(reinterpret_cast<const char*>(current_obs.data()),
                               current_obs.size() * sizeof(float)));
  w.PutString(venv.SaveState());
  w.PutString(noise.Save());
  return w.str();
}

void LoadActorState(const std::string& state, envs::VectorEnv* venv,
                    std::vector<float>* current_obs, uint64_t* sequence, envs::EnvRandom* noise) {
  ByteReader r(state);
  *sequence = r.Get<uint64_t>();
  const std::string_view obs = r.GetString();
  if (obs.size() != current_obs->size() * sizeof(float)) {
    throw std::runtime_error("saved actor state is of another experiment");
  }
  std::memcpy(current_obs->data(), obs.data(), obs.size());
  venv->LoadState(r.GetString());
  noise->Load(std::string(r.GetString()));
}

}  // namespace

int RunActor(const ExperimentConfig& config, const ActorOptions& options) {
  const int T = config.actors.rollout_length, K = config.actors.envs_per_actor;
  // every random stream of this actor derives from the run seed and the index
  const uint64_t seed = ActorSeed(config.seed, options.index);
  envs::VectorEnv venv(config.env, K, seed);
  const int D = venv.spec().obs_dim, A = venv.spec().act_dim;

  // inference: one thread, no autograd
  SetComputeThreads(1, "actor");
  SeedTorch(seed);
  torch::NoGradGuard no_grad;
  ActorCritic policy(D, A, config.policy, venv.spec().privileged_dim);
  // the Gaussian noise of the actions: the actor's own stream
  envs::EnvRandom noise(DeriveSeed(seed, kActionNoiseStream));
  std::vector<float> squashed(static_cast<size_t>(K) * A);
  RunningNormalizer normalizer(D, config.normalizer.clip, config.normalizer.enabled);

  zmq::context_t context(1);
  zmq::socket_t push(context, zmq::socket_type::push);
  zmq::socket_t sub(context, zmq::socket_type::sub);
  if (!options.endpoints.keys_dir.empty()) {
    // over tcp the learner admits only holders of the run's actor key
    const RunKeys keys = ReadRunKeys(options.endpoints.keys_dir);
    MakeCurveClient(push, keys.actor, keys.learner.public_key);
    MakeCurveClient(sub, keys.actor, keys.learner.public_key);
  }
  push.set(zmq::sockopt::sndhwm, config.actors.send_hwm);
  push.set(zmq::sockopt::linger, 0);
  push.connect(options.endpoints.trajectories);
  sub.set(zmq::sockopt::rcvhwm, 2);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "");
  // the parameter vector is the largest valid frame
  sub.set(zmq::sockopt::maxmsgsize,
          static_cast<int64_t>(sizeof(float)) * NumParameters(*policy) + 4096);
  sub.connect(options.endpoints.weights);
  WeightsReceiver weights(sub, policy, normalizer);

  // the first weights define the policy; nothing is stepped before them
  while (!weights.has_version()) {
    if (StopRequested()) return 0;
    weights.Poll(100);
  }

  std::vector<float> current_obs(static_cast<size_t>(K) * D);
  std::vector<float> normalized(static_cast<size_t>(K) * D);
  std::vector<float> truncated_obs;
  venv.Reset(current_obs.data());
  venv.StaggerEpisodes(venv.spec().max_episode_steps);
  std::vector<float> episode_returns;
  std::vector<int32_t> episode_lengths;
  std::vector<float> episode_info;  // [E, M]
  const int M = static_cast<int>(venv.spec().episode_info_names.size());
  uint64_t sequence = 0;
  const bool deterministic = config.train.deterministic;
  const int64_t fragments_per_update = FragmentsPerBatch(config);
  int64_t fragments_in_version = 0;
  if (deterministic && weights.version() > 0) {
    // a resumed run: continue from the state saved at this version
    const std::string path =
        ActorStatePath(options.checkpoint_dir, options.index, weights.version());
    const std::optional<std::string> saved = ReadStateFile(path);
    if (!saved) {
      throw UserError(path +
                      ": missing or damaged; a deterministic run resumes only from a "
                      "checkpoint whose actor states were saved");
    }
    LoadActorState(*saved, &venv, &current_obs, &sequence, &noise);
  }
  // where each microsecond goes, written out however the loop ends
  RolloutTimes times;
  RolloutTimesFile times_file(options.stats_path, &times);
  PhaseClock phase;

  // no autograd bookkeeping at all from here on: the rollout only reads the policy
  c10::InferenceMode inference;
  for (int64_t fragment = 0; options.max_fragments < 0 || fragment < options.max_fragments;
       ++fragment) {
    if (StopRequested()) break;
    if (deterministic && fragments_in_version == fragments_per_update) {
      // synchronous: the next fragments are made with the weights of the
      // update these ones feed
      const int64_t current = weights.version();
      while (weights.version() == current) {
        if (StopRequested()) return 0;
        weights.Poll(100);
      }
      if (weights.version() != current + 1) {
        std::fprintf(stderr,
                     "actor: the learner went from version %lld to %lld (restarted?); "
                     "this run is no longer deterministic\n",
                     static_cast<long long>(current), static_cast<long long>(weights.version()));
      }
      fragments_in_version = 0;
      const int64_t version = weights.version();
      if (version % config.train.checkpoint_every == 0) {
        std::filesystem::create_directories(options.checkpoint_dir);
        WriteStateFile(ActorStatePath(options.checkpoint_dir, options.index, version),
                       SaveActorState(venv, current_obs, sequence, noise));
        // the learner keeps train.keep_checkpoints checkpoints; so do we
        const int64_t expired = version - static_cast<int64_t>(config.train.keep_checkpoints) *
                                              config.train.checkpoint_every;
        std::filesystem::remove(ActorStatePath(options.checkpoint_dir, options.index, expired));
      }
    } else {
      weights.Poll(0);
    }
    ++fragments_in_version;
    phase.Lap(&times.weights_s);
    const int64_t version = weights.version();

    // frames written in place during the rollout
    zmq::message_t obs_msg(sizeof(float) * (T + 1) * K * D);
    zmq::message_t act_msg(sizeof(float) * T * K * A);
    zmq::message_t logp_msg(sizeof(float) * T * K);
    zmq::message_t rew_msg(sizeof(float) * T * K);
    zmq::message_t term_msg(static_cast<size_t>(T) * K);
    zmq::message_t trunc_msg(static_cast<size_t>(T) * K);
    float* obs = obs_msg.data<float>();
    float* actions = act_msg.data<float>();
    float* log_probs = logp_msg.data<float>();
    float* rewards = rew_msg.data<float>();
    uint8_t* terminated = term_msg.data<uint8_t>();
    uint8_t* truncated = trunc_msg.data<uint8_t>();
    truncated_obs.clear();
    std::memcpy(obs, current_obs.data(), sizeof(float) * K * D);
    phase.Lap(&times.serialise_s);

    for (int t = 0; t < T; ++t) {
      const float* obs_t = obs + static_cast<size_t>(t) * K * D;
      // one batched forward: sample u ~ N(mean, std), keep its log-prob; the env
      // gets tanh(u) when the policy squashes
      normalizer.Normalize(obs_t, normalized.data(), K);
      torch::Tensor x = torch::from_blob(normalized.data(), {K, D});
      float* raw = actions + static_cast<size_t>(t) * K * A;
      SampleActions(policy->Distribution(x), config.policy.tanh_squash, noise, raw,
                    log_probs + static_cast<size_t>(t) * K, squashed.data());
      phase.Lap(&times.inference_s);
      venv.Step(config.policy.tanh_squash ? squashed.data() : raw,
                obs + static_cast<size_t>(t + 1) * K * D, rewards + static_cast<size_t>(t) * K,
                terminated + static_cast<size_t>(t) * K, truncated + static_cast<size_t>(t) * K,
                &truncated_obs);
      phase.Lap(&times.simulate_s);
    }
    std::memcpy(current_obs.data(), obs + static_cast<size_t>(T) * K * D, sizeof(float) * K * D);

    episode_returns.clear();
    episode_lengths.clear();
    episode_info.clear();
    for (const auto& e : venv.TakeFinishedEpisodes(&episode_info)) {
      episode_returns.push_back(e.ret);
      episode_lengths.push_back(e.length);
    }
    const int N = static_cast<int>(truncated_obs.size() / D);
    const int E = static_cast<int>(episode_returns.size());

    wire::Header header = wire::FragmentHeader(static_cast<uint64_t>(version), options.index,
                                               sequence++, T, K, D, A, N, E, M);
    std::vector<uint8_t> head = wire::EncodeHeader(header);
    std::vector<zmq::message_t> parts;
    parts.reserve(11);
    parts.emplace_back(head.data(), head.size());
    parts.push_back(std::move(obs_msg));
    parts.push_back(std::move(act_msg));
    parts.push_back(std::move(logp_msg));
    parts.push_back(std::move(rew_msg));
    parts.push_back(std::move(term_msg));
    parts.push_back(std::move(trunc_msg));
    parts.emplace_back(truncated_obs.data(), truncated_obs.size() * sizeof(float));
    parts.emplace_back(episode_returns.data(), episode_returns.size() * sizeof(float));
    parts.emplace_back(episode_lengths.data(), episode_lengths.size() * sizeof(int32_t));
    parts.emplace_back(episode_info.data(), episode_info.size() * sizeof(float));
    for (const zmq::message_t& part : parts) times.bytes += static_cast<int64_t>(part.size());
    phase.Lap(&times.serialise_s);
    const bool had_room = (push.get(zmq::sockopt::events) & ZMQ_POLLOUT) != 0;

    // backpressure: wait while the learner is behind, but stay stoppable
    while (!SendMultipart(push, parts, 100)) {
      if (StopRequested()) return 0;
      weights.Poll(0);
    }
    phase.Lap(had_room ? &times.send_s : &times.wait_s);
    ++times.fragments;
    times.env_steps += static_cast<int64_t>(T) * K;
  }
  // ended by its fragment count rather than a stop: what was sent still
  // reaches the learner, for up to a second after the socket closes
  if (!StopRequested()) push.set(zmq::sockopt::linger, 1000);
  return 0;
}

}  // namespace robofleet::actors

#include "learner/learner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <thread>

#include "algorithms/registry.h"
#include "core/check.h"
#include "core/crc32c.h"
#include "core/metrics.h"
#include "core/security.h"
#include "core/signals.h"
#include "core/state_file.h"
#include "core/tensorboard.h"
#include "learner/checkpoint.h"
#include "learner/communicator.h"
#include "learner/device.h"
#include "learner/export.h"
#include "learner/learner_parts.h"

namespace robofleet::learner {
namespace {

const std::vector<std::string> kMetricColumns = {"env_steps",
                                                 "wall_s",
                                                 "sps",
                                                 "episode_return_mean",
                                                 "episode_len_mean",
                                                 "policy_loss",
                                                 "value_loss",
                                                 "entropy",
                                                 "approx_kl",
                                                 "clip_frac",
                                                 "policy_lag_mean",
                                                 "policy_lag_p90",
                                                 "policy_lag_max",
                                                 "dropped_fragments",
                                                 "learning_rate",
                                                 "grad_norm",
                                                 "actor_restarts",
                                                 "nonfinite_steps"};

}  // namespace

void WeightsPublisher::Publish(ActorCritic& policy, const RunningNormalizer& normalizer,
                               int64_t version) {
  const torch::Tensor flat = HostParameters(policy);
  const int D = normalizer.dim();
  wire::Header header =
      wire::WeightsHeader(static_cast<uint64_t>(version), 0, sequence_++, flat.numel(), D);
  std::vector<uint8_t> head = wire::EncodeHeader(header);
  std::vector<zmq::message_t> parts;
  parts.emplace_back(head.data(), head.size());
  parts.emplace_back(flat.data_ptr<float>(), flat.numel() * sizeof(float));
  std::vector<float> mean(D), var(D);
  for (int i = 0; i < D; ++i) {
    mean[i] = static_cast<float>(normalizer.mean()[i]);
    var[i] = static_cast<float>(normalizer.var()[i]);
  }
  parts.emplace_back(mean.data(), D * sizeof(float));
  parts.emplace_back(var.data(), D * sizeof(float));
  // PUB never blocks: a subscriber that is behind loses old weights, as it should
  SendMultipart(socket_, parts, 0);
  last_publish_ = std::chrono::steady_clock::now();
}

void WeightsPublisher::RepublishIfDue(ActorCritic& policy, const RunningNormalizer& normalizer,
                                      int64_t version) {
  if (SecondsSinceLast() > kRepublishIntervalS) Publish(policy, normalizer, version);
}

double WeightsPublisher::SecondsSinceLast() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - last_publish_).count();
}

void ExportCheckpoint(const ExperimentConfig& config, const TaskInfo& task,
                      const std::string& checkpoint, const std::string& out) {
  ActorCritic policy(task.obs_dim, task.act_dim, config.policy, task.privileged_dim);
  RunningNormalizer normalizer(task.obs_dim, config.normalizer.clip, config.normalizer.enabled);
  TrainingCounters counters;
  LoadCheckpoint(checkpoint, policy, nullptr, &normalizer, &counters);
  ExportPolicy(policy, normalizer, MakeMetadata(task, counters.env_steps, config), out);
}

FragmentBatcher::FragmentBatcher(int T, int K, int obs_dim, int act_dim, int num_fragments,
                                 torch::TensorOptions options)
    : T_(T), K_(K), D_(obs_dim), A_(act_dim), num_fragments_(num_fragments) {
  const int64_t B = static_cast<int64_t>(K) * num_fragments;
  obs_ = torch::empty({T + 1, B, obs_dim}, options);
  actions_ = torch::empty({T, B, act_dim}, options);
  log_probs_ = torch::empty({T, B}, options);
  rewards_ = torch::empty({T, B}, options);
  terminated_ = torch::empty({T, B}, options);
  truncated_ = torch::empty({T, B}, options);
}

void FragmentBatcher::Clear() {
  count_ = 0;
  truncated_obs_.clear();
  truncated_index_.clear();
}

void FragmentBatcher::Add(const wire::FragmentView& f) {
  ROBOFLEET_CHECK(!full() && f.T == T_ && f.K == K_ && f.D == D_ && f.A == A_);
  const int64_t col = static_cast<int64_t>(count_) * K_;
  // tensors over the received frames themselves (no copy); each lands in
  // columns [col, col + K) of the batch with one strided copy, the 0/1 flags
  // converted to float on the way
  auto frame = [](const void* data, at::IntArrayRef shape, torch::Dtype type) {
    return torch::from_blob(const_cast<void*>(data), shape, type);
  };
  obs_.narrow(1, col, K_).copy_(frame(f.obs, {T_ + 1, K_, D_}, torch::kFloat32));
  actions_.narrow(1, col, K_).copy_(frame(f.actions, {T_, K_, A_}, torch::kFloat32));
  log_probs_.narrow(1, col, K_).copy_(frame(f.log_probs, {T_, K_}, torch::kFloat32));
  rewards_.narrow(1, col, K_).copy_(frame(f.rewards, {T_, K_}, torch::kFloat32));
  terminated_.narrow(1, col, K_).copy_(frame(f.terminated, {T_, K_}, torch::kUInt8));
  const torch::Tensor truncated = frame(f.truncated, {T_, K_}, torch::kUInt8);
  truncated_.narrow(1, col, K_).copy_(truncated);
  if (f.N > 0) {
    // final observations in (t, k) order, as the actor appended them
    const torch::Tensor where = truncated.nonzero();  // [N, 2]
    truncated_index_.push_back(where.select(1, 0) * B() + col + where.select(1, 1));
    const int64_t N = f.N;
    truncated_obs_.push_back(frame(f.truncated_obs, {N, D_}, torch::kFloat32).clone());
  }
  ++count_;
}

torch::Tensor FragmentBatcher::truncated_obs() const {
  return truncated_obs_.empty() ? torch::empty({0, D_}) : torch::cat(truncated_obs_);
}

torch::Tensor FragmentBatcher::truncated_index() const {
  if (truncated_index_.empty()) return torch::empty({0}, torch::kInt64);
  return torch::cat(truncated_index_);
}

torch::Tensor NormalizeObs(const torch::Tensor& raw, const RunningNormalizer& normalizer) {
  if (!normalizer.enabled()) return raw;
  torch::Tensor mean = torch::tensor(normalizer.mean_f32()).to(raw.device());
  torch::Tensor inv_std = torch::tensor(normalizer.inv_std_f32()).to(raw.device());
  const double c = normalizer.clip();
  return ((raw - mean) * inv_std).clamp(-c, c);
}

algorithms::RolloutBatch BuildRolloutBatch(const FragmentBatcher& batch, ActorCritic& policy,
                                           const RunningNormalizer& normalizer,
                                           algorithms::OnPolicyAlgorithm& algorithm) {
  ROBOFLEET_CHECK(batch.full());
  const int64_t T = batch.T(), B = batch.B();
  const int64_t D = batch.obs().size(2), A = batch.actions().size(2);
  // the batch goes to the policy's device (from pinned memory without blocking)
  const torch::Device device = policy->parameters().front().device();
  torch::Tensor obs = NormalizeObs(ToDevice(batch.obs(), device), normalizer);  // [T+1, B, D]

  algorithms::Trajectory trajectory;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor all = policy->Value(obs.reshape({-1, D})).reshape({T + 1, B});
    trajectory.values = all.slice(0, 0, T).contiguous();
    trajectory.next_values = all.slice(0, 1, T + 1).clone();
    // truncated steps bootstrap from their final observation, terminated ones from nothing
    torch::Tensor index = ToDevice(batch.truncated_index(), device);
    if (index.numel() > 0) {
      torch::Tensor v =
          policy->Value(NormalizeObs(ToDevice(batch.truncated_obs(), device), normalizer));
      trajectory.next_values.view({-1}).index_put_({index}, v);
    }
    trajectory.next_values.mul_(1.0 - ToDevice(batch.terminated(), device));
  }
  trajectory.obs = obs.slice(0, 0, T);
  trajectory.actions = ToDevice(batch.actions(), device);
  trajectory.log_probs = ToDevice(batch.log_probs(), device);
  trajectory.rewards = ToDevice(batch.rewards(), device);
  trajectory.dones = ToDevice((batch.terminated() + batch.truncated()).clamp_max(1.0), device);
  algorithms::Targets targets = algorithm.ComputeTargets(trajectory);

  algorithms::RolloutBatch out;
  out.obs = trajectory.obs.reshape({T * B, D});
  out.actions = trajectory.actions.reshape({T * B, A});
  out.log_probs = trajectory.log_probs.reshape({T * B});
  if (targets.reference_log_probs.defined()) {
    out.reference_log_probs = targets.reference_log_probs.reshape({T * B});
  }
  out.advantages = targets.advantages.reshape({T * B});
  out.returns = targets.returns.reshape({T * B});
  out.values = trajectory.values.reshape({T * B});
  return out;
}

int RunLearner(const ExperimentConfig& config, const LearnerOptions& options) {
  // what the algorithm asks of the config, before anything starts
  algorithms::ValidateAlgorithm(config);
  if (algorithms::IsOffPolicy(config.algorithm.name)) return RunOffPolicyLearner(config, options);
  const TaskInfo& task = options.task;
  const int T = config.actors.rollout_length, K = config.actors.envs_per_actor;
  const int W = options.world_size;
  const bool leader = options.rank == 0;
  // each rank gathers its share of the batch
  const int num_fragments = static_cast<int>(FragmentsPerBatch(config, W));
  // rank r on GPU r mod learner.count (its local rank), or the CPU
  const torch::Device device = LearnerDevice(config.learner, options.rank);
  std::unique_ptr<Communicator> comm = ConnectRanks(config, options, device);

  torch::set_num_threads(config.learner.threads);
  SeedTorch(config.seed);
  ActorCritic policy(task.obs_dim, task.act_dim, config.policy, task.privileged_dim);
  policy->to(device);
  // the critic's return statistics span every rank's batch
  if (comm) MergeValueStatistics(*comm, policy);
  RunningNormalizer normalizer(task.obs_dim, config.normalizer.clip, config.normalizer.enabled);
  std::unique_ptr<algorithms::OnPolicyAlgorithm> algorithm =
      algorithms::CreateOnPolicyAlgorithm(config.algorithm, policy);
  TrainingCounters counters;

  const std::string checkpoint_dir = options.run_dir + "/checkpoints";
  // on resume every piece of state comes back: model, optimiser (with the
  // adaptive learning rate), normaliser, counters, the sampling RNG; a
  // deterministic run continues only where its actor's state was saved too
  std::function<bool(int64_t)> usable;
  if (config.train.deterministic) {
    usable = [&](int64_t update) {
      return ReadStateFile(ActorStatePath(checkpoint_dir, 0, update)).has_value();
    };
  }
  std::unique_ptr<CsvWriter> metrics = StartOrResume(
      options, kMetricColumns, policy, algorithm->optimizer(), normalizer, counters, {}, usable);
  policy->to(device);  // checkpoints load into host memory
  // every rank starts from rank 0's parameters
  if (comm) BroadcastParameters(*comm, policy);
  std::optional<TensorBoardWriter> tensorboard;
  if (leader) {
    tensorboard.emplace(options.run_dir + "/tb");
    tensorboard->AddText("config", 0, "```yaml\n" + ToYaml(config) + "```\n");
    tensorboard->Flush();
  }

  // sockets: fragments in, weights out
  LearnerSockets sockets(config, options);
  std::optional<WeightsPublisher>& publisher = sockets.publisher;
  if (publisher) publisher->Publish(policy, normalizer, counters.policy_version);

  FragmentBatcher batcher(T, K, task.obs_dim, task.act_dim, num_fragments, HostOptions(device));
  FragmentBatcher next_batcher(T, K, task.obs_dim, task.act_dim, num_fragments,
                               HostOptions(device));
  // the last 100 finished episodes (restored on resume, so the means continue)
  FragmentIntake intake(sockets.pull, task, T, K, config.algorithm.max_policy_lag, counters);
  auto save_checkpoint = [&] {
    if (!leader) return;
    intake.SaveTo(counters);
    SaveCheckpoint(checkpoint_dir, policy, algorithm->optimizer(), normalizer, counters,
                   config.train.keep_checkpoints);
  };
  // the policy lag of each fragment in the batch (and in the next one)
  std::vector<int64_t> lags, next_lags;
  int64_t nonfinite_steps = 0;
  int nonfinite_updates = 0;  // in a row
  const Clock::time_point start = Clock::now();
  ProgressLine progress(config, options.quiet);

  // one message into a batch trained at policy `version`, when valid and fresh for it
  auto receive_fragment = [&](FragmentBatcher& into, std::vector<int64_t>& into_lags,
                              int64_t version, int timeout_ms) {
    intake.Receive(into, into_lags, version, timeout_ms);
  };
  const algorithms::GradientHook hook =
      comm ? AverageGradients(*comm, policy) : algorithms::GradientHook();
  while (true) {
    // ranks stop together: each says whether it must, at every update
    bool stop = counters.env_steps >= config.train.total_env_steps || StopRequested();
    if (!stop && !batcher.full()) {
      // fill one batch; the current weights go out again meanwhile, so late
      // subscribers catch up even while stale fragments keep arriving
      if (publisher) publisher->RepublishIfDue(policy, normalizer, counters.policy_version);
      receive_fragment(batcher, lags, counters.policy_version, 100);
      continue;
    }
    // a rank whose batch is full waits here for the others; rank 0 keeps
    // publishing meanwhile, or actors that missed the weights of a restarted
    // learner would never feed the ranks it waits for
    if (comm) {
      stop = AnyRank(*comm, stop, [&] {
        if (publisher) publisher->RepublishIfDue(policy, normalizer, counters.policy_version);
      });
    }
    if (stop) break;

    // update on the full batch, while a second thread receives, checks and
    // batches the fragments of the next one (they are trained at the next
    // version, so their lag counts from it)
    std::atomic<bool> updating{true};
    std::thread receiver;
    if (config.learner.receive_during_update) {
      receiver = std::thread([&] {
        while (updating.load() && !next_batcher.full()) {
          receive_fragment(next_batcher, next_lags, counters.policy_version + 1, 5);
        }
      });
    }
    struct Joiner {
      std::atomic<bool>& flag;
      std::thread& thread;
      ~Joiner() {
        flag = false;
        if (thread.joinable()) thread.join();
      }
    } joiner{updating, receiver};
    algorithms::RolloutBatch batch = BuildRolloutBatch(batcher, policy, normalizer, *algorithm);
    algorithm->SetLearningRate(algorithms::ScheduledLearningRate(
        config.algorithm, static_cast<double>(counters.env_steps) / config.train.total_env_steps,
        algorithm->LearningRate()));
    algorithms::UpdateStats stats = algorithm->Update(batch, hook);
    nonfinite_steps += stats.skipped_steps;
    if (stats.optimizer_steps == 0 && stats.skipped_steps > 0) {
      // nothing could be learned from this batch; a few in a row mean the run is broken
      if (++nonfinite_updates >= config.train.max_nonfinite_updates) {
        std::fprintf(stderr,
                     "learner: %d updates in a row had only non-finite losses or gradients; "
                     "stopping. The last good checkpoint is %s\n",
                     nonfinite_updates, LatestCheckpoint(checkpoint_dir).c_str());
        return 3;
      }
    } else {
      nonfinite_updates = 0;
    }
    if (comm) {
      MergeObservations(*comm, batcher.obs().data_ptr<float>(),
                        static_cast<int64_t>(T) * batcher.B(), normalizer);
    } else {
      normalizer.Update(batcher.obs().data_ptr<float>(), static_cast<int64_t>(T) * batcher.B());
    }
    counters.env_steps += batcher.steps() * W;
    counters.updates += 1;
    counters.policy_version += 1;
    counters.dropped_fragments = intake.dropped();
    const LagSummary lag = SummarizeLags(lags);
    updating = false;
    if (receiver.joinable()) receiver.join();
    batcher.Clear();
    std::swap(batcher, next_batcher);
    lags.swap(next_lags);
    next_lags.clear();
    if (publisher) publisher->Publish(policy, normalizer, counters.policy_version);
    if (!leader) continue;

    // report
    const double wall = counters.wall_s + Seconds(start);
    const double sps = counters.env_steps / std::max(wall, 1e-9);
    MetricsRow row(kMetricColumns);
    row.Set("env_steps", static_cast<double>(counters.env_steps))
        .Set("wall_s", wall)
        .Set("sps", sps)
        .Set("episode_return_mean", intake.mean_return())
        .Set("episode_len_mean", intake.mean_length())
        .Set("policy_loss", stats.policy_loss)
        .Set("value_loss", stats.value_loss)
        .Set("entropy", stats.entropy)
        .Set("approx_kl", stats.approx_kl)
        .Set("clip_frac", stats.clip_frac)
        .Set("policy_lag_mean", lag.mean)
        .Set("policy_lag_p90", lag.p90)
        .Set("policy_lag_max", lag.max)
        .Set("dropped_fragments", static_cast<double>(counters.dropped_fragments))
        .Set("learning_rate", stats.learning_rate)
        .Set("grad_norm", stats.grad_norm)
        .Set("actor_restarts", static_cast<double>(intake.actor_restarts()))
        .Set("nonfinite_steps", static_cast<double>(nonfinite_steps));
    WriteMetricsRow(*metrics, *tensorboard, row, counters.env_steps);
    if (counters.updates % config.train.checkpoint_every == 0) save_checkpoint();
    progress.Maybe(counters.env_steps, intake.mean_return(), lag.mean, counters.dropped_fragments);
  }

  // the end: a final checkpoint and the exported policy
  counters.dropped_fragments = intake.dropped();
  save_checkpoint();
  FinishRun(config, options, policy, normalizer, counters.env_steps,
            counters.wall_s + Seconds(start), intake);
  return 0;
}

}  // namespace robofleet::learner

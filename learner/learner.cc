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

std::string RunShapes(const ExperimentConfig& config, const TaskInfo& task) {
  const PolicyConfig& p = config.policy;
  std::string hidden;
  for (int width : p.hidden) hidden += (hidden.empty() ? "" : ", ") + std::to_string(width);
  return task.env_id + " obs " + std::to_string(task.obs_dim) + " act " +
         std::to_string(task.act_dim) + " priv " + std::to_string(task.privileged_dim) + "; " +
         config.algorithm.name + "; policy [" + hidden + "] " + p.activation + " shared " +
         std::to_string(p.shared_trunk) + " state_std " + std::to_string(p.state_dependent_std) +
         " squash " + std::to_string(p.tanh_squash) + " value_norm " +
         std::to_string(p.normalize_value);
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

namespace {

// One learner rank's on-policy run (PPO, APPO): RunLearner reads as its
// stages, in order (see LearnerRun for the ones every loop shares).
class OnPolicyRun : public LearnerRun {
 public:
  // Connects the ranks, builds the policy and the algorithm on the rank's
  // device, resumes from the newest usable checkpoint, opens the sockets and
  // publishes the first weights.
  OnPolicyRun(const ExperimentConfig& config, const LearnerOptions& options);

  // One update on the full batch: its targets, the algorithm's epochs
  // (gradients averaged over ranks by the hook), the normaliser. The
  // fragments of the next batch are received meanwhile. Nothing when the run
  // must end because too many updates in a row were not finite.
  std::optional<algorithms::UpdateStats> Learn();

  // Counts the update, makes the next batch current and publishes the new
  // weights.
  void Advance();

  // Rank 0: the metrics row, a checkpoint when due, the progress line.
  void Report(const algorithms::UpdateStats& stats);

  // The final checkpoint and the exported policy; the exit status.
  int Finish();

 private:
  void SaveCheckpointIfLeader();

  std::unique_ptr<algorithms::OnPolicyAlgorithm> algorithm_;
  algorithms::GradientHook hook_;
  // the next batch, filled during an update, and its fragments' lags
  std::optional<FragmentBatcher> next_batcher_;
  std::vector<int64_t> next_lags_;
  LagSummary lag_;  // of the batch just trained on
  int64_t nonfinite_steps_ = 0;
  int nonfinite_updates_ = 0;  // in a row
};

OnPolicyRun::OnPolicyRun(const ExperimentConfig& config, const LearnerOptions& options)
    // rank r on GPU r mod learner.count (its local rank), or the CPU
    : LearnerRun(config, options, LearnerDevice(config.learner, options.rank)) {
  const torch::Device device = policy_->parameters().front().device();
  // the critic's return statistics span every rank's batch
  if (comm_) MergeValueStatistics(*comm_, policy_);
  algorithm_ = algorithms::CreateOnPolicyAlgorithm(config_.algorithm, policy_);

  // on resume every piece of state comes back: model, optimiser (with the
  // adaptive learning rate), normaliser, counters, the sampling RNG; a
  // deterministic run continues only where its actor's state was saved too
  metric_columns_ = WithEpisodeInfo(kMetricColumns);
  metrics_ = StartOrResume(options_, metric_columns_, policy_, algorithm_->optimizer(), normalizer_,
                           counters_, owner_, {},
                           ResumableCheckpoints(checkpoint_dir_, config_.train.deterministic));
  policy_->to(device);  // checkpoints load into host memory
  // every rank starts from rank 0's parameters
  if (comm_) BroadcastParameters(*comm_, policy_);
  // gradients are averaged in place over the parameters as they are from here on
  hook_ = comm_ ? AverageGradients(*comm_, policy_) : algorithms::GradientHook();

  Open(HostOptions(device), config_.algorithm.max_policy_lag);
  next_batcher_.emplace(
      config_.actors.rollout_length, config_.actors.envs_per_actor, task_.obs_dim, task_.act_dim,
      static_cast<int>(FragmentsPerBatch(config_, options_.world_size)), HostOptions(device));
}

std::optional<algorithms::UpdateStats> OnPolicyRun::Learn() {
  // a second thread receives, checks and batches the fragments of the next
  // batch while this one trains; they will be trained at the next version,
  // so their lag counts from it. The thread touches only the next batch, its
  // lags and the intake, and it is joined before anything reads them.
  const int64_t next_version = counters_.policy_version + 1;
  std::atomic<bool> updating{true};
  std::thread receiver;
  if (config_.learner.receive_during_update) {
    receiver = std::thread([this, next_version, &updating] {
      while (updating.load() && !next_batcher_->full()) {
        intake_->Receive(*next_batcher_, next_lags_, next_version, 5);
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

  algorithms::RolloutBatch batch = BuildRolloutBatch(*batcher_, policy_, normalizer_, *algorithm_);
  algorithm_->SetLearningRate(algorithms::ScheduledLearningRate(
      config_.algorithm, static_cast<double>(counters_.env_steps) / config_.train.total_env_steps,
      algorithm_->LearningRate()));
  const algorithms::UpdateStats stats = algorithm_->Update(batch, hook_);
  nonfinite_steps_ += stats.skipped_steps;
  if (stats.optimizer_steps == 0 && stats.skipped_steps > 0) {
    // nothing could be learned from this batch; a few in a row mean the run is broken
    if (++nonfinite_updates_ >= config_.train.max_nonfinite_updates) {
      std::fprintf(stderr,
                   "learner: %d updates in a row had only non-finite losses or gradients; "
                   "stopping. The last good checkpoint is %s\n",
                   nonfinite_updates_, LatestCheckpoint(checkpoint_dir_).c_str());
      return std::nullopt;
    }
  } else {
    nonfinite_updates_ = 0;
  }
  const int64_t rows = static_cast<int64_t>(batcher_->T()) * batcher_->B();
  if (comm_) {
    MergeObservations(*comm_, batcher_->obs().data_ptr<float>(), rows, normalizer_);
  } else {
    normalizer_.Update(batcher_->obs().data_ptr<float>(), rows);
  }
  return stats;
}

void OnPolicyRun::Advance() {
  counters_.env_steps += batcher_->steps() * options_.world_size;
  counters_.updates += 1;
  counters_.policy_version += 1;
  counters_.dropped_fragments = intake_->dropped();
  lag_ = SummarizeLags(lags_);
  batcher_->Clear();
  std::swap(batcher_, next_batcher_);
  lags_.swap(next_lags_);
  next_lags_.clear();
  Publish();
}

void OnPolicyRun::Report(const algorithms::UpdateStats& stats) {
  if (!leader_) return;
  MetricsRow row = StartRow(metric_columns_, lag_);
  row.Set("policy_loss", stats.policy_loss)
      .Set("value_loss", stats.value_loss)
      .Set("entropy", stats.entropy)
      .Set("approx_kl", stats.approx_kl)
      .Set("clip_frac", stats.clip_frac)
      .Set("learning_rate", stats.learning_rate)
      .Set("grad_norm", stats.grad_norm)
      .Set("nonfinite_steps", static_cast<double>(nonfinite_steps_));
  WriteRow(row);
  if (counters_.updates % config_.train.checkpoint_every == 0) SaveCheckpointIfLeader();
  progress_.Maybe(counters_.env_steps, intake_->mean_return(), lag_.mean,
                  counters_.dropped_fragments);
}

int OnPolicyRun::Finish() {
  counters_.dropped_fragments = intake_->dropped();
  SaveCheckpointIfLeader();
  FinishRun();
  return ExitStatus();
}

void OnPolicyRun::SaveCheckpointIfLeader() {
  if (!leader_) return;
  intake_->SaveTo(counters_);
  SaveCheckpoint(checkpoint_dir_, policy_, algorithm_->optimizer(), normalizer_, counters_,
                 config_.train.keep_checkpoints, {}, owner_);
}

}  // namespace

int RunLearner(const ExperimentConfig& config, const LearnerOptions& options) {
  // what the algorithm asks of the config, before anything starts
  algorithms::ValidateAlgorithm(config);
  if (algorithms::IsOffPolicy(config.algorithm.name)) return RunOffPolicyLearner(config, options);

  // connect the ranks, build, resume, open the sockets, publish the weights
  OnPolicyRun run(config, options);
  while (true) {
    // receive fragments until this rank's batch is full
    run.FillBatch();
    // every rank goes on, or all stop
    if (run.AllRanksStop()) break;
    // update on the batch, gradients averaged over ranks; the next batch fills meanwhile
    const std::optional<algorithms::UpdateStats> stats = run.Learn();
    if (!stats) return 3;  // only non-finite updates, several in a row
    // count the update, swap in the next batch, publish the new weights
    run.Advance();
    // rank 0: metrics, checkpoint, progress
    run.Report(*stats);
  }
  // the final checkpoint and the exported policy
  return run.Finish();
}

}  // namespace robofleet::learner

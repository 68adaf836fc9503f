// The off-policy learner loop (sac):
//
//   PULL fragments -> decode + validate -> FragmentBatcher (learner.batch_size
//   env steps) -> replay buffer -> normaliser update -> after
//   algorithm.warmup_steps, utd_ratio gradient steps per env step, each on a
//   uniform sample of the buffer -> PUB weights -> metrics.csv, progress
//   line, checkpoints -> ... -> policy.pt
//
// Fragments of any policy version are kept: the buffer is off-policy anyway.
// With several ranks each keeps its own buffer of its own actors'
// transitions; every rank takes the same number of gradient steps and the
// GradientHook averages the gradients of every network. Ranks start from the
// same parameters because they share the seed (and on resume, the checkpoint).
//
// With algorithm.save_replay each rank writes its buffer beside every
// checkpoint and a resumed run continues with it; when any rank's file is
// missing or belongs to another checkpoint, every rank starts empty and warms
// up again for algorithm.warmup_steps env steps.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "algorithms/registry.h"
#include "core/signals.h"
#include "learner/learner_parts.h"
#include "learner/replay_buffer.h"

namespace robofleet::learner {
namespace {

// clang-format off
const std::vector<std::string> kOffPolicyColumns = {
    "env_steps", "wall_s", "sps", "episode_return_mean", "episode_len_mean",
    "policy_loss", "value_loss", "entropy", "alpha", "q_mean",
    "policy_lag_mean", "policy_lag_p90", "policy_lag_max", "dropped_fragments",
    "learning_rate", "grad_norm", "actor_restarts", "nonfinite_steps", "gradient_steps",
    "updates_per_s", "replay_size", "replay_bytes"};
// clang-format on

// Means of the gradient steps of one round.
struct RoundStats {
  int64_t steps = 0, skipped = 0;
  double policy_loss = 0, value_loss = 0, entropy = 0, alpha = 0, q_mean = 0, grad_norm = 0,
         learning_rate = 0;

  void Add(const algorithms::UpdateStats& s) {
    skipped += s.skipped_steps;
    if (s.optimizer_steps == 0) return;
    ++steps;
    policy_loss += s.policy_loss;
    value_loss += s.value_loss;
    entropy += s.entropy;
    alpha = s.alpha;
    q_mean += s.q_mean;
    grad_norm += s.grad_norm;
    learning_rate = s.learning_rate;
  }
  double Mean(double sum) const { return steps > 0 ? sum / steps : std::nan(""); }
};

// One learner rank's off-policy run: RunOffPolicyLearner reads as its
// stages, in order (see LearnerRun for the ones every loop shares).
class OffPolicyRun : public LearnerRun {
 public:
  // Connects the ranks, builds the policy, the algorithm and the replay
  // buffer, resumes from the newest checkpoint (with its buffer when saved),
  // opens the sockets and publishes the first weights.
  OffPolicyRun(const ExperimentConfig& config, const LearnerOptions& options);

  // The batch's transitions join the replay buffer and the normaliser
  // takes in its observations; returns the round's env steps, all ranks.
  int64_t Store();

  // The round's gradient steps: utd_ratio per env step collected after the
  // warm-up, each on a uniform sample of the buffer (gradients averaged over
  // ranks by the hook). False when the run must end because too many rounds
  // in a row were not finite.
  bool Learn(int64_t round_steps);

  // Counts the round and publishes the new weights.
  void Advance();

  // The metrics row (rank 0), a checkpoint when due (every rank keeps its
  // buffer beside it), the progress line.
  void Report();

  // The final checkpoint and the exported policy; the exit status.
  int Finish();

 private:
  void SaveCheckpoint();

  const AlgorithmConfig& ac_;
  std::unique_ptr<algorithms::OffPolicyAlgorithm> algorithm_;
  algorithms::GradientHook hook_;
  ReplayBuffer replay_;
  const std::string replay_path_;
  // env steps collected since the warm-up, converted into gradient steps;
  // the fraction carries over to the next round
  int64_t warmup_end_ = 0;
  double step_credit_ = 0.0;
  int64_t gradient_steps_ = 0, nonfinite_steps_ = 0;
  int nonfinite_rounds_ = 0;  // in a row
  double update_seconds_ = 0.0;
  RoundStats round_;  // of the last round
  LagSummary lag_;    // of the last round's fragments
};

OffPolicyRun::OffPolicyRun(const ExperimentConfig& config, const LearnerOptions& options)
    : LearnerRun(config, options, torch::kCPU),
      ac_(config.algorithm),
      replay_(config.algorithm.replay_capacity, options.task.obs_dim, options.task.act_dim),
      replay_path_(checkpoint_dir_ + "/replay-rank" + std::to_string(options.rank) + ".pt") {
  algorithm_ = algorithms::CreateOffPolicyAlgorithm(ac_, policy_);
  metric_columns_ = WithEpisodeInfo(kOffPolicyColumns);
  metrics_ = StartOrResume(options_, metric_columns_, policy_, algorithm_->optimizer(), normalizer_,
                           counters_, owner_,
                           [this](torch::serialize::InputArchive& a) { algorithm_->LoadState(a); });
  if (comm_) BroadcastParameters(*comm_, policy_);
  // the replay buffer of the checkpoint, on every rank or on none
  bool replay_restored = false;
  if (options_.resume && ac_.save_replay) {
    std::string problem;
    replay_restored = replay_.Load(replay_path_, counters_.updates, &problem);
    if (comm_) replay_restored = !AnyRank(*comm_, !replay_restored);
    if (!replay_restored) replay_.Clear();
    if (!options_.quiet && leader_) {
      if (replay_restored) {
        std::printf("learner: replay buffer restored (%lld transitions)\n",
                    static_cast<long long>(replay_.size()));
      } else {
        std::printf("learner: the replay buffer starts empty (%s)\n",
                    problem.empty() ? "a rank lacks its file" : problem.c_str());
      }
    }
  }
  // an empty buffer on resume warms up again
  warmup_end_ = replay_restored ? ac_.warmup_steps : counters_.env_steps + ac_.warmup_steps;
  Open(torch::TensorOptions(), /*max_policy_lag=*/-1);
  hook_ = comm_ ? AverageGradients(*comm_, algorithm_->parameters()) : algorithms::GradientHook();
}

int64_t OffPolicyRun::Store() {
  // observations stay raw in the buffer
  replay_.Add(TransitionsOf(*batcher_));
  const int64_t rows = static_cast<int64_t>(batcher_->T()) * batcher_->B();
  if (comm_) {
    MergeObservations(*comm_, batcher_->obs().data_ptr<float>(), rows, normalizer_);
  } else {
    normalizer_.Update(batcher_->obs().data_ptr<float>(), rows);
  }
  const int64_t round_steps = batcher_->steps() * options_.world_size;
  counters_.env_steps += round_steps;
  lag_ = SummarizeLags(lags_);
  batcher_->Clear();
  lags_.clear();
  return round_steps;
}

bool OffPolicyRun::Learn(int64_t round_steps) {
  int64_t steps = 0;
  if (counters_.env_steps > warmup_end_) {
    step_credit_ += ac_.utd_ratio *
                    static_cast<double>(std::min(round_steps, counters_.env_steps - warmup_end_));
    steps = static_cast<int64_t>(step_credit_);
    step_credit_ -= static_cast<double>(steps);
  }
  round_ = RoundStats();
  const Clock::time_point update_start = Clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    round_.Add(algorithm_->Step(replay_.Sample(ac_.sac_batch_size, normalizer_), hook_));
    // long rounds keep the weights flowing to actors that join meanwhile
    if (i % 64 == 63) RepublishIfDue();
  }
  update_seconds_ += Seconds(update_start);
  gradient_steps_ += steps;
  nonfinite_steps_ += round_.skipped;
  if (steps > 0 && round_.steps == 0) {
    // nothing could be learned in this round; a few in a row mean the run is broken
    if (++nonfinite_rounds_ >= config_.train.max_nonfinite_updates) {
      std::fprintf(stderr,
                   "learner: %d updates in a row had only non-finite losses or gradients; "
                   "stopping. The last good checkpoint is %s\n",
                   nonfinite_rounds_, LatestCheckpoint(checkpoint_dir_).c_str());
      return false;
    }
  } else {
    nonfinite_rounds_ = 0;
  }
  return true;
}

void OffPolicyRun::Advance() {
  counters_.updates += 1;
  counters_.policy_version += 1;
  counters_.dropped_fragments = intake_->dropped();
  Publish();
}

void OffPolicyRun::Report() {
  const bool checkpoint_due = counters_.updates % config_.train.checkpoint_every == 0;
  if (!leader_) {
    if (checkpoint_due) SaveCheckpoint();
    return;
  }
  const double updates_per_s = gradient_steps_ / std::max(Seconds(start_), 1e-9);
  MetricsRow row = StartRow(metric_columns_, lag_);
  row.Set("policy_loss", round_.Mean(round_.policy_loss))
      .Set("value_loss", round_.Mean(round_.value_loss))
      .Set("entropy", round_.Mean(round_.entropy))
      .Set("alpha", round_.steps > 0 ? round_.alpha : std::nan(""))
      .Set("q_mean", round_.Mean(round_.q_mean))
      .Set("learning_rate", round_.steps > 0 ? round_.learning_rate : algorithm_->LearningRate())
      .Set("grad_norm", round_.Mean(round_.grad_norm))
      .Set("nonfinite_steps", static_cast<double>(nonfinite_steps_))
      .Set("gradient_steps", static_cast<double>(gradient_steps_))
      .Set("updates_per_s", updates_per_s)
      .Set("replay_size", static_cast<double>(replay_.size()))
      .Set("replay_bytes", static_cast<double>(replay_.bytes()));
  WriteRow(row);
  if (checkpoint_due) SaveCheckpoint();
  char extra[128];
  std::snprintf(extra, sizeof(extra), " | %.0f upd/s (%.0f in updates) | replay %s", updates_per_s,
                gradient_steps_ / std::max(update_seconds_, 1e-9),
                HumanCount(static_cast<double>(replay_.size())).c_str());
  progress_.Maybe(counters_.env_steps, intake_->mean_return(), lag_.mean,
                  counters_.dropped_fragments, extra);
}

int OffPolicyRun::Finish() {
  counters_.dropped_fragments = intake_->dropped();
  SaveCheckpoint();
  FinishRun();
  if (!options_.quiet && leader_) {
    std::printf("learner: %lld gradient steps, %.1f per second of updates\n",
                static_cast<long long>(gradient_steps_),
                gradient_steps_ / std::max(update_seconds_, 1e-9));
  }
  return ExitStatus();
}

void OffPolicyRun::SaveCheckpoint() {
  if (ac_.save_replay) {
    std::filesystem::create_directories(checkpoint_dir_);
    replay_.Save(replay_path_, counters_.updates);
  }
  if (!leader_) return;
  intake_->SaveTo(counters_);
  learner::SaveCheckpoint(
      checkpoint_dir_, policy_, algorithm_->optimizer(), normalizer_, counters_,
      config_.train.keep_checkpoints,
      [this](torch::serialize::OutputArchive& a) { algorithm_->SaveState(a); }, owner_);
}

}  // namespace

int RunOffPolicyLearner(const ExperimentConfig& config, const LearnerOptions& options) {
  // a buffer that cannot fit fails before anything starts
  CheckReplayMemory(config.algorithm, options.task.obs_dim, options.task.act_dim,
                    options.task.env_id);
  // connect the ranks, build, resume (with the replay buffer), open the sockets
  OffPolicyRun run(config, options);
  while (true) {
    // receive fragments until this rank's share of a round is in
    run.FillBatch();
    // every rank goes on, or all stop
    if (run.AllRanksStop()) break;
    // the round's transitions into the replay buffer, observations into the normaliser
    const int64_t round_steps = run.Store();
    // utd_ratio gradient steps per env step after the warm-up, averaged over ranks
    if (!run.Learn(round_steps)) return 3;  // only non-finite rounds, several in a row
    // count the round, publish the new weights
    run.Advance();
    // metrics, checkpoint (and replay buffers), progress
    run.Report();
  }
  // the final checkpoint and the exported policy
  return run.Finish();
}

}  // namespace robofleet::learner

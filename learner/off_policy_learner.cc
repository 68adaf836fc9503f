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

}  // namespace

int RunOffPolicyLearner(const ExperimentConfig& config, const LearnerOptions& options) {
  const TaskInfo& task = options.task;
  const AlgorithmConfig& ac = config.algorithm;
  const int T = config.actors.rollout_length, K = config.actors.envs_per_actor;
  const int W = options.world_size;
  const bool leader = options.rank == 0;
  CheckReplayMemory(ac, task.obs_dim, task.act_dim, task.env_id);
  // each rank gathers its share of a round's env steps
  const int num_fragments = static_cast<int>(FragmentsPerBatch(config, W));
  std::unique_ptr<Communicator> comm = ConnectRanks(config, options, torch::kCPU);

  torch::set_num_threads(config.learner.threads);
  SeedTorch(config.seed);
  ActorCritic policy(task.obs_dim, task.act_dim, config.policy, task.privileged_dim);
  RunningNormalizer normalizer(task.obs_dim, config.normalizer.clip, config.normalizer.enabled);
  std::unique_ptr<algorithms::OffPolicyAlgorithm> algorithm =
      algorithms::CreateOffPolicyAlgorithm(ac, policy);
  ReplayBuffer replay(ac.replay_capacity, task.obs_dim, task.act_dim);
  TrainingCounters counters;

  const std::string checkpoint_dir = options.run_dir + "/checkpoints";
  std::unique_ptr<CsvWriter> metrics =
      StartOrResume(options, kOffPolicyColumns, policy, algorithm->optimizer(), normalizer,
                    counters, [&](torch::serialize::InputArchive& a) { algorithm->LoadState(a); });
  if (comm) BroadcastParameters(*comm, policy);
  // the replay buffer of the checkpoint, on every rank or on none
  const std::string replay_path =
      checkpoint_dir + "/replay-rank" + std::to_string(options.rank) + ".pt";
  bool replay_restored = false;
  if (options.resume && ac.save_replay) {
    std::string problem;
    replay_restored = replay.Load(replay_path, counters.updates, &problem);
    if (comm) replay_restored = !AnyRank(*comm, !replay_restored);
    if (!replay_restored) replay.Clear();
    if (!options.quiet && leader) {
      if (replay_restored) {
        std::printf("learner: replay buffer restored (%lld transitions)\n",
                    static_cast<long long>(replay.size()));
      } else {
        std::printf("learner: the replay buffer starts empty (%s)\n",
                    problem.empty() ? "a rank lacks its file" : problem.c_str());
      }
    }
  }
  std::optional<TensorBoardWriter> tensorboard;
  if (leader) {
    tensorboard.emplace(options.run_dir + "/tb");
    tensorboard->AddText("config", 0, "```yaml\n" + ToYaml(config) + "```\n");
    tensorboard->Flush();
  }

  LearnerSockets sockets(config, options);
  std::optional<WeightsPublisher>& publisher = sockets.publisher;
  auto publish_if_due = [&] {
    if (publisher) publisher->RepublishIfDue(policy, normalizer, counters.policy_version);
  };
  if (publisher) publisher->Publish(policy, normalizer, counters.policy_version);

  FragmentBatcher batcher(T, K, task.obs_dim, task.act_dim, num_fragments);
  FragmentIntake intake(sockets.pull, task, T, K, /*max_policy_lag=*/-1, counters);
  auto save_checkpoint = [&] {
    if (ac.save_replay) {
      std::filesystem::create_directories(checkpoint_dir);
      replay.Save(replay_path, counters.updates);
    }
    if (!leader) return;
    intake.SaveTo(counters);
    SaveCheckpoint(checkpoint_dir, policy, algorithm->optimizer(), normalizer, counters,
                   config.train.keep_checkpoints,
                   [&](torch::serialize::OutputArchive& a) { algorithm->SaveState(a); });
  };
  const algorithms::GradientHook hook =
      comm ? AverageGradients(*comm, algorithm->parameters()) : algorithms::GradientHook();
  // env steps collected since the warm-up, converted into gradient steps;
  // the fraction carries over to the next round. An empty buffer on resume
  // warms up again.
  const int64_t warmup_end =
      replay_restored ? ac.warmup_steps : counters.env_steps + ac.warmup_steps;
  double step_credit = 0.0;
  int64_t gradient_steps = 0, nonfinite_steps = 0;
  int nonfinite_rounds = 0;   // in a row
  std::vector<int64_t> lags;  // of the round's fragments
  double update_seconds = 0.0;
  const Clock::time_point start = Clock::now();
  ProgressLine progress(config, options.quiet);

  while (true) {
    bool stop = counters.env_steps >= config.train.total_env_steps || StopRequested();
    if (!stop && !batcher.full()) {
      // the current weights go out again every half second, for late subscribers
      publish_if_due();
      intake.Receive(batcher, lags, counters.policy_version, 100);
      continue;
    }
    if (comm) stop = AnyRank(*comm, stop, publish_if_due);
    if (stop) break;

    // the new transitions join the buffer; observations stay raw there
    replay.Add(TransitionsOf(batcher));
    const int64_t rows = static_cast<int64_t>(T) * batcher.B();
    if (comm)
      MergeObservations(*comm, batcher.obs().data_ptr<float>(), rows, normalizer);
    else
      normalizer.Update(batcher.obs().data_ptr<float>(), rows);
    const int64_t round_steps = batcher.steps() * W;
    counters.env_steps += round_steps;
    const LagSummary lag = SummarizeLags(lags);
    batcher.Clear();
    lags.clear();

    // gradient steps: utd_ratio per env step collected after the warm-up
    int64_t steps = 0;
    if (counters.env_steps > warmup_end) {
      step_credit += ac.utd_ratio *
                     static_cast<double>(std::min(round_steps, counters.env_steps - warmup_end));
      steps = static_cast<int64_t>(step_credit);
      step_credit -= static_cast<double>(steps);
    }
    RoundStats round;
    const Clock::time_point update_start = Clock::now();
    for (int64_t i = 0; i < steps; ++i) {
      round.Add(algorithm->Step(replay.Sample(ac.sac_batch_size, normalizer), hook));
      // long rounds keep the weights flowing to actors that join meanwhile
      if (i % 64 == 63) publish_if_due();
    }
    update_seconds += Seconds(update_start);
    gradient_steps += steps;
    nonfinite_steps += round.skipped;
    if (steps > 0 && round.steps == 0) {
      // nothing could be learned in this round; a few in a row mean the run is broken
      if (++nonfinite_rounds >= config.train.max_nonfinite_updates) {
        std::fprintf(stderr,
                     "learner: %d updates in a row had only non-finite losses or gradients; "
                     "stopping. The last good checkpoint is %s\n",
                     nonfinite_rounds, LatestCheckpoint(checkpoint_dir).c_str());
        return 3;
      }
    } else {
      nonfinite_rounds = 0;
    }
    counters.updates += 1;
    counters.policy_version += 1;
    counters.dropped_fragments = intake.dropped();
    if (publisher) publisher->Publish(policy, normalizer, counters.policy_version);
    if (!leader) {
      if (counters.updates % config.train.checkpoint_every == 0) save_checkpoint();
      continue;
    }

    // report
    const double wall = counters.wall_s + Seconds(start);
    const double sps = counters.env_steps / std::max(wall, 1e-9);
    const double updates_per_s = gradient_steps / std::max(Seconds(start), 1e-9);
    MetricsRow row(kOffPolicyColumns);
    row.Set("env_steps", static_cast<double>(counters.env_steps))
        .Set("wall_s", wall)
        .Set("sps", sps)
        .Set("episode_return_mean", intake.mean_return())
        .Set("episode_len_mean", intake.mean_length())
        .Set("policy_loss", round.Mean(round.policy_loss))
        .Set("value_loss", round.Mean(round.value_loss))
        .Set("entropy", round.Mean(round.entropy))
        .Set("alpha", round.steps > 0 ? round.alpha : std::nan(""))
        .Set("q_mean", round.Mean(round.q_mean))
        .Set("policy_lag_mean", lag.mean)
        .Set("policy_lag_p90", lag.p90)
        .Set("policy_lag_max", lag.max)
        .Set("dropped_fragments", static_cast<double>(counters.dropped_fragments))
        .Set("learning_rate", round.steps > 0 ? round.learning_rate : algorithm->LearningRate())
        .Set("grad_norm", round.Mean(round.grad_norm))
        .Set("actor_restarts", static_cast<double>(intake.actor_restarts()))
        .Set("nonfinite_steps", static_cast<double>(nonfinite_steps))
        .Set("gradient_steps", static_cast<double>(gradient_steps))
        .Set("updates_per_s", updates_per_s)
        .Set("replay_size", static_cast<double>(replay.size()))
        .Set("replay_bytes", static_cast<double>(replay.bytes()));
    WriteMetricsRow(*metrics, *tensorboard, row, counters.env_steps);
    if (counters.updates % config.train.checkpoint_every == 0) save_checkpoint();
    char extra[128];
    std::snprintf(extra, sizeof(extra), " | %.0f upd/s (%.0f in updates) | replay %s",
                  updates_per_s, gradient_steps / std::max(update_seconds, 1e-9),
                  HumanCount(static_cast<double>(replay.size())).c_str());
    progress.Maybe(counters.env_steps, intake.mean_return(), lag.mean, counters.dropped_fragments,
                   extra);
  }

  // the end: a final checkpoint and the exported policy
  counters.dropped_fragments = intake.dropped();
  save_checkpoint();
  FinishRun(config, options, policy, normalizer, counters.env_steps,
            counters.wall_s + Seconds(start), intake);
  if (!options.quiet && leader) {
    std::printf("learner: %lld gradient steps, %.1f per second of updates\n",
                static_cast<long long>(gradient_steps),
                gradient_steps / std::max(update_seconds, 1e-9));
  }
  return 0;
}

}  // namespace robofleet::learner

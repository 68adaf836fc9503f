#include "learner/learner_parts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/compute_threads.h"
#include "core/crc32c.h"
#include "core/signals.h"

namespace robofleet::learner {
namespace {

constexpr size_t kEpisodeWindow = 100;

double MeanOf(const std::deque<float>& d) {
  return d.empty() ? std::nan("") : std::accumulate(d.begin(), d.end(), 0.0) / d.size();
}

}  // namespace

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string HumanCount(double x) {
  char buf[32];
  if (x >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.2fM", x / 1e6);
  else if (x >= 1e3)
    std::snprintf(buf, sizeof(buf), "%.1fk", x / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  return buf;
}

std::string HumanDuration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%dh%02dm", int(s / 3600), int(s) % 3600 / 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof(buf), "%dm%02ds", int(s / 60), int(s) % 60);
  else
    std::snprintf(buf, sizeof(buf), "%ds", int(s));
  return buf;
}

PolicyMetadata MakeMetadata(const TaskInfo& task, int64_t env_steps,
                            const ExperimentConfig& config) {
  return {task.env_id,     task.obs_names, task.act_names,  task.act_low,
          task.act_high,   env_steps,      ToYaml(config),  task.controller_json,
          task.act_offset, task.act_scale, task.obs_history};
}

std::unique_ptr<Communicator> ConnectRanks(const ExperimentConfig& config,
                                           const LearnerOptions& options, torch::Device device) {
  if (options.world_size <= 1) return nullptr;
  const size_t colon = options.master.rfind(':');
  if (colon == std::string::npos) throw UserError("--master wants host:port");
  return MakeCommunicator(config.learner, options.master.substr(0, colon),
                          std::stoi(options.master.substr(colon + 1)), options.rank,
                          options.world_size, device,
                          std::chrono::seconds(config.learner.collective_timeout_s));
}

LagSummary SummarizeLags(std::vector<int64_t> lags) {
  LagSummary out;
  if (lags.empty()) return out;
  std::sort(lags.begin(), lags.end());
  out.mean = std::accumulate(lags.begin(), lags.end(), 0.0) / lags.size();
  // nearest rank
  out.p90 = static_cast<double>(lags[(lags.size() * 9 + 9) / 10 - 1]);
  out.max = static_cast<double>(lags.back());
  return out;
}

std::unique_ptr<CsvWriter> StartOrResume(const LearnerOptions& options,
                                         const std::vector<std::string>& columns,
                                         ActorCritic& policy, torch::optim::Optimizer& optimizer,
                                         RunningNormalizer& normalizer, TrainingCounters& counters,
                                         const CheckpointOwner& owner, const LoadExtra& extra,
                                         const std::function<bool(int64_t)>& usable) {
  const bool leader = options.rank == 0;
  const std::string metrics_path = options.run_dir + "/metrics.csv";
  if (!options.resume) {
    return leader ? std::make_unique<CsvWriter>(metrics_path, columns) : nullptr;
  }
  const std::string checkpoint_dir = options.run_dir + "/checkpoints";
  const std::string checkpoint = LatestCheckpoint(checkpoint_dir, usable);
  if (checkpoint.empty()) {
    throw UserError(options.run_dir + ": nothing to resume from: no valid checkpoint in " +
                    checkpoint_dir);
  }
  CheckCheckpointOwner(checkpoint, owner, options.run_dir);
  LoadCheckpoint(checkpoint, policy, &optimizer, &normalizer, &counters, extra);
  if (!leader) return nullptr;
  if (!options.quiet) {
    std::printf("learner: resuming from %s at %lld env steps\n", checkpoint.c_str(),
                static_cast<long long>(counters.env_steps));
  }
  return CsvWriter::Resume(metrics_path, columns, static_cast<double>(counters.env_steps));
}

LearnerSockets::LearnerSockets(const ExperimentConfig& config, const LearnerOptions& options)
    : pull(context, zmq::socket_type::pull), pub(context, zmq::socket_type::pub) {
  const TaskInfo& task = options.task;
  const int T = config.actors.rollout_length, K = config.actors.envs_per_actor;
  // over tcp, only this run's actors get in (core/security.h)
  if (!options.endpoints.keys_dir.empty()) {
    keys = ReadRunKeys(options.endpoints.keys_dir);
    authenticator.emplace(context, std::vector<std::string>{keys->actor.public_key}, "learner");
  }
  if (keys) MakeCurveServer(pull, keys->learner);
  pull.set(zmq::sockopt::rcvhwm, std::max(2, config.actors.count * config.actors.send_hwm));
  pull.set(zmq::sockopt::linger, 0);
  // no valid frame is larger than the observations of one fragment: refuse
  // bigger ones before they are buffered
  const int64_t widest = std::max({task.obs_dim, task.act_dim, 1});
  pull.set(zmq::sockopt::maxmsgsize,
           static_cast<int64_t>(sizeof(float)) * (T + 1) * K * widest + 4096);
  pull.bind(options.endpoints.trajectories);
  if (options.rank == 0) {
    if (keys) MakeCurveServer(pub, keys->learner);
    pub.set(zmq::sockopt::sndhwm, 2);
    pub.set(zmq::sockopt::linger, 0);
    pub.bind(options.endpoints.weights);
    publisher.emplace(pub);
  }
}

FragmentIntake::FragmentIntake(zmq::socket_t& pull, const TaskInfo& task, int T, int K,
                               int max_policy_lag, const TrainingCounters& restored)
    : pull_(pull),
      task_(task),
      T_(T),
      K_(K),
      max_policy_lag_(max_policy_lag),
      malformed_(restored.dropped_fragments),
      recent_returns_(restored.recent_returns.begin(), restored.recent_returns.end()),
      recent_lengths_(restored.recent_lengths.begin(), restored.recent_lengths.end()),
      recent_info_(task.episode_info_names.size()) {}

bool FragmentIntake::Receive(FragmentBatcher& into, std::vector<int64_t>& lags, int64_t version,
                             int timeout_ms) {
  if (!RecvMultipart(pull_, &parts_, timeout_ms)) return false;
  std::vector<wire::Frame> frames = FramesOf(parts_);
  wire::FragmentView fragment;
  wire::DecodeStatus status =
      wire::DecodeFragment(frames.data(), frames.size(), task_.obs_dim, task_.act_dim,
                           static_cast<int>(task_.episode_info_names.size()), &fragment);
  if (status.ok() && (fragment.T != T_ || fragment.K != K_)) status.error = "unexpected shape";
  if (!status.ok()) {
    // the first few reasons are worth a line; all are counted
    if (++malformed_logged_ <= 10) {
      std::fprintf(stderr, "learner: dropped fragment: %s\n", status.error.c_str());
    }
    ++malformed_;
    return false;
  }
  auto [last, first_seen] = last_sequence_.try_emplace(fragment.sender_id, fragment.sequence);
  if (!first_seen && fragment.sequence <= last->second) ++actor_restarts_;
  last->second = fragment.sequence;
  // too old, or newer than us (made with weights of a learner we replaced)
  const int64_t lag = version - static_cast<int64_t>(fragment.policy_version);
  if (max_policy_lag_ >= 0 && (lag < 0 || lag > max_policy_lag_)) {
    ++stale_;
    return false;
  }
  lags.push_back(std::max<int64_t>(lag, 0));
  into.Add(fragment);
  for (int e = 0; e < fragment.E; ++e) {
    recent_returns_.push_back(fragment.episode_returns[e]);
    recent_lengths_.push_back(static_cast<float>(fragment.episode_lengths[e]));
    if (recent_returns_.size() > kEpisodeWindow) {
      recent_returns_.pop_front();
      recent_lengths_.pop_front();
    }
    for (int i = 0; i < fragment.M; ++i) {
      std::deque<float>& window = recent_info_[i];
      window.push_back(fragment.episode_info[static_cast<size_t>(e) * fragment.M + i]);
      if (window.size() > kEpisodeWindow) window.pop_front();
    }
  }
  return true;
}

double FragmentIntake::mean_return() const { return MeanOf(recent_returns_); }
double FragmentIntake::mean_length() const { return MeanOf(recent_lengths_); }
double FragmentIntake::mean_info(size_t i) const { return MeanOf(recent_info_.at(i)); }

void FragmentIntake::SaveTo(TrainingCounters& counters) const {
  counters.recent_returns.assign(recent_returns_.begin(), recent_returns_.end());
  counters.recent_lengths.assign(recent_lengths_.begin(), recent_lengths_.end());
  counters.dropped_fragments = dropped();
}

std::string ProgressText(int64_t env_steps, int64_t total, double recent_sps, double mean_return,
                         double policy_lag_mean, int64_t dropped, const std::string& extra) {
  const int64_t left = std::max<int64_t>(total - env_steps, 0);
  const double done = std::min(static_cast<double>(env_steps) / std::max<int64_t>(total, 1), 1.0);
  std::string eta = "0s";
  if (left > 0) eta = recent_sps > 0 ? HumanDuration(left / recent_sps) : "?";
  char line[512];
  std::snprintf(line, sizeof(line),
                "[%3.0f%%] steps %s/%s | %s sps | return %.1f | lag %.2f | dropped %lld%s | eta %s",
                100.0 * done, HumanCount(static_cast<double>(env_steps)).c_str(),
                HumanCount(static_cast<double>(total)).c_str(), HumanCount(recent_sps).c_str(),
                mean_return, policy_lag_mean, static_cast<long long>(dropped), extra.c_str(),
                eta.c_str());
  return line;
}

void ProgressLine::Maybe(int64_t env_steps, double mean_return, double policy_lag_mean,
                         int64_t dropped, const std::string& extra) {
  if (quiet_ || Seconds(last_) < config_.train.log_every_s) return;
  const double recent_sps = (env_steps - steps_at_last_) / Seconds(last_);
  std::printf("%s\n", ProgressText(env_steps, config_.train.total_env_steps, recent_sps,
                                   mean_return, policy_lag_mean, dropped, extra)
                          .c_str());
  std::fflush(stdout);
  last_ = Clock::now();
  steps_at_last_ = env_steps;
}

void WriteMetricsRow(CsvWriter& csv, TensorBoardWriter& tensorboard, const MetricsRow& row,
                     int64_t env_steps) {
  csv.Write(row);
  // the same scalars for TensorBoard, against env steps
  const std::vector<double>& values = row.values();
  for (size_t i = 1; i < values.size(); ++i) {
    if (!std::isnan(values[i])) tensorboard.AddScalar(row.columns()[i], env_steps, values[i]);
  }
  tensorboard.Flush();
}

void FinishRun(const ExperimentConfig& config, const LearnerOptions& options, ActorCritic& policy,
               const RunningNormalizer& normalizer, int64_t env_steps, double wall_s,
               const FragmentIntake& intake) {
  const bool leader = options.rank == 0;
  policy->to(torch::kCPU);  // the exported policy runs anywhere
  if (leader) {
    ExportPolicy(policy, normalizer, MakeMetadata(options.task, env_steps, config),
                 options.run_dir + "/policy.pt");
  }
  if (options.quiet) return;
  const torch::Tensor flat = FlattenParameters(*policy);
  const uint32_t crc = Crc32c(flat.data_ptr<float>(), flat.numel() * sizeof(float));
  if (!leader) {
    std::printf("learner rank %d: parameters crc32c %08x\n", options.rank, crc);
    return;
  }
  // a stopped run's policy is the one it had so far
  const bool stopped = env_steps < config.train.total_env_steps;
  std::printf("learner: %s%lld env steps in %s, return %.1f over the last %zu episodes; %s at %s\n",
              stopped ? "stopped at " : "", static_cast<long long>(env_steps),
              HumanDuration(wall_s).c_str(), intake.mean_return(), intake.episodes(),
              stopped ? "the policy so far" : "policy", (options.run_dir + "/policy.pt").c_str());
  // equal checksums mean bit-identical parameters (determinism mode, learner ranks)
  std::printf("learner: parameters crc32c %08x\n", crc);
}

LearnerRun::LearnerRun(const ExperimentConfig& config, const LearnerOptions& options,
                       torch::Device device)
    : config_(config),
      options_(options),
      task_(options.task),
      leader_(options.rank == 0),
      checkpoint_dir_(options.run_dir + "/checkpoints"),
      normalizer_(options.task.obs_dim, config.normalizer.clip, config.normalizer.enabled),
      owner_{ReadRunId(options.run_dir), RunShapes(config, options.task)},
      progress_(config, options.quiet) {
  comm_ = ConnectRanks(config_, options_, device);
  SetComputeThreads(config_.learner.threads, "learner");
  SeedTorch(config_.seed);
  policy_ = ActorCritic(task_.obs_dim, task_.act_dim, config_.policy, task_.privileged_dim);
  policy_->to(device);
}

void LearnerRun::Open(torch::TensorOptions batch_options, int max_policy_lag) {
  if (leader_) {
    tensorboard_.emplace(options_.run_dir + "/tb");
    tensorboard_->AddText("config", 0, "```yaml\n" + ToYaml(config_) + "```\n");
    tensorboard_->Flush();
  }
  // fragments in, weights out
  sockets_.emplace(config_, options_);
  Publish();
  // each rank gathers its share of the batch
  const int T = config_.actors.rollout_length, K = config_.actors.envs_per_actor;
  const int num_fragments = static_cast<int>(FragmentsPerBatch(config_, options_.world_size));
  batcher_.emplace(T, K, task_.obs_dim, task_.act_dim, num_fragments, batch_options);
  // the last 100 finished episodes (restored on resume, so the means continue)
  intake_.emplace(sockets_->pull, task_, T, K, max_policy_lag, counters_);
  start_ = Clock::now();
}

bool LearnerRun::MustStop() const {
  return counters_.env_steps >= config_.train.total_env_steps || StopRequested();
}

void LearnerRun::Publish() {
  if (sockets_->publisher) {
    sockets_->publisher->Publish(policy_, normalizer_, counters_.policy_version);
  }
}

void LearnerRun::RepublishIfDue() {
  if (sockets_->publisher) {
    sockets_->publisher->RepublishIfDue(policy_, normalizer_, counters_.policy_version);
  }
}

void LearnerRun::FillBatch() {
  while (!MustStop() && !batcher_->full()) {
    RepublishIfDue();
    intake_->Receive(*batcher_, lags_, counters_.policy_version, 100);
  }
}

bool LearnerRun::AllRanksStop() {
  const bool stop = MustStop();
  if (!comm_) return stop;
  return AnyRank(*comm_, stop, [this] { RepublishIfDue(); });
}

std::vector<std::string> LearnerRun::WithEpisodeInfo(std::vector<std::string> loop_columns) const {
  loop_columns.insert(loop_columns.end(), task_.episode_info_names.begin(),
                      task_.episode_info_names.end());
  return loop_columns;
}

MetricsRow LearnerRun::StartRow(const std::vector<std::string>& columns,
                                const LagSummary& lag) const {
  const double wall = counters_.wall_s + Seconds(start_);
  MetricsRow row(columns);
  for (size_t i = 0; i < task_.episode_info_names.size(); ++i) {
    row.Set(task_.episode_info_names[i], intake_->mean_info(i));
  }
  row.Set("env_steps", static_cast<double>(counters_.env_steps))
      .Set("wall_s", wall)
      .Set("sps", counters_.env_steps / std::max(wall, 1e-9))
      .Set("episode_return_mean", intake_->mean_return())
      .Set("episode_len_mean", intake_->mean_length())
      .Set("policy_lag_mean", lag.mean)
      .Set("policy_lag_p90", lag.p90)
      .Set("policy_lag_max", lag.max)
      .Set("dropped_fragments", static_cast<double>(counters_.dropped_fragments))
      .Set("actor_restarts", static_cast<double>(intake_->actor_restarts()));
  return row;
}

void LearnerRun::WriteRow(const MetricsRow& row) {
  WriteMetricsRow(*metrics_, *tensorboard_, row, counters_.env_steps);
}

void LearnerRun::FinishRun() {
  learner::FinishRun(config_, options_, policy_, normalizer_, counters_.env_steps,
                     counters_.wall_s + Seconds(start_), *intake_);
}

int LearnerRun::ExitStatus() const {
  return counters_.env_steps >= config_.train.total_env_steps ? 0 : StoppedExitCode();
}

}  // namespace robofleet::learner

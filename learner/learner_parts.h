// Pieces of a learner run shared by the on-policy loop (learner.cc) and the
// off-policy loop (off_policy_learner.cc): the sockets, the intake of
// fragments, the reports and the end of a run. Internal to learner/.
#ifndef ROBOFLEET_LEARNER_LEARNER_PARTS_H_
#define ROBOFLEET_LEARNER_LEARNER_PARTS_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/security.h"
#include "core/tensorboard.h"
#include "learner/checkpoint.h"
#include "learner/communicator.h"
#include "learner/export.h"
#include "learner/learner.h"

namespace robofleet::learner {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since);
std::string HumanCount(double x);
std::string HumanDuration(double s);
PolicyMetadata MakeMetadata(const TaskInfo& task, int64_t env_steps,
                            const ExperimentConfig& config);

// The collective of a rank of several (learner.backend, on `device`); null
// with one rank.
std::unique_ptr<Communicator> ConnectRanks(const ExperimentConfig& config,
                                           const LearnerOptions& options, torch::Device device);

// The distribution of the policy lag over one batch's fragments.
struct LagSummary {
  double mean = 0.0, p90 = 0.0, max = 0.0;
};
LagSummary SummarizeLags(std::vector<int64_t> lags);

// The start of a run's state: with options.resume, loads the newest
// checkpoint in RUN_DIR/checkpoints that `usable` accepts (all when empty)
// (after checking it is `owner`'s: CheckCheckpointOwner) into the policy
// (parameters in host memory), `optimizer`, the normaliser,
// `counters` and, through `extra`, the algorithm's own state, and says so;
// throws UserError when there is none. Rank 0 gets metrics.csv with
// `columns`, continued after the checkpoint's env steps when resuming.
std::unique_ptr<CsvWriter> StartOrResume(const LearnerOptions& options,
                                         const std::vector<std::string>& columns,
                                         ActorCritic& policy, torch::optim::Optimizer& optimizer,
                                         RunningNormalizer& normalizer, TrainingCounters& counters,
                                         const CheckpointOwner& owner, const LoadExtra& extra = {},
                                         const std::function<bool(int64_t)>& usable = {});

// One rank's sockets: fragments in (PULL, bound, with CURVE when the run has
// keys) and, on rank 0, weights out (PUB, with its publisher). Not movable:
// the publisher refers to `pub`.
struct LearnerSockets {
  LearnerSockets(const ExperimentConfig& config, const LearnerOptions& options);
  LearnerSockets(const LearnerSockets&) = delete;
  LearnerSockets& operator=(const LearnerSockets&) = delete;

  zmq::context_t context{1};
  std::optional<RunKeys> keys;
  std::optional<ZapAuthenticator> authenticator;
  zmq::socket_t pull;
  zmq::socket_t pub;
  std::optional<WeightsPublisher> publisher;  // rank 0 only
};

// Receives fragments: decodes and checks each message, counts the malformed,
// the stale and actor restarts, and keeps the window of the last 100
// finished episodes. Not thread-safe (one receiving thread at a time).
class FragmentIntake {
 public:
  // `max_policy_lag` < 0 keeps fragments of any policy version (off-policy).
  // The episode window and the dropped count continue from `restored`.
  FragmentIntake(zmq::socket_t& pull, const TaskInfo& task, int T, int K, int max_policy_lag,
                 const TrainingCounters& restored);

  // One message from the socket into `into`, when valid and fresh for the
  // policy `version` the batch will be trained at; its lag is appended to
  // `lags`. Returns whether a fragment was added.
  bool Receive(FragmentBatcher& into, std::vector<int64_t>& lags, int64_t version, int timeout_ms);

  int64_t dropped() const { return malformed_ + stale_; }
  int64_t actor_restarts() const { return actor_restarts_; }
  double mean_return() const;
  double mean_length() const;
  size_t episodes() const { return recent_returns_.size(); }
  // The mean of episode-info value i (TaskInfo.episode_info_names) over the
  // window; NaN before any episode reported it (a resumed run starts its
  // window afresh).
  double mean_info(size_t i) const;
  // The window and dropped count into `counters`, for a checkpoint.
  void SaveTo(TrainingCounters& counters) const;

 private:
  zmq::socket_t& pull_;
  const TaskInfo& task_;
  int T_, K_, max_policy_lag_;
  std::vector<zmq::message_t> parts_;
  int64_t malformed_, stale_ = 0, malformed_logged_ = 0, actor_restarts_ = 0;
  // a restarted actor starts its sequence numbers again: that is how restarts are counted
  std::map<uint32_t, uint64_t> last_sequence_;
  std::deque<float> recent_returns_, recent_lengths_;
  std::vector<std::deque<float>> recent_info_;  // per episode-info name
};

// The text of a progress line: the share of train.total_env_steps done, at
// most 100% (the last batch may take the count past the total; the steps
// shown are the real ones), and the time left at `recent_sps`: "0s" once the
// total is reached, "?" while no steps are coming in.
std::string ProgressText(int64_t env_steps, int64_t total, double recent_sps, double mean_return,
                         double policy_lag_mean, int64_t dropped, const std::string& extra);

// The console progress line, every train.log_every_s.
class ProgressLine {
 public:
  ProgressLine(const ExperimentConfig& config, bool quiet) : config_(config), quiet_(quiet) {}
  // Prints when due; `extra` is appended (e.g. " | 120 upd/s").
  void Maybe(int64_t env_steps, double mean_return, double policy_lag_mean, int64_t dropped,
             const std::string& extra = "");

 private:
  const ExperimentConfig& config_;
  bool quiet_;
  Clock::time_point last_ = Clock::now();
  int64_t steps_at_last_ = 0;
};

// One metrics row to metrics.csv and TensorBoard (all columns but the first,
// against env steps; NaN values are left out of TensorBoard).
void WriteMetricsRow(CsvWriter& csv, TensorBoardWriter& tensorboard, const MetricsRow& row,
                     int64_t env_steps);

// The end of a run after its final checkpoint: the policy moves to the CPU
// and rank 0 exports policy.pt; the summary lines and parameter checksums.
void FinishRun(const ExperimentConfig& config, const LearnerOptions& options, ActorCritic& policy,
               const RunningNormalizer& normalizer, int64_t env_steps, double wall_s,
               const FragmentIntake& intake);

// What every learner run has, whichever its loop: the ranks, the policy and
// normaliser, the counters, the sockets and the fragment intake, the batch
// being filled, the outputs of rank 0. The on-policy loop (learner.cc) and
// the off-policy loop (off_policy_learner.cc) each derive their run from it
// and read as their stages in order:
//
//   construct     connect ranks, build, resume (the loop's own state too),
//                 then Open(): outputs, sockets, the first weights
//   FillBatch     receive fragments until this rank's batch is full
//   AllRanksStop  every rank goes on, or all stop
//   ...           the loop's own stages: learn, advance, publish, report
//   Finish        the final checkpoint and the exported policy
//
// Not thread-safe, except where a loop documents otherwise.
class LearnerRun {
 public:
  LearnerRun(const LearnerRun&) = delete;
  LearnerRun& operator=(const LearnerRun&) = delete;
  virtual ~LearnerRun() = default;

  // Receives fragments until this rank's batch is full, or until this rank
  // must stop (total_env_steps reached, a stop signal); the current weights
  // go out again meanwhile, so late subscribers catch up.
  void FillBatch();

  // Whether the run stops now. Ranks stop together: each says whether it
  // must, and all stop when any does. Rank 0 keeps publishing while it waits,
  // or actors that missed a restarted learner's weights would never feed the
  // ranks it waits for.
  bool AllRanksStop();

 protected:
  // Connects the ranks (on `device`), seeds LibTorch and builds the policy
  // on `device` and the normaliser.
  LearnerRun(const ExperimentConfig& config, const LearnerOptions& options, torch::Device device);

  // After the loop has resumed its state: TensorBoard (rank 0), the sockets
  // and the first weights, the batch (in host memory made with
  // `batch_options`) and the intake, which drops fragments more than
  // `max_policy_lag` versions old (< 0: none). Starts the run's clock.
  void Open(torch::TensorOptions batch_options, int max_policy_lag);

  bool MustStop() const;
  void Publish();         // the current weights, now
  void RepublishIfDue();  // the current weights, when kRepublishIntervalS passed
  // The loop's own metrics columns followed by one per episode-info name
  // of the task (the mean over recent episodes, e.g. reward/track_lin_vel).
  std::vector<std::string> WithEpisodeInfo(std::vector<std::string> loop_columns) const;
  // A metrics row with the columns every loop has set: progress, returns,
  // episode info, policy lag of `lag`, dropped fragments, actor restarts.
  MetricsRow StartRow(const std::vector<std::string>& columns, const LagSummary& lag) const;
  // Rank 0: writes `row` to metrics.csv and TensorBoard.
  void WriteRow(const MetricsRow& row);
  // The final checkpoint is the loop's; then the exported policy and the
  // summary lines.
  void FinishRun();
  // The process's exit status at the end: 0 when the run reached
  // train.total_env_steps, StoppedExitCode() (core/signals.h) when a stop
  // ended it first, its final checkpoint written all the same: the launcher
  // tells a stopped run from a finished one by it.
  int ExitStatus() const;

  const ExperimentConfig& config_;
  const LearnerOptions& options_;
  const TaskInfo& task_;
  const bool leader_;
  const std::string checkpoint_dir_;
  std::unique_ptr<Communicator> comm_;
  ActorCritic policy_{nullptr};
  RunningNormalizer normalizer_;
  TrainingCounters counters_;
  const CheckpointOwner owner_;                   // written into every checkpoint's manifest
  std::vector<std::string> metric_columns_;       // the loop's, WithEpisodeInfo
  std::unique_ptr<CsvWriter> metrics_;            // rank 0, from StartOrResume
  std::optional<TensorBoardWriter> tensorboard_;  // rank 0
  std::optional<LearnerSockets> sockets_;
  std::optional<FragmentIntake> intake_;
  std::optional<FragmentBatcher> batcher_;  // the batch being filled
  std::vector<int64_t> lags_;               // the policy lag of each of its fragments
  Clock::time_point start_;
  ProgressLine progress_;
};

// RunLearner for off-policy algorithms (off_policy_learner.cc).
int RunOffPolicyLearner(const ExperimentConfig& config, const LearnerOptions& options);

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_LEARNER_PARTS_H_

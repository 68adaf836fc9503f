// The learner process: receives fragments, trains, publishes weights.
//
//   PULL fragments -> decode + validate -> lag check -> FragmentBatcher
//   -> values, GAE -> algorithm update -> normaliser update -> PUB weights
//   -> metrics.csv, progress line, checkpoints -> ... -> policy.pt
//
// The learner binds both sockets; actors connect. It publishes the current
// weights again every half second while it waits, so actors that connect
// late (PUB/SUB drops messages sent before a subscriber joins) still start.
#ifndef ROBOFLEET_LEARNER_LEARNER_H_
#define ROBOFLEET_LEARNER_LEARNER_H_

#include <torch/torch.h>

#include <chrono>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "core/config.h"
#include "core/normalizer.h"
#include "core/policy.h"
#include "core/transport.h"
#include "core/wire.h"

namespace robofleet::learner {

// What the learner needs to know of the task (the launcher asks the env
// registry; the learner itself does not depend on envs).
struct TaskInfo {
  std::string env_id;
  int obs_dim = 0;
  int act_dim = 0;
  std::vector<std::string> obs_names;
  std::vector<std::string> act_names;
  std::vector<double> act_low;  // actuator ctrlrange per action entry
  std::vector<double> act_high;
  int privileged_dim = 0;  // the last obs entries, for the critic alone (EnvSpec)
  // what actors report of each finished episode (EnvSpec); each name is a
  // metrics column, the mean over the recent episodes
  std::vector<std::string> episode_info_names = {};
  std::string controller_json = {};     // EnvSpec.controller_json, into metadata.json
  std::vector<double> act_offset = {};  // ctrl = clamp(offset + scale * a, low, high) (EnvSpec)
  std::vector<double> act_scale = {};
  int obs_history = 1;  // steps of observations the actor reads (EnvSpec)
};

struct LearnerOptions {
  std::string run_dir;  // metrics.csv, checkpoints/, policy.pt go here
  Endpoints endpoints;  // sockets to bind
  TaskInfo task;
  bool quiet = false;   // no console progress lines
  bool resume = false;  // continue from the newest valid checkpoint in run_dir
  // learner ranks: each gathers 1/world_size of every batch from its own
  // actors and the gradients are averaged; rank 0 alone publishes weights and
  // writes metrics, checkpoints and the policy. `rank` is global (over every
  // node); rank mod learner.count is the local rank that picks the GPU.
  int rank = 0;
  int world_size = 1;
  std::string master;  // host:port where rank 0 hosts the rendezvous
};

// Runs until train.total_env_steps or a stop request; returns the process
// exit status (0 on success). Throws UserError when the config fails
// algorithms::ValidateAlgorithm. Off-policy algorithms (by their row in
// algorithms/registry.h) run the replay loop of off_policy_learner.cc instead
// of the one above.
int RunLearner(const ExperimentConfig& config, const LearnerOptions& options);

// One line naming what a checkpoint's tensors depend on: the env and its
// observation and action sizes, the algorithm and the networks, e.g.
// "cartpole_swingup obs 5 act 1 priv 0; ppo; policy [64, 64] elu shared 0 ...".
std::string RunShapes(const ExperimentConfig& config, const TaskInfo& task);

// Exports the policy of checkpoint file `checkpoint` of a run with `config`
// to `out` (TorchScript with metadata.json), exactly as the end of a run
// does. Throws UserError when the checkpoint cannot be read.
void ExportCheckpoint(const ExperimentConfig& config, const TaskInfo& task,
                      const std::string& checkpoint, const std::string& out);

// How often a learner sends its current weights again while it makes no new
// ones (filling a batch, waiting for other ranks): PUB drops messages sent
// before a subscriber joins, so late subscribers (new or restarted actors, or
// all of them after a learner restart) catch up within this many seconds.
constexpr double kRepublishIntervalS = 0.5;

// Publishes the policy's parameters and the normaliser as one weights
// message on a PUB socket the caller owns (and must keep alive). Never
// blocks: a subscriber that is behind loses old weights. Not thread-safe.
class WeightsPublisher {
 public:
  explicit WeightsPublisher(zmq::socket_t& socket) : socket_(socket) {}

  void Publish(ActorCritic& policy, const RunningNormalizer& normalizer, int64_t version);
  // Publishes again when kRepublishIntervalS have passed since the last time.
  void RepublishIfDue(ActorCritic& policy, const RunningNormalizer& normalizer, int64_t version);
  double SecondsSinceLast() const;

 private:
  zmq::socket_t& socket_;
  uint64_t sequence_ = 0;
  std::chrono::steady_clock::time_point last_publish_ = std::chrono::steady_clock::now();
};

// Collects fragments of one shape [T steps, K envs] into a batch of
// F fragments laid side by side: B = F * K columns, in host memory made with
// `options` (pinned for a GPU learner: learner/device.h).
class FragmentBatcher {
 public:
  FragmentBatcher(int T, int K, int obs_dim, int act_dim, int num_fragments,
                  torch::TensorOptions options = torch::TensorOptions());

  // Copies a validated fragment in. Requires !full() and matching T, K.
  void Add(const wire::FragmentView& fragment);
  bool full() const { return count_ == num_fragments_; }
  int count() const { return count_; }
  void Clear();

  int T() const { return T_; }
  int B() const { return K_ * num_fragments_; }
  int64_t steps() const { return static_cast<int64_t>(T_) * K_ * count_; }

  // Batch tensors (valid when full):
  const torch::Tensor& obs() const { return obs_; }                // [T+1, B, D] raw
  const torch::Tensor& actions() const { return actions_; }        // [T, B, A]
  const torch::Tensor& log_probs() const { return log_probs_; }    // [T, B]
  const torch::Tensor& rewards() const { return rewards_; }        // [T, B]
  const torch::Tensor& terminated() const { return terminated_; }  // [T, B] f32 0/1
  const torch::Tensor& truncated() const { return truncated_; }    // [T, B] f32 0/1
  // Final observations of truncated steps and their flat (t * B + b) index.
  torch::Tensor truncated_obs() const;    // [N, D]
  torch::Tensor truncated_index() const;  // [N] int64

 private:
  int T_, K_, D_, A_, num_fragments_;
  int count_ = 0;
  torch::Tensor obs_, actions_, log_probs_, rewards_, terminated_, truncated_;
  std::vector<torch::Tensor> truncated_obs_;    // [N_i, D] per fragment
  std::vector<torch::Tensor> truncated_index_;  // [N_i] per fragment
};

// Normalises raw observations [..., D] exactly as the actors do.
torch::Tensor NormalizeObs(const torch::Tensor& raw, const RunningNormalizer& normalizer);

// Values, bootstrap values and the algorithm's targets (GAE, V-trace) for a
// full batch: the update's input, on the policy's device.
algorithms::RolloutBatch BuildRolloutBatch(const FragmentBatcher& batch, ActorCritic& policy,
                                           const RunningNormalizer& normalizer,
                                           algorithms::OnPolicyAlgorithm& algorithm);

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_LEARNER_H_

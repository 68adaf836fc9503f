// The Algorithm interface: a learning update on a batch of experience.
//
// Algorithms are pure functions of tensors: they know nothing of sockets,
// processes or gradient averaging. The learner passes a GradientHook that runs
// after each backward pass and before the gradients are clipped and applied;
// with several learner ranks it averages the gradients there.
#ifndef ROBOFLEET_ALGORITHMS_ALGORITHM_H_
#define ROBOFLEET_ALGORITHMS_ALGORITHM_H_

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/policy.h"

namespace robofleet::algorithms {

// Experience flattened over time and envs, N samples, on the learner's device.
struct RolloutBatch {
  torch::Tensor obs;         // f32 [N, D] normalised observations
  torch::Tensor actions;     // f32 [N, A] actions as sampled, before tanh squashing and
                             // before the env clipped them (ActionSample::raw)
  torch::Tensor log_probs;   // f32 [N] log-probability under the behaviour policy
  torch::Tensor advantages;  // f32 [N]
  torch::Tensor returns;     // f32 [N] value targets (advantages + values), return units
  torch::Tensor values;      // f32 [N] critic values the advantages were computed with,
                             // return units; needed by algorithm.value_clip
  // f32 [N] optional: the learner's own log-probabilities at the start of the
  // update. When set, the KL that the adaptive learning rate and target_kl
  // watch is taken against them rather than against the behaviour policy
  // (whose fragments may be many versions old).
  torch::Tensor reference_log_probs;
};

// One batch's steps, time-major [T, B], from which an on-policy algorithm
// makes its advantages and value targets (OnPolicyAlgorithm::ComputeTargets),
// on the policy's device; so are the targets.
struct Trajectory {
  torch::Tensor obs;          // f32 [T, B, D] normalised observations
  torch::Tensor actions;      // f32 [T, B, A] as in RolloutBatch
  torch::Tensor log_probs;    // f32 [T, B] under the behaviour policy
  torch::Tensor rewards;      // f32 [T, B]
  torch::Tensor values;       // f32 [T, B] V(s_t), return units
  torch::Tensor next_values;  // f32 [T, B] value after step t, as for ComputeGae
  torch::Tensor dones;        // f32 [T, B] 1 where step t ended its episode
};

// What the update trains on, [T, B] each.
struct Targets {
  torch::Tensor advantages;  // of the policy-gradient term
  torch::Tensor returns;     // value targets, return units
  // optional: RolloutBatch::reference_log_probs, [T, B]
  torch::Tensor reference_log_probs;
};

// Transitions drawn from a replay buffer (off-policy algorithms), N of them,
// on the learner's device.
struct TransitionBatch {
  torch::Tensor obs;         // f32 [N, D] normalised observations
  torch::Tensor actions;     // f32 [N, A] the actions the env got, tanh-squashed into (-1, 1)
  torch::Tensor rewards;     // f32 [N]
  torch::Tensor next_obs;    // f32 [N, D] normalised observation after the step: the
                             // final one when the step was truncated
  torch::Tensor terminated;  // f32 [N] 1 when the episode really ended there (no
                             // bootstrap); 0 otherwise, truncated steps included
};

// Means over the minibatch steps of one update.
struct UpdateStats {
  double policy_loss = 0.0;
  double value_loss = 0.0;
  double entropy = 0.0;
  double approx_kl = 0.0;      // E[(r - 1) - log r], r the probability ratio
  double clip_frac = 0.0;      // fraction of samples whose ratio left [1 - eps, 1 + eps]
  double grad_norm = 0.0;      // global gradient norm before clipping
  double learning_rate = 0.0;  // at the end of the update
  int64_t optimizer_steps = 0;
  int64_t skipped_steps = 0;  // minibatches whose loss or gradients were not finite
  int epochs = 0;             // epochs begun: fewer than configured when target_kl stopped
  bool kl_stopped = false;    // algorithm.target_kl ended the update early
  // off-policy algorithms (policy_loss is the actor's, value_loss the critics')
  double alpha = 0.0;   // entropy temperature after the step
  double q_mean = 0.0;  // mean of the critics' estimates on the batch
};

// What every rank must agree on before an optimizer step: with several
// learner ranks, a step is taken by all or by none, with the same KL.
struct StepAgreement {
  double approx_kl = 0.0;  // this minibatch's; after the hook, the mean over ranks
  bool finite = true;      // loss finite; after the hook, finite on every rank
};

// Runs after each backward pass, before the gradients are clipped and
// applied: averages the gradients over ranks in place and returns the ranks'
// agreement. It is called for every minibatch, finite or not, so that all
// ranks call it equally often.
using GradientHook = std::function<StepAgreement(const StepAgreement& local)>;

// What every algorithm has, whichever way it is trained: its networks'
// parameters, the optimizer of the policy, its own state for checkpoints and
// the step size. The learner holds one of the two kinds below; the registry
// (algorithms/registry.h) makes them.
//
// Thread-safety: none; one algorithm is used by one thread at a time.
class Algorithm {
 public:
  virtual ~Algorithm() = default;

  // Every tensor whose gradient the hook must average: the policy's
  // parameters, plus the algorithm's own networks.
  virtual std::vector<torch::Tensor> parameters() = 0;

  // State beyond the policy and optimizer() (critics, target networks,
  // temperature, their optimizers), for checkpoints. Nothing by default.
  virtual void SaveState(torch::serialize::OutputArchive& archive) { (void)archive; }
  virtual void LoadState(torch::serialize::InputArchive& archive) { (void)archive; }

  // The optimizer of the policy: learning-rate schedules and checkpoints.
  virtual torch::optim::Optimizer& optimizer() = 0;

  // Step size of the parameter groups (learning-rate schedules).
  void SetLearningRate(double lr);
  double LearningRate();
};

// Trained on fresh batches of the actors' rollouts, each used for one update
// and dropped (learner/learner.cc): PPO, APPO.
class OnPolicyAlgorithm : public Algorithm {
 public:
  // Advantages and value targets of a batch (PPO: GAE; APPO: V-trace).
  virtual Targets ComputeTargets(const Trajectory& trajectory) = 0;

  // One update (all epochs and minibatches) on `batch`. `hook` may be empty.
  virtual UpdateStats Update(const RolloutBatch& batch, const GradientHook& hook) = 0;
};

// Trained on transitions replayed from a buffer, by gradient steps at the
// update-to-data ratio (learner/off_policy_learner.cc): SAC.
class OffPolicyAlgorithm : public Algorithm {
 public:
  // One gradient step of every network on `batch`; `hook` (may be empty) runs
  // after each backward pass, as in OnPolicyAlgorithm::Update.
  virtual UpdateStats Step(const TransitionBatch& batch, const GradientHook& hook) = 0;
};

// The learning rate `config` asks for at `progress` in [0, 1] of the run;
// for the adaptive schedule, `current` (the algorithm adapts it itself).
double ScheduledLearningRate(const AlgorithmConfig& config, double progress, double current);

// Generalised advantage estimation over [T, B] tensors (float32).
// values[t] = V(s_t); next_values[t] = value of the state after step t: 0 when
// the step terminated, V(final obs) when truncated, V(s_{t+1}) otherwise;
// dones[t] = 1 when step t ended its episode either way (the recursion stops).
// Returns advantages [T, B].
torch::Tensor ComputeGae(const torch::Tensor& rewards, const torch::Tensor& values,
                         const torch::Tensor& next_values, const torch::Tensor& dones, double gamma,
                         double lambda);

// V-trace targets (Espeholt et al. 2018, IMPALA) over [T, B] tensors (float32)
// for experience of a behaviour policy mu, learned by a target policy pi:
//   rho_t = min(rho_clip, pi/mu), c_t = lambda * min(c_clip, pi/mu),
//   delta_t = rho_t (r_t + gamma next_values_t - values_t),
//   vs_t = values_t + delta_t + gamma c_t (1 - dones_t) (vs_{t+1} - values_{t+1}),
// with next_values and dones as for ComputeGae (the recursion stops where an
// episode ended, and the value after the last step is next_values). The
// policy-gradient advantage is rho_t (r_t + gamma vs'_{t+1} - values_t), with
// vs'_{t+1} = next_values_t where step t ended its episode or the batch, and
// vs_{t+1} otherwise. With pi = mu and both clips >= 1, vs_t - values_t is
// GAE(lambda)'s advantage.
struct Vtrace {
  torch::Tensor vs;             // [T, B] value targets
  torch::Tensor pg_advantages;  // [T, B]
};
Vtrace ComputeVtrace(const torch::Tensor& log_ratios, const torch::Tensor& rewards,
                     const torch::Tensor& values, const torch::Tensor& next_values,
                     const torch::Tensor& dones, double gamma, double lambda, double rho_clip,
                     double c_clip);

}  // namespace robofleet::algorithms

#endif  // ROBOFLEET_ALGORITHMS_ALGORITHM_H_

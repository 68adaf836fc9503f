// Asynchronous PPO: PPO's clipped surrogate on V-trace targets, so fragments
// made by older policy versions are corrected rather than dropped (IMPALA's
// off-policy correction, as APPO in RLlib and Sample Factory combine them).
#ifndef ROBOFLEET_ALGORITHMS_APPO_H_
#define ROBOFLEET_ALGORITHMS_APPO_H_

#include "algorithms/ppo.h"

namespace robofleet::algorithms {

// The update is PPO's (epochs, minibatches, clipping, schedules) with two
// changes:
// - the advantages and value targets are V-trace's (config.vtrace_rho_clip,
//   config.vtrace_c_clip, lambda = config.gae_lambda), the target policy
//   being the learner's at the start of the update; the policy-gradient
//   advantage carries the clipped importance weight min(rho-bar, pi/mu);
// - the KL that the adaptive learning rate and target_kl watch is taken
//   against that start-of-update policy, so a batch of old fragments does not
//   read as a large step. The clipped surrogate's ratio stays pi/mu, against
//   the behaviour policy, as in IMPALA's and RLlib's APPO: samples the
//   learner's policy has moved far from give no gradient.
class Appo : public Ppo {
 public:
  using Ppo::Ppo;

  Targets ComputeTargets(const Trajectory& trajectory) override;
};

// What APPO asks of an experiment beyond ExperimentConfig::Validate(), the
// check of its registry row: algorithm.max_policy_lag of 2 or more (with 1 it
// would be PPO). Throws robofleet::UserError naming the key and the fix.
void ValidateAppoConfig(const ExperimentConfig& config);

}  // namespace robofleet::algorithms

#endif  // ROBOFLEET_ALGORITHMS_APPO_H_

// Asynchronous PPO: PPO's clipped surrogate on V-trace targets, so fragments
// made by older policy versions are corrected rather than dropped (IMPALA's
// off-policy correction, as APPO in RLlib and Sample Factory combine them).
#ifndef ROBOFLEET_ALGORITHMS_APPO_H_
#define ROBOFLEET_ALGORITHMS_APPO_H_

#include "algorithms/ppo.h"

namespace robofleet::algorithms {

// The update is PPO's (epochs, minibatches, clipping, schedules); the
// probability ratio of the surrogate is taken against the behaviour policy
// that made each fragment, however old. Only the targets differ: V-trace with
// config.vtrace_rho_clip and config.vtrace_c_clip, lambda = config.gae_lambda,
// the target policy being the learner's at the start of the update.
class Appo : public Ppo {
 public:
  using Ppo::Ppo;

  Targets ComputeTargets(const Trajectory& trajectory) override;
};

}  // namespace robofleet::algorithms

#endif  // ROBOFLEET_ALGORITHMS_APPO_H_

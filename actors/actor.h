// The actor process: K envs stepped together, one batched forward of a CPU
// policy copy per step, fragments of T steps streamed to a learner.
//
// Each fragment is one multipart message whose array frames are allocated as
// ZeroMQ messages up front: the vector env writes observations, rewards and
// flags straight into them, so sending copies nothing. Between fragments the
// actor drains its SUB socket and keeps only the newest weights. Every
// fragment carries the policy version that produced it.
//
// In determinism mode (train.deterministic) the actor is synchronous: it sends
// one update's worth of fragments per policy version and then waits for the
// next version; at every version the learner checkpoints it saves its whole
// state (envs, observations, sequence, RNG) beside that checkpoint, and a
// resumed actor starts from the state of the version it is first sent.
#ifndef ROBOFLEET_ACTORS_ACTOR_H_
#define ROBOFLEET_ACTORS_ACTOR_H_

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/transport.h"

namespace robofleet::actors {

struct ActorOptions {
  int index = 0;               // actor id, sent as the fragments' sender id
  Endpoints endpoints;         // the learner's sockets to connect to
  int64_t max_fragments = -1;  // stop after this many (-1: until stopped)
  std::string stats_path;      // where to write RolloutTimes at exit (empty: nowhere)
  std::string checkpoint_dir;  // determinism mode: where the actor's states are kept
};

// Runs until a stop request (or max_fragments); returns the exit status.
// Throws UserError when the learner publishes weights of another shape than
// the config's network: restarting the actor could not help, so `train` ends
// the run when an actor exits 2.
int RunActor(const ExperimentConfig& config, const ActorOptions& options);

}  // namespace robofleet::actors

#endif  // ROBOFLEET_ACTORS_ACTOR_H_

// Checkpoints: everything needed to continue training, written atomically
// and verified before use.
//
// A checkpoint is `checkpoints/ckpt-<update>.pt` (a LibTorch archive: model,
// optimiser, normaliser, counters, the RNG state) plus its manifest
// `ckpt-<update>.json` holding the file's size and CRC-32C. Both are written
// as temp file, fsync, rename, fsync of the directory, the manifest last: a
// crash at any instant leaves the previous checkpoint intact, and a file
// damaged later fails its checksum, so loading falls back to the one before.
// The newest `keep` checkpoints are kept; `checkpoints/latest` names the
// newest for people and scripts.
#ifndef ROBOFLEET_LEARNER_CHECKPOINT_H_
#define ROBOFLEET_LEARNER_CHECKPOINT_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/normalizer.h"
#include "core/policy.h"

namespace robofleet::learner {

// Training progress saved with the model.
struct TrainingCounters {
  int64_t env_steps = 0;              // env steps trained on
  int64_t updates = 0;                // updates done
  int64_t policy_version = 0;         // version of the current parameters
  int64_t dropped_fragments = 0;      // stale plus malformed, since the start
  double wall_s = 0.0;                // training seconds before this process
  std::vector<float> recent_returns;  // the episode window behind the reported means
  std::vector<float> recent_lengths;
};

// Whose a checkpoint is: the run that wrote it and the shapes of its
// tensors. Kept in the manifest, so that `export` and `--resume` can refuse
// another run's checkpoint with a line before they read a tensor.
struct CheckpointOwner {
  std::string run_id;  // RUN_DIR/run_id of the run that wrote it
  std::string shapes;  // RunShapes (learner.h): env, obs and act sizes, algorithm, network
};

// The run's id, made once with the run folder: RUN_DIR/run_id holds 32 random
// hex digits. MakeRunId writes it (atomically) unless it is there, and
// returns it; ReadRunId returns "" for a folder without one.
std::string MakeRunId(const std::string& run_dir);
std::string ReadRunId(const std::string& run_dir);

// The owner recorded in a checkpoint's manifest; empty fields when the
// manifest predates them.
CheckpointOwner ReadCheckpointOwner(const std::string& checkpoint);

// Throws UserError unless `checkpoint` was written by the run `expected`
// describes (RUN_DIR names it in the message) with the same shapes. Fields a
// manifest lacks (older checkpoints) are not compared.
void CheckCheckpointOwner(const std::string& checkpoint, const CheckpointOwner& expected,
                          const std::string& run_dir);

// State of an algorithm beyond the policy and its optimizer (critics,
// target networks, ...), written to and read from its own sub-archive.
using SaveExtra = std::function<void(torch::serialize::OutputArchive&)>;
using LoadExtra = std::function<void(torch::serialize::InputArchive&)>;

// Writes a checkpoint into `dir` (created if missing), points `latest` at
// it and deletes all but the newest `keep`. Returns its path. A whole
// checkpoint of the same update and env steps already there is kept as it
// is (the final checkpoint of a run stopped right after a periodic one).
// Throws std::runtime_error on I/O failure.
std::string SaveCheckpoint(const std::string& dir, ActorCritic& policy,
                           torch::optim::Optimizer& optimizer, const RunningNormalizer& normalizer,
                           const TrainingCounters& counters, int keep = 5,
                           const SaveExtra& extra = {}, const CheckpointOwner& owner = {});

// Loads a checkpoint file into the given objects, which must have the shapes
// it was saved with. Throws UserError naming the file when it is unreadable
// (or, with `extra`, lacks the algorithm's state).
void LoadCheckpoint(const std::string& path, ActorCritic& policy,
                    torch::optim::Optimizer* optimizer, RunningNormalizer* normalizer,
                    TrainingCounters* counters, const LoadExtra& extra = {});

// The newest checkpoint in `dir` whose file matches its manifest, or "" when
// there is none. Newer ones that fail the check are reported on stderr and
// skipped.
// `usable`, when given, must also accept the checkpoint's update number.
std::string LatestCheckpoint(const std::string& dir,
                             const std::function<bool(int64_t update)>& usable = {});

// True when `path` exists and matches its manifest's size and checksum.
bool VerifyCheckpoint(const std::string& path, std::string* problem = nullptr);

// The checkpoints in `dir` that a resumed run may start from, as `usable`
// for LatestCheckpoint: all of them, or with train.deterministic only those
// whose actor state was saved beside them (the actor continues from it).
std::function<bool(int64_t update)> ResumableCheckpoints(const std::string& dir,
                                                         bool deterministic);

// The env steps trained on when checkpoint `path` was written, from its
// manifest (no archive is read); -1 when the manifest cannot be read.
int64_t CheckpointEnvSteps(const std::string& path);

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_CHECKPOINT_H_

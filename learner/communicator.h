// Collectives between learner ranks: the gradient average of every optimizer
// step, the agreement on each step (algorithms/algorithm.h), the initial
// parameters and the merged observation statistics.
//
// Backends, chosen by learner.backend (learner/device.h):
// - `gloo`: c10d's ProcessGroupGloo on CPU tensors (tensors on a GPU go
//   through host memory);
// - `nccl`: NCCL called directly (learner/nccl/nccl_allreduce.h) on CUDA
//   tensors, on the current CUDA stream; host tensors are staged through the
//   device. Built only with a CUDA LibTorch and NCCL.
// Ranks meet at a c10d TCPStore hosted by rank 0 (NCCL's unique id travels
// through it). A collective that a dead rank never joins fails after the
// timeout with an error naming the backend; the learner then exits, and
// nothing waits forever.
#ifndef ROBOFLEET_LEARNER_COMMUNICATOR_H_
#define ROBOFLEET_LEARNER_COMMUNICATOR_H_

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "algorithms/algorithm.h"
#include "core/normalizer.h"
#include "core/policy.h"

namespace robofleet::learner {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Element-wise sum over ranks of a contiguous float32 or float64 tensor, in
  // place (on the host, or on the rank's device).
  virtual void AllReduceSum(torch::Tensor& tensor) = 0;
  // The same, calling `while_waiting` every few milliseconds until every rank
  // has joined (a rank waiting for its batch keeps its duties meanwhile).
  virtual void AllReduceSum(torch::Tensor& tensor, const std::function<void()>& while_waiting) = 0;
  // Rank `root`'s tensor into every rank's, in place.
  virtual void Broadcast(torch::Tensor& tensor, int root) = 0;
};

// The GradientHook of one rank: sums the policy's gradients with every
// rank's and divides by the world size, and merges the ranks' step agreement
// (mean KL, finite everywhere) in the same allreduce: one collective per
// optimiser step, on one flat buffer on the parameters' device whose slices
// the gradients become (backward then accumulates straight into it). The
// hook keeps `comm` by reference: it must outlive the hook.
algorithms::GradientHook AverageGradients(Communicator& comm, ActorCritic& policy);
// The same over a fixed list of tensors (Algorithm::parameters()); a tensor
// without a gradient contributes zeros and gets the average.
algorithms::GradientHook AverageGradients(Communicator& comm, std::vector<torch::Tensor> params);

// Folds the union of every rank's n rows of observations into `normalizer`,
// identically on every rank.
void MergeObservations(Communicator& comm, const float* rows, int64_t n,
                       RunningNormalizer& normalizer);

// Whether any rank passed true; every rank gets the same answer. Calls
// `while_waiting`, if given, until the other ranks arrive.
bool AnyRank(Communicator& comm, bool flag, const std::function<void()>& while_waiting = {});

// Rank 0's parameters on every rank.
void BroadcastParameters(Communicator& comm, ActorCritic& policy);

// Makes the critic's return statistics (policy.normalize_value) the union of
// every rank's returns at each update, identically on every rank.
void MergeValueStatistics(Communicator& comm, ActorCritic& policy);

// The communicator learner.backend names (auto resolves by learner.device)
// for `rank` of `world_size`, meeting at host:port, on `device` (nccl).
// Throws UserError for a backend this build lacks, std::runtime_error when
// the ranks do not all arrive within `timeout`.
std::unique_ptr<Communicator> MakeCommunicator(const LearnerConfig& config, const std::string& host,
                                               int port, int rank, int world_size,
                                               torch::Device device,
                                               std::chrono::milliseconds timeout);

// The ranks meet at host:port, where rank 0 listens. Throws std::runtime_error
// when they do not all arrive within `timeout`.
std::unique_ptr<Communicator> MakeGlooCommunicator(const std::string& host, int port, int rank,
                                                   int world_size,
                                                   std::chrono::milliseconds timeout);

#ifdef ROBOFLEET_WITH_NCCL_BACKEND
// NCCL on CUDA device `device` (learner/nccl_communicator.cc).
std::unique_ptr<Communicator> MakeNcclCommunicator(const std::string& host, int port, int rank,
                                                   int world_size, int device,
                                                   std::chrono::milliseconds timeout);
#endif

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_COMMUNICATOR_H_

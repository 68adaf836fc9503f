// Where a learner rank trains, and the moves between that device and the
// host: the policy and optimiser live on the device; fragments arrive in host
// memory (pinned when the device is a GPU, so copies to it need not block);
// weights for the actors and checkpoints come back to the host.
//
// learner.device: cuda places rank r on GPU (r mod learner.count) mod the
// GPUs it sees, its local rank on its node. Builds whose LibTorch has no CUDA
// (ROBOFLEET_TORCH_CUDA undefined) refuse cuda and nccl with one line.
#ifndef ROBOFLEET_LEARNER_DEVICE_H_
#define ROBOFLEET_LEARNER_DEVICE_H_

#include <torch/torch.h>

#include <string>

#include "core/config.h"
#include "core/policy.h"

namespace robofleet::learner {

// Whether this build can train on a GPU, and average over NCCL.
bool BuiltWithCuda();
bool BuiltWithNccl();

// Throws UserError, naming the key and the fix, when learner.device or
// learner.backend asks for what this build or machine lacks. Cheap: the
// launcher calls it before it starts anything.
void CheckLearnerDevice(const LearnerConfig& config);

// The device of global rank `rank` (see above). Calls CheckLearnerDevice.
torch::Device LearnerDevice(const LearnerConfig& config, int rank);

// The backend learner.backend resolves to: "gloo" or "nccl".
std::string ResolvedBackend(const LearnerConfig& config);

// Host tensors for fragments bound for `device`: pinned memory for a GPU.
torch::TensorOptions HostOptions(torch::Device device);

// `t` on `device`; from pinned memory the copy is queued without blocking
// (the source must stay untouched until the device has used it). A tensor
// already there is returned as it is.
torch::Tensor ToDevice(const torch::Tensor& t, torch::Device device);

// The policy's parameters, flattened, in host memory (what actors get).
torch::Tensor HostParameters(ActorCritic& policy);

}  // namespace robofleet::learner

#endif  // ROBOFLEET_LEARNER_DEVICE_H_

#include "learner/device.h"

#include <torch/cuda.h>

namespace robofleet::learner {

bool BuiltWithCuda() {
#ifdef ROBOFLEET_TORCH_CUDA
  return true;
#else
  return false;
#endif
}

bool BuiltWithNccl() {
#ifdef ROBOFLEET_WITH_NCCL_BACKEND
  return true;
#else
  return false;
#endif
}

void CheckLearnerDevice(const LearnerConfig& config) {
  if (config.device == "cuda") {
    if (!BuiltWithCuda()) {
      throw UserError(
          "learner.device: cuda, but this build's LibTorch has no CUDA; build "
          "against a CUDA LibTorch (scripts/gpu_check.sh shows how) or set "
          "learner.device: cpu");
    }
    if (!torch::cuda::is_available()) {
      throw UserError(
          "learner.device: cuda, but no CUDA device is visible to this process "
          "(check nvidia-smi and CUDA_VISIBLE_DEVICES), or set learner.device: cpu");
    }
  }
  if (config.backend == "nccl" && !BuiltWithNccl()) {
    throw UserError(
        "learner.backend: nccl, but this build has no NCCL backend (configure "
        "with the CUDA toolkit and NCCL, ROBOFLEET_WITH_NCCL=ON, and a CUDA "
        "LibTorch); or set learner.backend: gloo");
  }
}

torch::Device LearnerDevice(const LearnerConfig& config, int rank) {
  CheckLearnerDevice(config);
  if (config.device != "cuda") return torch::Device(torch::kCPU);
  const int local_rank = rank % config.count;
  const int gpus = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % gpus));
}

std::string ResolvedBackend(const LearnerConfig& config) {
  if (config.backend != "auto") return config.backend;
  return config.device == "cuda" && BuiltWithNccl() ? "nccl" : "gloo";
}

torch::TensorOptions HostOptions(torch::Device device) {
  return torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(device.is_cuda());
}

torch::Tensor ToDevice(const torch::Tensor& t, torch::Device device) {
  if (t.device() == device) return t;
  return t.to(device, /*non_blocking=*/t.is_pinned());
}

torch::Tensor HostParameters(ActorCritic& policy) {
  return FlattenParameters(*policy).to(torch::kCPU);
}

}  // namespace robofleet::learner

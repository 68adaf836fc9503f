// learner.device and learner.backend against what this build and machine have.
#include "learner/device.h"

#include <gtest/gtest.h>

#include "core/config.h"
#include "learner/learner.h"

namespace robofleet::learner {
namespace {

std::string ErrorOf(const LearnerConfig& config) {
  try {
    CheckLearnerDevice(config);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceTest, CudaOnABuildOrMachineWithoutItIsOneClearLine) {
  LearnerConfig config;
  config.device = "cuda";
  const std::string error = ErrorOf(config);
  if (!BuiltWithCuda()) {
    EXPECT_NE(error.find("learner.device: cuda, but this build's LibTorch has no CUDA"),
              std::string::npos)
        << error;
  } else if (!torch::cuda::is_available()) {
    EXPECT_NE(error.find("no CUDA device is visible"), std::string::npos) << error;
  } else {
    EXPECT_EQ(error, "");
    EXPECT_TRUE(LearnerDevice(config, 0).is_cuda());
  }
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(DeviceTest, NcclOnABuildWithoutItIsOneClearLine) {
  LearnerConfig config;
  config.device = "cuda";
  config.backend = "nccl";
  const std::string error = ErrorOf(config);
  if (!BuiltWithNccl()) {
    EXPECT_NE(error.find("learner.", 0), std::string::npos) << error;
  }
  if (BuiltWithCuda() && !BuiltWithNccl()) {
    EXPECT_NE(error.find("no NCCL backend"), std::string::npos) << error;
  }
}

TEST(DeviceTest, AutoPicksGlooOnTheCpu) {
  LearnerConfig config;
  EXPECT_EQ(ResolvedBackend(config), "gloo");
  EXPECT_EQ(LearnerDevice(config, 3), torch::Device(torch::kCPU));
  config.device = "cuda";
  EXPECT_EQ(ResolvedBackend(config), BuiltWithNccl() ? "nccl" : "gloo");
}

TEST(DeviceTest, HostOptionsArePinnedOnlyForAGpu) {
  EXPECT_FALSE(HostOptions(torch::Device(torch::kCPU)).pinned_memory());
  EXPECT_TRUE(HostOptions(torch::Device(torch::kCUDA, 0)).pinned_memory());
  // a CPU batcher's tensors are ordinary host memory
  FragmentBatcher batcher(4, 2, 3, 1, 2, HostOptions(torch::Device(torch::kCPU)));
  EXPECT_FALSE(batcher.obs().is_pinned());
  const torch::Tensor t = torch::ones({3});
  EXPECT_TRUE(ToDevice(t, torch::Device(torch::kCPU)).is_same(t));
}

}  // namespace
}  // namespace robofleet::learner

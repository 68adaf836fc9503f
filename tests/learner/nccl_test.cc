// The NCCL library without a GPU: it links, reports its version, and every
// call that needs a device says so in one line instead of crashing.
#include <gtest/gtest.h>
#include <nccl.h>

#include <chrono>
#include <string>

#include "learner/nccl/nccl_allreduce.h"

namespace robofleet::learner::nccl {
namespace {

TEST(NcclTest, ReportsTheLinkedVersion) {
  const std::string version = NcclVersion();
  EXPECT_EQ(version.rfind(std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR) + ".", 0),
            0u)
      << version;
}

TEST(NcclTest, RefusesMalformedRanksAndIdsBeforeTouchingADevice) {
  std::string error;
  EXPECT_EQ(NcclGroup::Create(std::string(kUniqueIdBytes, '\0'), 2, 2, 0, std::chrono::seconds(1),
                              &error),
            nullptr);
  EXPECT_NE(error.find("rank 2 is not in [0, 2)"), std::string::npos) << error;
  error.clear();
  EXPECT_EQ(NcclGroup::Create("short", 0, 1, 0, std::chrono::seconds(1), &error), nullptr);
  EXPECT_NE(error.find("unique id has 5 bytes, not 128"), std::string::npos) << error;
}

TEST(NcclTest, CreateOnAMissingDeviceSaysSoInOneLine) {
  std::string why;
  const int devices = CudaDeviceCount(&why);
  std::string error;
  // one past the last device: here, with no GPU, device 0
  EXPECT_EQ(NcclGroup::Create(std::string(kUniqueIdBytes, '\0'), 0, 1, devices,
                              std::chrono::seconds(1), &error),
            nullptr);
  if (devices == 0) {
    EXPECT_EQ(why.rfind("no CUDA device: ", 0), 0u) << why;
    EXPECT_EQ(error.rfind("no CUDA device", 0), 0u) << error;
  } else {
    EXPECT_NE(error.find("CUDA device " + std::to_string(devices) + " does not exist"),
              std::string::npos)
        << error;
  }
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

}  // namespace
}  // namespace robofleet::learner::nccl

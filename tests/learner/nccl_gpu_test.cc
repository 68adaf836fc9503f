// NCCL on a real GPU, no Torch: one rank's allreduce and broadcast, and two
// ranks on one device, which NCCL may refuse (then cleanly, never a hang).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "learner/nccl/nccl_allreduce.h"

namespace robofleet::learner::nccl {
namespace {

#define SKIP_WITHOUT_GPU()                               \
  do {                                                   \
    std::string why;                                     \
    if (CudaDeviceCount(&why) == 0) GTEST_SKIP() << why; \
  } while (0)

// `n` floats on device 0, filled with `value`.
float* DeviceFloats(size_t n, float value) {
  std::vector<float> host(n, value);
  void* p = nullptr;
  EXPECT_EQ(cudaSetDevice(0), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&p, n * sizeof(float)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  return static_cast<float*>(p);
}

std::vector<float> Host(const float* p, size_t n) {
  std::vector<float> host(n);
  EXPECT_EQ(cudaMemcpy(host.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

TEST(NcclGpuTest, OneRankAllReduceAndBroadcastKeepTheData) {
  SKIP_WITHOUT_GPU();
  std::string id, error;
  ASSERT_TRUE(NewUniqueId(&id, &error)) << error;
  auto group = NcclGroup::Create(id, 0, 1, 0, std::chrono::seconds(30), &error);
  ASSERT_NE(group, nullptr) << error;
  float* data = DeviceFloats(1000, 2.5f);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  ASSERT_TRUE(group->AllReduce(data, 1000, DataType::kFloat32, ReduceOp::kSum, stream, &error))
      << error;
  ASSERT_TRUE(group->AllReduce(data, 1000, DataType::kFloat32, ReduceOp::kAvg, stream, &error))
      << error;
  ASSERT_TRUE(group->Broadcast(data, 1000, DataType::kFloat32, 0, stream, &error)) << error;
  ASSERT_TRUE(group->Wait(stream, {}, &error)) << error;
  for (float x : Host(data, 1000)) ASSERT_EQ(x, 2.5f);
  cudaFree(data);
  cudaStreamDestroy(stream);
}

TEST(NcclGpuTest, TwoRanksOnOneDeviceSumOrAreRefusedCleanly) {
  SKIP_WITHOUT_GPU();
  std::string id, error;
  ASSERT_TRUE(NewUniqueId(&id, &error)) << error;
  std::vector<std::string> errors(2);
  std::vector<std::vector<float>> results(2);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      auto group = NcclGroup::Create(id, rank, 2, 0, std::chrono::seconds(20), &errors[rank]);
      if (!group) return;
      float* data = DeviceFloats(64, rank + 1.0f);
      cudaStream_t stream = nullptr;
      cudaStreamCreate(&stream);
      if (group->AllReduce(data, 64, DataType::kFloat32, ReduceOp::kSum, stream, &errors[rank]) &&
          group->Wait(stream, {}, &errors[rank])) {
        results[rank] = Host(data, 64);
      }
      cudaFree(data);
      cudaStreamDestroy(stream);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 60.0);
  if (errors[0].empty() && errors[1].empty()) {
    for (const auto& r : results) {
      ASSERT_EQ(r.size(), 64u);
      for (float x : r) EXPECT_EQ(x, 3.0f);
    }
  } else {
    // NCCL usually refuses two ranks on one GPU; the refusal is one line
    std::printf("two ranks on one GPU refused: %s | %s\n", errors[0].c_str(), errors[1].c_str());
    for (const auto& e : errors) EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace robofleet::learner::nccl

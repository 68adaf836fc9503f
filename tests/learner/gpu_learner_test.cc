// The learner on a GPU (built with a CUDA LibTorch; each test skips with the
// reason where no CUDA device is present): the update, the batch's trip from
// pinned memory, and gradient averaging over NCCL.
#include <gtest/gtest.h>

#include "algorithms/ppo.h"
#include "algorithms/registry.h"
#include "core/policy.h"
#include "learner/communicator.h"
#include "learner/device.h"
#include "learner/learner.h"
#include "tests/learner/learner_test_util.h"

namespace robofleet::learner {
namespace {

#define SKIP_WITHOUT_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: torch::cuda::is_available()"

const torch::Device kGpu(torch::kCUDA, 0);

using test::RandomBatch;

algorithms::RolloutBatch To(const algorithms::RolloutBatch& b, torch::Device d) {
  return {b.obs.to(d),        b.actions.to(d), b.log_probs.to(d),
          b.advantages.to(d), b.returns.to(d), b.values.to(d)};
}

TEST(GpuLearnerTest, PpoOnTheGpuFollowsPpoOnTheCpu) {
  SKIP_WITHOUT_GPU();
  PolicyConfig pc;
  pc.hidden = {32, 32};
  pc.normalize_value = true;
  AlgorithmConfig config;
  config.epochs = 2;
  config.minibatches = 1;  // one permutation-free step order on both devices
  torch::manual_seed(1);
  ActorCritic cpu(6, 2, pc), gpu(6, 2, pc);
  const torch::Tensor initial = FlattenParameters(*cpu).clone();
  LoadFlatParameters(*gpu, initial.data_ptr<float>(), initial.numel());
  gpu->to(kGpu);
  const algorithms::RolloutBatch batch = RandomBatch(512, 6, 2);
  auto on_cpu = algorithms::CreateOnPolicyAlgorithm(config, cpu);
  auto on_gpu = algorithms::CreateOnPolicyAlgorithm(config, gpu);
  const algorithms::UpdateStats a = on_cpu->Update(batch, {});
  const algorithms::UpdateStats b = on_gpu->Update(To(batch, kGpu), {});
  EXPECT_EQ(a.optimizer_steps, b.optimizer_steps);
  EXPECT_NEAR(a.policy_loss, b.policy_loss, 1e-4);
  EXPECT_TRUE(FlattenParameters(*gpu).is_cuda());
  EXPECT_LT((FlattenParameters(*cpu) - HostParameters(gpu)).abs().max().item<float>(), 1e-4);
}

TEST(GpuLearnerTest, PinnedBatchesReachTheGpuAndWeightsComeBack) {
  SKIP_WITHOUT_GPU();
  const int T = 4, K = 3, D = 5, A = 2;
  FragmentBatcher batcher(T, K, D, A, 1, HostOptions(kGpu));
  EXPECT_TRUE(batcher.obs().is_pinned());
  std::vector<float> obs((T + 1) * K * D, 0.5f), actions(T * K * A, 0.1f), log_probs(T * K, -1),
      rewards(T * K, 1);
  std::vector<uint8_t> flags(T * K, 0);
  wire::FragmentView v;
  v.T = T, v.K = K, v.D = D, v.A = A, v.N = 0;
  v.obs = obs.data(), v.actions = actions.data(), v.log_probs = log_probs.data();
  v.rewards = rewards.data(), v.terminated = flags.data(), v.truncated = flags.data();
  batcher.Add(v);
  PolicyConfig pc;
  pc.hidden = {16};
  ActorCritic policy(D, A, pc);
  RunningNormalizer normalizer(D, 10.0, true);
  algorithms::Ppo ppo(AlgorithmConfig{}, policy);
  const algorithms::RolloutBatch cpu_batch = BuildRolloutBatch(batcher, policy, normalizer, ppo);
  policy->to(kGpu);
  const algorithms::RolloutBatch gpu_batch = BuildRolloutBatch(batcher, policy, normalizer, ppo);
  EXPECT_TRUE(gpu_batch.obs.is_cuda());
  EXPECT_TRUE(gpu_batch.advantages.is_cuda());
  EXPECT_LT((gpu_batch.advantages.cpu() - cpu_batch.advantages).abs().max().item<float>(), 1e-5);
  EXPECT_TRUE(HostParameters(policy).is_cpu());
}

TEST(GpuLearnerTest, OneNcclRankAveragesGradientsToThemselves) {
  SKIP_WITHOUT_GPU();
  if (!BuiltWithNccl()) GTEST_SKIP() << "built without NCCL";
  LearnerConfig lc;
  lc.device = "cuda";
  lc.backend = "nccl";
  std::unique_ptr<Communicator> comm =
      MakeCommunicator(lc, "127.0.0.1", test::FreePort(), 0, 1, kGpu, std::chrono::seconds(30));
  PolicyConfig pc;
  pc.hidden = {16, 16};
  AlgorithmConfig config;
  config.epochs = 2;
  config.minibatches = 1;
  torch::manual_seed(2);
  ActorCritic plain(4, 1, pc), averaged(4, 1, pc);
  const torch::Tensor initial = FlattenParameters(*plain).clone();
  LoadFlatParameters(*averaged, initial.data_ptr<float>(), initial.numel());
  plain->to(kGpu);
  averaged->to(kGpu);
  const algorithms::RolloutBatch batch = To(RandomBatch(256, 4, 1), kGpu);
  algorithms::CreateOnPolicyAlgorithm(config, plain)->Update(batch, {});
  auto algorithm = algorithms::CreateOnPolicyAlgorithm(config, averaged);
  algorithm->Update(batch, AverageGradients(*comm, averaged));
  // the gradients became views into the one flat buffer on the GPU
  for (const torch::Tensor& p : averaged->parameters()) EXPECT_TRUE(p.grad().is_cuda());
  EXPECT_TRUE(torch::equal(FlattenParameters(*plain), FlattenParameters(*averaged)));
  // host tensors (statistics, flags) go through the device and back
  torch::Tensor host = torch::ones({3}, torch::kFloat64);
  comm->AllReduceSum(host);
  EXPECT_EQ(host[2].item<double>(), 1.0);
}

}  // namespace
}  // namespace robofleet::learner

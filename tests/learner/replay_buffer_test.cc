#include "learner/replay_buffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "algorithms/sac.h"
#include "learner/checkpoint.h"
#include "learner/learner.h"

namespace robofleet::learner {
namespace {

// n transitions whose every entry is its index i (reward i, obs i, ...).
Transitions Numbered(int first, int n, int obs_dim = 2, int act_dim = 1) {
  torch::Tensor i = torch::arange(first, first + n, torch::kFloat32);
  Transitions t;
  t.obs = i.unsqueeze(1).expand({n, obs_dim}).contiguous();
  t.actions = (i / 1000.0).unsqueeze(1).expand({n, act_dim}).contiguous();
  t.rewards = i.clone();
  t.next_obs = (i + 0.5).unsqueeze(1).expand({n, obs_dim}).contiguous();
  t.terminated = torch::zeros({n});
  return t;
}

std::vector<float> Rewards(const ReplayBuffer& replay) {
  std::vector<float> r;
  for (int64_t i = 0; i < replay.size(); ++i) r.push_back(replay.At(i).rewards.item<float>());
  return r;
}

TEST(ReplayBufferTest, WrapsAroundOverwritingTheOldest) {
  ReplayBuffer replay(5, 2, 1);
  replay.Add(Numbered(0, 3));
  EXPECT_EQ(replay.size(), 3);
  EXPECT_EQ(replay.next(), 3);
  replay.Add(Numbered(3, 4));  // 3, 4 fill the ring; 5, 6 overwrite 0, 1
  EXPECT_EQ(replay.size(), 5);
  EXPECT_EQ(replay.next(), 2);
  EXPECT_EQ(Rewards(replay), (std::vector<float>{5, 6, 2, 3, 4}));
  // every field moved together
  EXPECT_FLOAT_EQ(replay.At(0).obs[1].item<float>(), 5.0f);
  EXPECT_FLOAT_EQ(replay.At(1).next_obs[0].item<float>(), 6.5f);
  // more at once than fits: only the newest capacity survive, in ring order
  replay.Add(Numbered(100, 12));
  EXPECT_EQ(replay.size(), 5);
  EXPECT_EQ(replay.next(), (2 + 12) % 5);
  EXPECT_EQ(Rewards(replay), (std::vector<float>{108, 109, 110, 111, 107}));
}

TEST(ReplayBufferTest, SaveAndLoadKeepTheRingOfItsCheckpoint) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("robofleet-replay-" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/replay-rank0.pt";
  ReplayBuffer replay(5, 2, 1);
  replay.Add(Numbered(0, 7));  // wrapped: 5 6 2 3 4, next slot 2
  replay.Save(path, 12);
  ReplayBuffer restored(5, 2, 1);
  std::string problem;
  ASSERT_TRUE(restored.Load(path, 12, &problem)) << problem;
  EXPECT_EQ(restored.size(), 5);
  EXPECT_EQ(restored.next(), 2);
  EXPECT_EQ(Rewards(restored), (std::vector<float>{5, 6, 2, 3, 4}));
  EXPECT_FLOAT_EQ(restored.At(4).next_obs[1].item<float>(), 4.5f);
  // the ring continues where it stopped
  restored.Add(Numbered(7, 1));
  EXPECT_EQ(Rewards(restored), (std::vector<float>{5, 6, 7, 3, 4}));
  // a file of another checkpoint, or of other dimensions, is refused and changes nothing
  ReplayBuffer other(5, 2, 1);
  EXPECT_FALSE(other.Load(path, 13, &problem));
  EXPECT_NE(problem.find("update 12"), std::string::npos) << problem;
  EXPECT_EQ(other.size(), 0);
  ReplayBuffer wider(5, 3, 1);
  EXPECT_FALSE(wider.Load(path, 12, &problem));
  EXPECT_FALSE(other.Load(dir + "/missing.pt", 12, &problem));
  std::filesystem::remove_all(dir);
}

TEST(ReplayBufferTest, UniformSamplingCoversEverySlotEvenly) {
  SeedTorch(3);
  ReplayBuffer replay(10, 2, 1);
  replay.Add(Numbered(0, 10));
  RunningNormalizer identity(2, 10.0, false);
  std::vector<int> counts(10, 0);
  const int draws = 5000;
  algorithms::TransitionBatch b = replay.Sample(draws, identity);
  ASSERT_EQ(b.rewards.numel(), draws);
  for (int i = 0; i < draws; ++i) {
    const int r = static_cast<int>(b.rewards[i].item<float>());
    ASSERT_GE(r, 0);
    ASSERT_LT(r, 10);
    ++counts[r];
    // a sample is one whole transition, never a mix of two
    ASSERT_FLOAT_EQ(b.obs[i][0].item<float>(), static_cast<float>(r));
    ASSERT_FLOAT_EQ(b.next_obs[i][1].item<float>(), r + 0.5f);
  }
  // 500 expected per slot; binomial std ~21
  for (int c : counts) {
    EXPECT_GT(c, 400);
    EXPECT_LT(c, 600);
  }
  // only what is stored is drawn
  ReplayBuffer partial(10, 2, 1);
  partial.Add(Numbered(0, 3));
  EXPECT_LT(partial.Sample(500, identity).rewards.max().item<float>(), 3.0f);
}

TEST(ReplayBufferTest, SamplesAreNormalisedWithTheCurrentStatistics) {
  ReplayBuffer replay(4, 2, 1);
  replay.Add(Numbered(0, 4));
  RunningNormalizer normalizer(2, 10.0, true);
  torch::Tensor data = torch::tensor({{0.0f, 0.0f}, {2.0f, 4.0f}});
  normalizer.Update(data.data_ptr<float>(), 2);  // mean (1, 2), var (1, 4)
  algorithms::TransitionBatch b = replay.Sample(50, normalizer);
  torch::Tensor raw = b.rewards;  // equals the raw obs entries
  EXPECT_TRUE(torch::allclose(b.obs.select(1, 0), raw - 1.0, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(b.obs.select(1, 1), (raw - 2.0) / 2.0, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(b.next_obs.select(1, 0), raw + 0.5 - 1.0, 1e-4, 1e-4));
}

TEST(ReplayBufferTest, TruncatedStepsBootstrapFromTheirFinalObsTerminatedOnesNot) {
  // one env, four steps, D = 1: step 1 truncates, step 2 terminates
  const int T = 4, K = 1, D = 1, A = 1;
  std::vector<float> obs = {10, 11, 12, 13, 14};
  std::vector<float> actions = {0.0f, 0.5f, 1.0f, -2.0f};
  std::vector<float> log_probs(T, -1.0f), rewards = {1, 2, 3, 4};
  std::vector<uint8_t> terminated = {0, 0, 1, 0}, truncated = {0, 1, 0, 0};
  std::vector<float> final_obs = {99.0f};
  wire::FragmentView v;
  v.T = T, v.K = K, v.D = D, v.A = A, v.N = 1;
  v.obs = obs.data(), v.actions = actions.data(), v.log_probs = log_probs.data();
  v.rewards = rewards.data(), v.terminated = terminated.data(), v.truncated = truncated.data();
  v.truncated_obs = final_obs.data();
  FragmentBatcher batcher(T, K, D, A, 1);
  batcher.Add(v);
  Transitions t = TransitionsOf(batcher);
  // next obs: the following row, but the final obs for the truncated step
  EXPECT_EQ(std::vector<float>(t.next_obs.data_ptr<float>(), t.next_obs.data_ptr<float>() + T),
            (std::vector<float>{11, 99, 13, 14}));
  EXPECT_EQ(std::vector<float>(t.obs.data_ptr<float>(), t.obs.data_ptr<float>() + T),
            (std::vector<float>{10, 11, 12, 13}));
  EXPECT_EQ(std::vector<float>(t.terminated.data_ptr<float>(), t.terminated.data_ptr<float>() + T),
            (std::vector<float>{0, 0, 1, 0}));
  // the wire carries pre-squash actions; the buffer keeps what the env got
  EXPECT_NEAR(t.actions[1][0].item<float>(), std::tanh(0.5f), 1e-6);
  EXPECT_NEAR(t.actions[3][0].item<float>(), std::tanh(-2.0f), 1e-6);

  // through the SAC target: the truncated step bootstraps, the terminated one does not
  ReplayBuffer replay(8, D, A);
  replay.Add(t);
  const torch::Tensor q = torch::full({T}, 5.0f), zero = torch::zeros({T});
  torch::Tensor y = algorithms::SacCriticTarget(t.rewards, t.terminated, q, q, zero, 0.1, 0.5);
  EXPECT_FLOAT_EQ(y[1].item<float>(), 2.0f + 0.5f * 5.0f);
  EXPECT_FLOAT_EQ(y[2].item<float>(), 3.0f);
}

TEST(ReplayBufferTest, MemoryFigureAndTheConfiguredLimit) {
  // halfcheetah's sizes: 17 obs, 6 actions -> (2 * 17 + 6 + 2) floats
  EXPECT_EQ(ReplayBuffer::BytesPerTransition(17, 6), 168);
  EXPECT_EQ(ReplayBuffer::BytesFor(1000000, 17, 6), 168000000);
  ReplayBuffer replay(1000, 17, 6);
  EXPECT_EQ(replay.bytes(), 168000);
  AlgorithmConfig config;
  config.name = "sac";
  config.replay_capacity = 1000000;  // 160.2 MiB
  config.replay_max_mib = 100;
  try {
    CheckReplayMemory(config, 17, 6, "halfcheetah");
    FAIL() << "accepted";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("160.2 MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("lower algorithm.replay_capacity or raise algorithm.replay_max_mib"),
              std::string::npos)
        << what;
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
  config.replay_max_mib = 161;
  EXPECT_NO_THROW(CheckReplayMemory(config, 17, 6, "halfcheetah"));
  // no buffer, no limit
  config.name = "ppo";
  config.replay_max_mib = 1;
  EXPECT_NO_THROW(CheckReplayMemory(config, 17, 6, "halfcheetah"));
}

TEST(SacCheckpointTest, CriticsTargetsAlphaAndOptimizersComeBack) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("robofleet-sac-ckpt-" + std::to_string(::getpid())))
                              .string();
  std::filesystem::remove_all(dir);
  PolicyConfig pc;
  pc.hidden = {16};
  pc.tanh_squash = true;
  AlgorithmConfig config;
  config.name = "sac";
  config.lr_schedule = "constant";
  SeedTorch(1);
  ActorCritic policy(3, 2, pc);
  auto sac = algorithms::CreateOffPolicyAlgorithm(config, policy);
  for (int i = 0; i < 5; ++i) {
    algorithms::TransitionBatch b;
    b.obs = torch::randn({8, 3});
    b.actions = torch::rand({8, 2}) - 0.5;
    b.rewards = torch::randn({8});
    b.next_obs = torch::randn({8, 3});
    b.terminated = torch::zeros({8});
    sac->Step(b, algorithms::GradientHook());
  }
  RunningNormalizer normalizer(3, 10.0, true);
  TrainingCounters counters;
  counters.updates = 7;
  const std::string path =
      SaveCheckpoint(dir, policy, sac->optimizer(), normalizer, counters, 5,
                     [&](torch::serialize::OutputArchive& a) { sac->SaveState(a); });

  SeedTorch(2);  // other initial weights
  ActorCritic restored_policy(3, 2, pc);
  auto restored = algorithms::CreateOffPolicyAlgorithm(config, restored_policy);
  LoadCheckpoint(path, restored_policy, &restored->optimizer(), &normalizer, &counters,
                 [&](torch::serialize::InputArchive& a) { restored->LoadState(a); });
  auto* a = dynamic_cast<algorithms::Sac*>(sac.get());
  auto* b = dynamic_cast<algorithms::Sac*>(restored.get());
  ASSERT_TRUE(a && b);
  EXPECT_DOUBLE_EQ(a->alpha(), b->alpha());
  EXPECT_NE(a->alpha(), config.init_alpha);  // it was trained
  const auto pa = a->critic()->parameters(), pb = b->critic()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  ASSERT_EQ(pa.size(), 16u);  // q1, q2 and their targets: 2 layers of weight and bias each
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << i;
  // the same next step from both: optimizer moments came back too
  SeedTorch(9);
  algorithms::TransitionBatch batch;
  batch.obs = torch::randn({8, 3});
  batch.actions = torch::rand({8, 2}) - 0.5;
  batch.rewards = torch::randn({8});
  batch.next_obs = torch::randn({8, 3});
  batch.terminated = torch::zeros({8});
  SeedTorch(10);
  sac->Step(batch, algorithms::GradientHook());
  SeedTorch(10);
  restored->Step(batch, algorithms::GradientHook());
  const auto qa = a->critic()->parameters(), qb = b->critic()->parameters();
  for (size_t i = 0; i < qa.size(); ++i) EXPECT_TRUE(torch::allclose(qa[i], qb[i])) << i;
  EXPECT_TRUE(torch::allclose(FlattenParameters(*policy), FlattenParameters(*restored_policy)));
  // a PPO checkpoint has no SAC state: that is a clear error, not a crash
  const std::string bare =
      SaveCheckpoint(dir + "/bare", policy, sac->optimizer(), normalizer, counters);
  EXPECT_THROW(LoadCheckpoint(bare, restored_policy, nullptr, nullptr, nullptr,
                              [&](torch::serialize::InputArchive& ar) { restored->LoadState(ar); }),
               UserError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::learner

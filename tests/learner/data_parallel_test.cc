// Learner ranks over Gloo, as threads of one process meeting at a real
// TCPStore on loopback: gradient averaging, merged statistics, dead ranks.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "algorithms/registry.h"
#include "core/config.h"
#include "core/normalizer.h"
#include "core/policy.h"
#include "learner/communicator.h"
#include "tests/learner/learner_test_util.h"

namespace robofleet::learner {
namespace {

using test::FreePort;
using test::RandomBatch;

// Runs body(rank, communicator) on `world` threads joined at one store.
void RunRanks(int world, const std::function<void(int, Communicator&)>& body,
              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const int port = FreePort();
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      std::unique_ptr<Communicator> comm =
          MakeGlooCommunicator("127.0.0.1", port, rank, world, timeout);
      body(rank, *comm);
    });
  }
  for (auto& t : threads) t.join();
}

algorithms::RolloutBatch Slice(const algorithms::RolloutBatch& b, int64_t from, int64_t to) {
  algorithms::RolloutBatch s;
  s.obs = b.obs.slice(0, from, to);
  s.actions = b.actions.slice(0, from, to);
  s.log_probs = b.log_probs.slice(0, from, to);
  s.advantages = b.advantages.slice(0, from, to);
  s.returns = b.returns.slice(0, from, to);
  s.values = b.values.slice(0, from, to);
  return s;
}

TEST(DataParallelTest, TwoRanksOnHalvesEqualOneRankOnTheWhole) {
  PolicyConfig policy_config;
  policy_config.hidden = {16, 16};
  AlgorithmConfig config;
  config.epochs = 1;
  config.minibatches = 1;  // one gradient over the whole batch: the sum of the halves'
  config.normalize_advantages = false;
  config.lr_schedule = "constant";
  torch::manual_seed(3);
  ActorCritic reference(6, 2, policy_config);
  const algorithms::RolloutBatch batch = RandomBatch(256, 6, 2);
  const torch::Tensor initial = FlattenParameters(*reference).clone();

  // one rank, the whole batch, three updates
  auto whole = algorithms::CreateOnPolicyAlgorithm(config, reference);
  for (int i = 0; i < 3; ++i) whole->Update(batch, {});
  const torch::Tensor expected = FlattenParameters(*reference);

  // two ranks, half each, starting from rank 0's parameters
  std::vector<torch::Tensor> results(2);
  RunRanks(2, [&](int rank, Communicator& comm) {
    ActorCritic policy(6, 2, policy_config);  // rank 1's differ until the broadcast
    if (rank == 0) LoadFlatParameters(*policy, initial.data_ptr<float>(), initial.numel());
    BroadcastParameters(comm, policy);
    auto algorithm = algorithms::CreateOnPolicyAlgorithm(config, policy);
    for (int i = 0; i < 3; ++i) {
      algorithm->Update(Slice(batch, 128 * rank, 128 * (rank + 1)), AverageGradients(comm, policy));
    }
    results[rank] = FlattenParameters(*policy).clone();
  });
  EXPECT_TRUE(torch::equal(results[0], results[1])) << "ranks ended with different parameters";
  EXPECT_FALSE(torch::equal(results[0], initial));
  EXPECT_LT((results[0] - expected).abs().max().item<float>(), 1e-5);
}

TEST(DataParallelTest, RanksAgreeOnSkippingANonFiniteStep) {
  PolicyConfig policy_config;
  policy_config.hidden = {8};
  AlgorithmConfig config;
  config.epochs = 1;
  config.minibatches = 2;
  std::vector<algorithms::UpdateStats> stats(2);
  std::vector<torch::Tensor> params(2);
  torch::manual_seed(7);
  const torch::Tensor initial = FlattenParameters(*ActorCritic(4, 1, policy_config)).clone();
  const std::vector<algorithms::RolloutBatch> batches = {RandomBatch(64, 4, 1),
                                                         RandomBatch(64, 4, 1)};
  RunRanks(2, [&](int rank, Communicator& comm) {
    // the threads share torch's generator, so the parameters are made above
    ActorCritic policy(4, 1, policy_config);
    LoadFlatParameters(*policy, initial.data_ptr<float>(), initial.numel());
    auto algorithm = algorithms::CreateOnPolicyAlgorithm(config, policy);
    algorithms::RolloutBatch b = batches[rank];
    // rank 1's returns are all NaN, so each of its steps is non-finite
    if (rank == 1) b.returns = torch::full_like(b.returns, std::nan(""));
    stats[rank] = algorithm->Update(b, AverageGradients(comm, policy));
    params[rank] = FlattenParameters(*policy).clone();
  });
  // rank 0's losses were finite, yet it skipped with rank 1: the ranks stay equal
  EXPECT_EQ(stats[0].skipped_steps, stats[1].skipped_steps);
  EXPECT_EQ(stats[0].skipped_steps, 2);
  EXPECT_TRUE(torch::equal(params[0], params[1]));
}

TEST(DataParallelTest, MergedObservationsEqualOneUpdateOnTheUnion) {
  torch::manual_seed(5);
  const torch::Tensor rows = torch::randn({300, 3}) * 4.0 + 2.0;
  RunningNormalizer whole(3, 10.0, true);
  whole.Update(rows.data_ptr<float>(), 100);  // earlier statistics
  whole.Update(rows.data_ptr<float>() + 100 * 3, 200);
  std::vector<RunningNormalizer> ranks(2, RunningNormalizer(3, 10.0, true));
  RunRanks(2, [&](int rank, Communicator& comm) {
    ranks[rank].Update(rows.data_ptr<float>(), 100);
    // rank 0 holds 150 rows of the new batch, rank 1 the other 50 plus 0
    const int64_t from = rank == 0 ? 100 : 250, n = rank == 0 ? 150 : 50;
    MergeObservations(comm, rows.data_ptr<float>() + from * 3, n, ranks[rank]);
  });
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(ranks[0].mean()[j], ranks[1].mean()[j]);
    EXPECT_EQ(ranks[0].var()[j], ranks[1].var()[j]);
    EXPECT_NEAR(ranks[0].mean()[j], whole.mean()[j], 1e-9);
    EXPECT_NEAR(ranks[0].var()[j], whole.var()[j], 1e-8);
  }
  EXPECT_EQ(ranks[0].count(), whole.count());
}

TEST(DataParallelTest, RanksMergeReturnStatisticsAndStayBitIdentical) {
  PolicyConfig policy_config;
  policy_config.hidden = {16, 16};
  policy_config.normalize_value = true;
  AlgorithmConfig config;
  config.epochs = 2;
  config.minibatches = 2;
  torch::manual_seed(11);
  const torch::Tensor initial = FlattenParameters(*ActorCritic(5, 2, policy_config)).clone();
  // the halves' returns differ in scale, so statistics of one half alone would too
  std::vector<algorithms::RolloutBatch> halves = {RandomBatch(128, 5, 2), RandomBatch(128, 5, 2)};
  halves[1].returns = halves[1].returns * 10.0 + 5.0;
  halves[1].values = halves[1].returns + 0.1 * torch::randn({128});
  const torch::Tensor all_returns = torch::cat({halves[0].returns, halves[1].returns});
  std::vector<torch::Tensor> params(2), stats(2);
  RunRanks(2, [&](int rank, Communicator& comm) {
    ActorCritic policy(5, 2, policy_config);
    LoadFlatParameters(*policy, initial.data_ptr<float>(), initial.numel());
    MergeValueStatistics(comm, policy);
    auto algorithm = algorithms::CreateOnPolicyAlgorithm(config, policy);
    for (int i = 0; i < 3; ++i) algorithm->Update(halves[rank], AverageGradients(comm, policy));
    params[rank] = FlattenParameters(*policy).clone();
    stats[rank] = torch::cat({policy->value_mean_f32(), policy->value_std_f32(),
                              torch::tensor({static_cast<float>(policy->value_count())})});
  });
  EXPECT_TRUE(torch::equal(params[0], params[1])) << "ranks ended with different parameters";
  EXPECT_TRUE(torch::equal(stats[0], stats[1])) << stats[0] << stats[1];
  // the statistics of the union: three updates saw every return three times
  ActorCritic whole(5, 2, policy_config);
  for (int i = 0; i < 3; ++i) whole->UpdateValueStatistics(all_returns);
  EXPECT_NEAR(stats[0][0].item<float>(), whole->value_mean_f32().item<float>(), 1e-4);
  EXPECT_NEAR(stats[0][1].item<float>(), whole->value_std_f32().item<float>(), 1e-4);
  EXPECT_EQ(stats[0][2].item<float>(), 3.0f * 256);
}

TEST(DataParallelTest, ADeadRankFailsTheOthersWithinTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  RunRanks(
      2,
      [&](int rank, Communicator& comm) {
        if (rank == 1) return;  // gone before the first collective
        torch::Tensor t = torch::ones({4});
        try {
          comm.AllReduceSum(t);
        } catch (const std::exception& e) {
          error = e.what();
        }
      },
      std::chrono::seconds(5));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(error.find("learner ranks failed"), std::string::npos) << error;
  EXPECT_LT(seconds, 20.0);
}

}  // namespace
}  // namespace robofleet::learner

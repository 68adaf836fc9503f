// The actor process's loop in this process, against a learner played by the
// test over real ZeroMQ sockets: weights in, fragments out.
#include "actors/actor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "actors/rollout_times.h"
#include "core/policy.h"
#include "core/transport.h"
#include "core/wire.h"
#include "envs/registry.h"

namespace robofleet::actors {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kVersion = 3;

ExperimentConfig SmallConfig() {
  ExperimentConfig config;
  config.env.id = "cartpole_swingup";
  config.actors.rollout_length = 8;
  config.actors.envs_per_actor = 2;
  config.seed = 5;
  return config;
}

// One fragment as received: its header fields and its observations.
struct Received {
  uint32_t sender_id = 0;
  uint64_t policy_version = 0, sequence = 0;
  int T = 0, K = 0;
  std::vector<float> obs;
};

class ActorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ipc paths must be short
    dir_ = fs::path("/tmp") / ("rf-actor-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs actor `index` until it has sent `count` fragments, publishing
  // weights of version kVersion meanwhile; returns what arrived.
  std::vector<Received> RunActorFor(const ExperimentConfig& config, int index, int count,
                                    const std::string& stats_path = "") {
    const Endpoints endpoints = IpcEndpoints(dir_.string(), index);
    zmq::context_t context(1);
    zmq::socket_t pull(context, zmq::socket_type::pull);
    zmq::socket_t pub(context, zmq::socket_type::pub);
    pull.set(zmq::sockopt::linger, 0);
    pub.set(zmq::sockopt::linger, 0);
    pull.bind(endpoints.trajectories);
    pub.bind(endpoints.weights);

    const auto env = envs::MakeEnv(config.env);
    const int D = env->spec().obs_dim, A = env->spec().act_dim;
    SeedTorch(123);  // the same weights for every run of the test
    ActorCritic policy(D, A, config.policy, env->spec().privileged_dim);
    const torch::Tensor flat = FlattenParameters(*policy);
    const std::vector<float> mean(D, 0.0f), var(D, 1.0f);

    ActorOptions options;
    options.index = index;
    options.endpoints = endpoints;
    options.max_fragments = count;
    options.stats_path = stats_path;
    std::future<int> actor =
        std::async(std::launch::async, [&] { return RunActor(config, options); });

    std::vector<Received> received;
    uint64_t sequence = 0;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(60);
    while (static_cast<int>(received.size()) < count && Clock::now() < deadline) {
      // PUB drops what it sends before the actor subscribes: send until heard
      if (received.empty()) {
        const std::vector<uint8_t> head =
            wire::EncodeHeader(wire::WeightsHeader(kVersion, 0, sequence++, flat.numel(), D));
        std::vector<zmq::message_t> parts;
        parts.emplace_back(head.data(), head.size());
        parts.emplace_back(flat.data_ptr<float>(), flat.numel() * sizeof(float));
        parts.emplace_back(mean.data(), D * sizeof(float));
        parts.emplace_back(var.data(), D * sizeof(float));
        SendMultipart(pub, parts, 0);
      }
      std::vector<zmq::message_t> parts;
      if (!RecvMultipart(pull, &parts, 50)) continue;
      std::vector<wire::Frame> frames;
      for (const auto& part : parts) frames.push_back({part.data(), part.size()});
      wire::FragmentView view;
      const wire::DecodeStatus status =
          wire::DecodeFragment(frames.data(), frames.size(), D, A, 0, &view);
      EXPECT_TRUE(status.ok()) << status.error;
      if (!status.ok()) break;
      Received r;
      r.sender_id = view.sender_id;
      r.policy_version = view.policy_version;
      r.sequence = view.sequence;
      r.T = view.T;
      r.K = view.K;
      r.obs.assign(view.obs, view.obs + static_cast<size_t>(view.T) * view.K * D);
      received.push_back(std::move(r));
    }
    EXPECT_EQ(actor.wait_for(std::chrono::seconds(30)), std::future_status::ready)
        << "the actor did not stop after max_fragments";
    EXPECT_EQ(actor.get(), 0);
    return received;
  }

  fs::path dir_;
};

TEST_F(ActorTest, SendsFragmentsOfItsShapeStampedWithIndexVersionAndSequence) {
  const ExperimentConfig config = SmallConfig();
  const std::vector<Received> fragments = RunActorFor(config, 2, 3);
  ASSERT_EQ(fragments.size(), 3u);
  for (size_t i = 0; i < fragments.size(); ++i) {
    EXPECT_EQ(fragments[i].sender_id, 2u);
    EXPECT_EQ(fragments[i].policy_version, kVersion);
    EXPECT_EQ(fragments[i].T, 8);
    EXPECT_EQ(fragments[i].K, 2);
    if (i > 0) {
      EXPECT_GT(fragments[i].sequence, fragments[i - 1].sequence);
    }
    for (float x : fragments[i].obs) ASSERT_TRUE(std::isfinite(x));
  }
}

TEST_F(ActorTest, TheRunSeedAndTheIndexFixEveryStepOfAnActor) {
  const ExperimentConfig config = SmallConfig();
  const std::vector<Received> first = RunActorFor(config, 0, 2);
  const std::vector<Received> again = RunActorFor(config, 0, 2);
  const std::vector<Received> other = RunActorFor(config, 1, 2);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(again.size(), 2u);
  ASSERT_EQ(other.size(), 2u);
  EXPECT_EQ(first[1].obs, again[1].obs);  // same seed, same index: the same steps
  EXPECT_NE(first[1].obs, other[1].obs);  // another actor: its own streams
  ExperimentConfig reseeded = config;
  reseeded.seed = 6;
  EXPECT_NE(RunActorFor(reseeded, 0, 2)[1].obs, first[1].obs);
}

TEST_F(ActorTest, WritesWhereItsTimeWentAtExit) {
  const std::string stats = (dir_ / "actor0.json").string();
  ASSERT_EQ(RunActorFor(SmallConfig(), 0, 4, stats).size(), 4u);
  std::ifstream in(stats);
  std::string line;
  ASSERT_TRUE(std::getline(in, line)) << stats << " was not written";
  RolloutTimes times;
  ASSERT_TRUE(RolloutTimes::FromJson(line, &times)) << line;
  EXPECT_EQ(times.fragments, 4);
  EXPECT_EQ(times.env_steps, 4 * 8 * 2);
  EXPECT_GT(times.simulate_s, 0.0);
  EXPECT_GT(times.bytes, 0);
}

TEST(RolloutTimesTest, JsonRoundTripsEveryField) {
  RolloutTimes times;
  times.simulate_s = 1.5;
  times.inference_s = 0.25;
  times.serialise_s = 0.125;
  times.send_s = 0.0625;
  times.wait_s = 2.0;
  times.weights_s = 0.5;
  times.fragments = 7;
  times.env_steps = 896;
  times.bytes = 123456;
  RolloutTimes back;
  ASSERT_TRUE(RolloutTimes::FromJson(times.ToJson(), &back)) << times.ToJson();
  EXPECT_EQ(back.ToJson(), times.ToJson());
  EXPECT_DOUBLE_EQ(back.total_s(), 1.5 + 0.25 + 0.125 + 0.0625 + 2.0 + 0.5);
  EXPECT_FALSE(RolloutTimes::FromJson("{\"simulate_s\": 1}", &back));
}

}  // namespace
}  // namespace robofleet::actors

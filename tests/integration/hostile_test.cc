// Hostile input against a live run: malformed messages on the learner's
// trajectory socket while training goes on.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <zmq.hpp>

#include "core/wire.h"
#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

// A message that must be rejected: random bytes, a damaged header, or a
// header whose frames do not add up.
std::vector<zmq::message_t> Malformed(std::mt19937& rng, int kind) {
  std::vector<zmq::message_t> parts;
  auto random_bytes = [&](size_t n) {
    zmq::message_t m(n);
    for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(m.data())[i] = rng();
    return m;
  };
  wire::Header header = wire::FragmentHeader(0, 9, rng(), 16, 4, 5, 1, 0, 0, 0);
  std::vector<uint8_t> head = wire::EncodeHeader(header);
  switch (kind % 4) {
    case 0:  // noise
      for (int i = 0, n = 1 + rng() % 5; i < n; ++i) parts.push_back(random_bytes(rng() % 300));
      break;
    case 1:  // a valid header with one byte flipped and no payload
      head[rng() % head.size()] ^= 0x5A;
      parts.emplace_back(head.data(), head.size());
      break;
    case 2:  // a valid header, frames of the wrong size
      parts.emplace_back(head.data(), head.size());
      for (size_t i = 0; i < header.arrays.size(); ++i) parts.push_back(random_bytes(rng() % 64));
      break;
    default: {  // the right sizes, but NaN observations
      parts.emplace_back(head.data(), head.size());
      for (const auto& d : header.arrays) {
        zmq::message_t m(d.NumBytes());
        std::memset(m.data(), 0xFF, m.size());  // 0xFFFFFFFF is a NaN as float
        parts.push_back(std::move(m));
      }
    }
  }
  return parts;
}

TEST(HostileInputTest, TenThousandMalformedFragmentsWhileTraining) {
  const std::string dir = MakeTempDir("hostile");
  const std::string run = dir + "/run";
  std::ofstream(dir + "/exp.yaml") << "name: tiny\nenv:\n  max_episode_steps: 40\n"
                                      "actors:\n  count: 1\n  envs_per_actor: 4\n"
                                      "  rollout_length: 16\npolicy:\n  hidden: [16, 16]\n"
                                      "learner:\n  batch_size: 64\ntrain:\n"
                                      "  total_env_steps: 1000000000\n";
  Child train({ROBOFLEET_BINARY, "train", dir + "/exp.yaml", "--run-dir", run}, dir + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= 2; }, 60)) << train.err();

  // an intruder on the run's own trajectory endpoint
  zmq::context_t context(1);
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect("ipc://" + fs::absolute(run).string() + "/r0-traj");
  std::mt19937 rng(7);
  constexpr int kMessages = 10000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  int sent = 0;
  while (sent < kMessages && std::chrono::steady_clock::now() < deadline) {
    std::vector<zmq::message_t> parts = Malformed(rng, sent);
    zmq::pollitem_t item{push.handle(), 0, ZMQ_POLLOUT, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
    for (size_t i = 0; i < parts.size(); ++i) {
      push.send(parts[i], i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    ++sent;
  }
  ASSERT_EQ(sent, kMessages) << "the learner stopped reading";

  // training goes on, and every malformed message was counted as dropped
  auto dropped = [&] {
    std::vector<double> column = CsvColumn(run + "/metrics.csv", "dropped_fragments");
    return column.empty() ? 0.0 : column.back();
  };
  const int rows_after_attack = CsvRows(run + "/metrics.csv");
  EXPECT_TRUE(WaitFor(
      [&] {
        return CsvRows(run + "/metrics.csv") >= rows_after_attack + 3 && dropped() >= kMessages;
      },
      60))
      << "dropped_fragments: " << dropped();
  kill(train.pid(), SIGINT);
  ASSERT_TRUE(train.Wait(30));
  EXPECT_EQ(train.exit_code(), 130) << train.err();  // stopped cleanly
  fs::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

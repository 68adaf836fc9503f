// A live run under stress: stopping on a deadline, memory while actors
// outrun the learner, and a flood of malformed weights at a live actor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "core/wire.h"
#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string TinyExperiment(int actors = 2, const std::string& extra = "") {
  return "name: tiny\nseed: 5\nenv:\n  max_episode_steps: 40\nactors:\n  count: " +
         std::to_string(actors) +
         "\n  envs_per_actor: 4\n  rollout_length: 16\n"
         "policy:\n  hidden: [16, 16]\nalgorithm:\n  epochs: 2\n  minibatches: 2\n"
         "learner:\n  batch_size: 128\ntrain:\n  total_env_steps: 1000000000\n"
         "  checkpoint_every: 5\n" +
         extra;
}

// Resident set of a process in MiB (VmRSS), or -1 once it is gone.
double ResidentMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      double kib = 0;
      in >> kib;
      return kib / 1024.0;
    }
  }
  return -1;
}

// The one process of the run whose command line names `role`.
pid_t ProcessOf(const std::string& run, const std::string& role) {
  std::vector<pid_t> pids = ProcessesMatching(role + " --run-dir " + run);
  return pids.size() == 1 ? pids[0] : -1;
}

class SurviveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    run_ = dir_ + "/run";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }

  std::string dir_, run_;
};

TEST_F(SurviveTest, SigtermGivesCheckpointAndPolicyWithinTenSeconds) {
  Child train({ROBOFLEET_BINARY, "train", Write("exp.yaml", TinyExperiment()), "--run-dir", run_},
              dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run_ + "/metrics.csv") >= 3; }, 60)) << train.err();
  const auto signalled = fs::file_time_type::clock::now();
  const Clock::time_point start = Clock::now();
  kill(train.pid(), SIGTERM);
  ASSERT_TRUE(train.Wait(10)) << "no exit within 10 s of SIGTERM";
  std::printf("SIGTERM to exit: %.2f s\n", SecondsSince(start));
  EXPECT_EQ(train.exit_code(), 143) << train.err();  // stopped by SIGTERM
  // the final checkpoint and export were written after the signal
  ASSERT_TRUE(fs::exists(run_ + "/policy.pt"));
  EXPECT_GE(fs::last_write_time(run_ + "/policy.pt"), signalled);
  std::ifstream latest(run_ + "/checkpoints/latest");
  std::string newest;
  ASSERT_TRUE(std::getline(latest, newest));
  EXPECT_GE(fs::last_write_time(run_ + "/checkpoints/" + newest), signalled) << newest;
  EXPECT_TRUE(WaitFor([&] { return ProcessesMatching(run_).empty(); }, 5));
}

TEST_F(SurviveTest, SecondInterruptExitsAtOnce) {
  Child train({ROBOFLEET_BINARY, "train", Write("exp.yaml", TinyExperiment()), "--run-dir", run_},
              dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run_ + "/metrics.csv") >= 2; }, 60)) << train.err();
  const Clock::time_point start = Clock::now();
  kill(train.pid(), SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(train.pid(), SIGINT);
  ASSERT_TRUE(train.Wait(2)) << "the second Ctrl-C did not end the launcher";
  std::printf("second SIGINT to exit: %.3f s\n", SecondsSince(start));
  EXPECT_EQ(train.exit_code(), 130);
  // it killed and reaped its children before it exited: nothing is left
  EXPECT_TRUE(WaitFor([&] { return ProcessesMatching(run_).empty(); }, 1))
      << ProcessesMatching(run_).size() << " processes of the run still alive";
}

TEST_F(SurviveTest, LearnerMemoryStaysBoundedWhileActorsOutrunIt) {
  // a slow update (wide network, many epochs) against two fast actors with
  // deep send queues: the actors are throttled by the high-water marks, and
  // the learner's memory must not grow with what they could produce
  const std::string exp =
      Write("exp.yaml",
            "name: flood\nseed: 2\nactors:\n  count: 2\n  envs_per_actor: 16\n"
            "  rollout_length: 64\n  send_hwm: 8\npolicy:\n  hidden: [256, 256]\n"
            "algorithm:\n  epochs: 8\n  minibatches: 8\n  max_policy_lag: 1000\n"
            "learner:\n  batch_size: 8192\ntrain:\n  total_env_steps: 1000000000\n"
            "  checkpoint_every: 5\n  log_every_s: 1000\n");
  Child train({ROBOFLEET_BINARY, "train", exp, "--run-dir", run_}, dir_ + "/train");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run_ + "/metrics.csv") >= 1; }, 60)) << train.err();
  const pid_t learner = ProcessOf(run_, "learner");
  ASSERT_GT(learner, 0);

  // one minute of samples, once a second
  std::vector<double> rss;
  const Clock::time_point start = Clock::now();
  while (SecondsSince(start) < 60) {
    rss.push_back(ResidentMiB(learner));
    ASSERT_GT(rss.back(), 0) << "the learner died\n" << train.err();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const size_t third = rss.size() / 3;
  const double early = *std::max_element(rss.begin(), rss.begin() + third);
  const double late = *std::max_element(rss.end() - third, rss.end());
  const int updates = CsvRows(run_ + "/metrics.csv");
  std::printf(
      "learner resident memory: first 20 s peak %.1f MiB, last 20 s peak %.1f MiB, "
      "%d updates\n",
      early, late, updates);
  // the actors really did outrun it: their steps wait in queues, not in the learner
  EXPECT_GE(updates, 3) << "the learner hardly trained; the test measured nothing";
  EXPECT_LE(late, early + 32.0) << "the learner's memory grew over the minute";

  kill(train.pid(), SIGINT);
  ASSERT_TRUE(train.Wait(30));
  EXPECT_EQ(train.exit_code(), 130) << train.err();  // stopped cleanly
}

// A message the actor must reject, made from a real weights message where
// that helps: noise, a truncated header, wrong frame sizes, or NaN parameters.
std::vector<zmq::message_t> MalformedWeights(std::mt19937& rng, int kind,
                                             const std::vector<zmq::message_t>& real) {
  std::vector<zmq::message_t> parts;
  auto random_bytes = [&](size_t n) {
    zmq::message_t m(n);
    for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(m.data())[i] = rng();
    return m;
  };
  switch (kind % 4) {
    case 0:
      for (int i = 0, n = 1 + rng() % 5; i < n; ++i) parts.push_back(random_bytes(rng() % 300));
      break;
    case 1:  // the header cut short
      parts.emplace_back(real[0].data(), rng() % real[0].size());
      for (size_t i = 1; i < real.size(); ++i) parts.emplace_back(real[i].data(), real[i].size());
      break;
    case 2:  // the header of a real message, frames of the wrong size
      parts.emplace_back(real[0].data(), real[0].size());
      for (size_t i = 1; i < real.size(); ++i) parts.push_back(random_bytes(rng() % 64));
      break;
    default:  // the right sizes, NaN parameters
      for (const auto& p : real) parts.emplace_back(p.data(), p.size());
      std::memset(parts[1].data(), 0xFF, parts[1].size());
  }
  return parts;
}

void Send(zmq::socket_t& socket, std::vector<zmq::message_t>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    socket.send(parts[i], i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

TEST_F(SurviveTest, ActorRejectsTenThousandMalformedWeightMessagesAndKeepsTraining) {
  // a real learner and a real actor; the actor's weights reach it through a
  // relay in this test that mixes 10,000 malformed messages into the stream
  fs::create_directories(run_);
  std::ofstream(run_ + "/config.yaml") << TinyExperiment(1, "  log_every_s: 1000\n");
  const std::string traj = "ipc://" + dir_ + "/traj", weights = "ipc://" + dir_ + "/weights",
                    relay = "ipc://" + dir_ + "/relay";
  Child learner({ROBOFLEET_BINARY, "learner", "--run-dir", run_, "--traj", traj, "--weights",
                 weights, "--quiet"},
                dir_ + "/learner");
  zmq::context_t context(1);
  zmq::socket_t from_learner(context, zmq::socket_type::sub);
  from_learner.set(zmq::sockopt::subscribe, "");
  from_learner.set(zmq::sockopt::linger, 0);
  from_learner.connect(weights);
  zmq::socket_t to_actor(context, zmq::socket_type::pub);
  to_actor.set(zmq::sockopt::sndhwm, 100000);  // nothing of the flood is dropped on the way
  to_actor.set(zmq::sockopt::linger, 0);
  to_actor.bind(relay);
  Child actor({ROBOFLEET_BINARY, "actor", "--run-dir", run_, "--index", "0", "--traj", traj,
               "--weights", relay},
              dir_ + "/actor");

  constexpr int kMalformed = 10000;
  std::mt19937 rng(11);
  std::vector<zmq::message_t> real;
  int sent = 0, rows_after_flood = -1;
  const Clock::time_point start = Clock::now();
  Clock::time_point flood_end;
  while (SecondsSince(start) < 120) {
    // forward whatever the learner published
    std::vector<zmq::message_t> parts;
    zmq::pollitem_t item{from_learner.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(5)) > 0) {
      if (!zmq::recv_multipart(from_learner, std::back_inserter(parts))) continue;
      real.clear();
      for (const auto& p : parts) real.emplace_back(p.data(), p.size());
      Send(to_actor, parts);
    }
    // once training runs, the flood, a few hundred messages at a time
    const int rows = CsvRows(run_ + "/metrics.csv");
    if (rows >= 2 && sent < kMalformed) {
      for (int i = 0; i < 250 && sent < kMalformed; ++i, ++sent) {
        std::vector<zmq::message_t> bad = MalformedWeights(rng, sent, real);
        Send(to_actor, bad);
      }
      if (sent == kMalformed) rows_after_flood = rows, flood_end = Clock::now();
    }
    // after it, the learner keeps receiving fragments made with fresh weights
    // (and the actor, which drains its queue before every fragment, has read all)
    if (rows_after_flood >= 0 && rows >= rows_after_flood + 20 && SecondsSince(flood_end) > 2) {
      break;
    }
  }
  ASSERT_EQ(sent, kMalformed);
  ASSERT_GE(CsvRows(run_ + "/metrics.csv"), rows_after_flood + 20)
      << "training stopped after the flood\n"
      << actor.err() << learner.err();

  kill(actor.pid(), SIGTERM);
  ASSERT_TRUE(actor.Wait(10));
  EXPECT_EQ(actor.exit_code(), 0);
  EXPECT_NE(actor.err().find("actor: 10000 weights messages rejected in all"), std::string::npos)
      << actor.err();
  kill(learner.pid(), SIGTERM);
  ASSERT_TRUE(learner.Wait(10));
  EXPECT_EQ(learner.exit_code(), 143) << learner.err();  // stopped before its total
}

}  // namespace
}  // namespace robofleet::testing

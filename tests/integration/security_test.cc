// A run over tcp admits only its own actors: peers without the run's CURVE
// keys receive nothing and nothing they send is read.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <zmq.hpp>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> ReadPairs(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::string> pairs;
  std::string key, value;
  while (in >> key >> value) pairs[key] = value;
  return pairs;
}

int Mode(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

// Whether a SUB socket set up by `configure` gets any message within `seconds`.
bool Receives(zmq::context_t& context, const std::string& endpoint,
              const std::function<void(zmq::socket_t&)>& configure, double seconds) {
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "");
  configure(sub);
  sub.connect(endpoint);
  zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
  return zmq::poll(&item, 1, std::chrono::milliseconds(static_cast<int>(seconds * 1000))) > 0;
}

// Pushes `count` junk messages for `seconds` through a PUSH socket set up by `configure`.
void PushJunk(zmq::context_t& context, const std::string& endpoint,
              const std::function<void(zmq::socket_t&)>& configure, int count, double seconds) {
  zmq::socket_t push(context, zmq::socket_type::push);
  // what was sent must leave before the socket closes (a refused peer queues
  // nothing, so its close does not wait)
  push.set(zmq::sockopt::linger, 2000);
  configure(push);
  push.connect(endpoint);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  // a peer that is refused never gets room to send: it tries until the deadline
  for (int sent = 0; sent < count && std::chrono::steady_clock::now() < deadline;) {
    zmq::pollitem_t item{push.handle(), 0, ZMQ_POLLOUT, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(10)) == 0) continue;
    zmq::message_t junk(std::string("not a fragment"));
    if (push.send(junk, zmq::send_flags::dontwait)) ++sent;
  }
}

TEST(SecurityTest, TcpRunAdmitsOnlyItsOwnActors) {
  const std::string dir = MakeTempDir("security");
  const std::string run = dir + "/run";
  std::ofstream(dir + "/exp.yaml") << "name: tiny\nenv:\n  max_episode_steps: 40\n"
                                      "actors:\n  count: 1\n  envs_per_actor: 4\n"
                                      "  rollout_length: 16\npolicy:\n  hidden: [16, 16]\n"
                                      "algorithm:\n  max_policy_lag: 1000\n"
                                      "learner:\n  batch_size: 64\ntrain:\n"
                                      "  total_env_steps: 1000000000\n  log_every_s: 1000\n"
                                      "transport:\n  bind: 127.0.0.1\n";
  Child train({ROBOFLEET_BINARY, "train", dir + "/exp.yaml", "--run-dir", run}, dir + "/train");
  // the run's own actor, over tcp with CURVE, feeds the learner
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= 2; }, 60)) << train.err();

  // the keys are the run's own and private
  EXPECT_EQ(Mode(run + "/keys"), 0700);
  EXPECT_EQ(Mode(run + "/keys/learner.key"), 0600);
  EXPECT_EQ(Mode(run + "/keys/actor.key"), 0600);
  const auto endpoints = ReadPairs(run + "/endpoints");
  const std::string traj = endpoints.at("trajectories"), weights = endpoints.at("weights");
  ASSERT_EQ(traj.rfind("tcp://127.0.0.1:", 0), 0u) << traj;
  const auto learner_key = ReadPairs(run + "/keys/learner.key");
  const auto actor_key = ReadPairs(run + "/keys/actor.key");
  char stranger_public[41], stranger_secret[41];
  ASSERT_EQ(zmq_curve_keypair(stranger_public, stranger_secret), 0);

  auto plain = [](zmq::socket_t&) {};
  auto stranger = [&](zmq::socket_t& s) {
    s.set(zmq::sockopt::curve_serverkey, learner_key.at("public"));
    s.set(zmq::sockopt::curve_publickey, std::string(stranger_public));
    s.set(zmq::sockopt::curve_secretkey, std::string(stranger_secret));
  };
  auto member = [&](zmq::socket_t& s) {
    s.set(zmq::sockopt::curve_serverkey, learner_key.at("public"));
    s.set(zmq::sockopt::curve_publickey, actor_key.at("public"));
    s.set(zmq::sockopt::curve_secretkey, actor_key.at("secret"));
  };
  zmq::context_t context(1);

  // strangers get no weights (the learner publishes at least twice a second)
  EXPECT_FALSE(Receives(context, weights, plain, 2.0)) << "a plain subscriber got weights";
  EXPECT_FALSE(Receives(context, weights, stranger, 2.0)) << "an unknown CURVE key got weights";
  // and nothing they push is read: not one dropped fragment
  PushJunk(context, traj, plain, 100, 2.0);
  PushJunk(context, traj, stranger, 100, 2.0);
  const int rows = CsvRows(run + "/metrics.csv");
  ASSERT_TRUE(WaitFor([&] { return CsvRows(run + "/metrics.csv") >= rows + 3; }, 30));
  EXPECT_EQ(CsvColumn(run + "/metrics.csv", "dropped_fragments").back(), 0.0);

  // the same probes with the run's actor key do get through: the test can fail
  EXPECT_TRUE(Receives(context, weights, member, 5.0)) << "the run's own key got no weights";
  PushJunk(context, traj, member, 1, 5.0);
  EXPECT_TRUE(WaitFor(
      [&] {
        std::vector<double> dropped = CsvColumn(run + "/metrics.csv", "dropped_fragments");
        return !dropped.empty() && dropped.back() >= 1.0;
      },
      30))
      << "a message from the run's own key was not read";

  EXPECT_NE(train.err().find("refused a connection"), std::string::npos) << train.err();
  kill(train.pid(), SIGINT);
  ASSERT_TRUE(train.Wait(30));
  EXPECT_EQ(train.exit_code(), 130) << train.err();  // stopped cleanly
  fs::remove_all(dir);
}

}  // namespace
}  // namespace robofleet::testing

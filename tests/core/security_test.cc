// The ZAP handler on its own thread, with real CURVE sockets over loopback:
// it admits the run's actors and refuses and counts everyone else.
#include "core/security.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "core/config.h"
#include "core/transport.h"

namespace robofleet {
namespace {

std::vector<zmq::message_t> OneFrame(const std::string& text) {
  std::vector<zmq::message_t> parts;
  parts.emplace_back(text.data(), text.size());
  return parts;
}

// the messages `server` receives within `timeout_ms`, as text
std::vector<std::string> Drain(zmq::socket_t& server, int timeout_ms) {
  std::vector<std::string> got;
  std::vector<zmq::message_t> parts;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    parts.clear();
    if (RecvMultipart(server, &parts, 50)) got.push_back(parts.at(0).to_string());
  }
  return got;
}

TEST(ZapAuthenticatorTest, AdmitsOnlyAllowedKeysAndCountsTheRefused) {
  zmq::context_t context;
  const CurveKeyPair learner = NewCurveKeyPair();
  const CurveKeyPair actor = NewCurveKeyPair();
  const CurveKeyPair stranger = NewCurveKeyPair();
  ZapAuthenticator auth(context, {actor.public_key}, "security_test");

  zmq::socket_t server(context, zmq::socket_type::pull);
  server.set(zmq::sockopt::linger, 0);
  MakeCurveServer(server, learner);
  server.bind("tcp://127.0.0.1:*");
  const std::string endpoint = server.get(zmq::sockopt::last_endpoint);

  // the stranger knows the learner's public key but holds no allowed key
  zmq::socket_t intruder(context, zmq::socket_type::push);
  intruder.set(zmq::sockopt::linger, 0);
  MakeCurveClient(intruder, stranger, learner.public_key);
  intruder.connect(endpoint);
  std::vector<zmq::message_t> intrusion = OneFrame("intruder");
  SendMultipart(intruder, intrusion, 0);  // queued until a handshake that never succeeds

  zmq::socket_t client(context, zmq::socket_type::push);
  client.set(zmq::sockopt::linger, 0);
  MakeCurveClient(client, actor, learner.public_key);
  client.connect(endpoint);
  std::vector<zmq::message_t> hello = OneFrame("actor");
  ASSERT_TRUE(SendMultipart(client, hello, 5000));

  // the actor's message arrives, the stranger's never does, and the refusal
  // is counted (the stranger retries, so possibly more than once)
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<std::string> got;
  while ((got.empty() || auth.refused() == 0) && std::chrono::steady_clock::now() < deadline) {
    for (const std::string& text : Drain(server, 100)) got.push_back(text);
  }
  EXPECT_EQ(got, std::vector<std::string>{"actor"});
  EXPECT_GE(auth.refused(), 1);
}

TEST(ZapAuthenticatorTest, ABadAllowedKeyIsAUserError) {
  zmq::context_t context;
  EXPECT_THROW(ZapAuthenticator(context, {"not a key"}, "security_test"), UserError);
}

}  // namespace
}  // namespace robofleet

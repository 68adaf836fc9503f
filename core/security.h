// Who may talk to a run: ZeroMQ CURVE keys made per run, and the ZAP handler
// through which a learner accepts only its own run's actors.
//
// A run that binds tcp sockets has RUN_DIR/keys (mode 0700) holding two key
// pairs, learner.key and actor.key (mode 0600), each "public <z85>\nsecret
// <z85>\n". The learner's sockets are CURVE servers; actors are CURVE
// clients that know the learner's public key and hold the actors' pair. A
// peer without the actors' secret key cannot finish the handshake, so it
// receives nothing and nothing it sends is read. ipc:// sockets of a
// one-machine run need none of this: they are files in the run directory.
#ifndef ROBOFLEET_CORE_SECURITY_H_
#define ROBOFLEET_CORE_SECURITY_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace robofleet {

// One CURVE key pair, each key 40 characters of Z85.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

// The two key pairs of a run.
struct RunKeys {
  CurveKeyPair learner;
  CurveKeyPair actor;
};

// A fresh key pair from libsodium via libzmq. Throws UserError when this
// libzmq was built without CURVE.
CurveKeyPair NewCurveKeyPair();

// Reads the keys in `dir`, making them first if the directory does not
// exist (a resumed run keeps its keys). Throws UserError naming the file
// when a key file is unreadable, malformed, or readable by others.
RunKeys LoadOrCreateRunKeys(const std::string& dir);

// Reads the keys in `dir`; throws UserError as above, or when they are missing.
RunKeys ReadRunKeys(const std::string& dir);

// Makes `socket` a CURVE server with `own` keys, subject to the context's
// ZAP handler. Call before bind.
void MakeCurveServer(zmq::socket_t& socket, const CurveKeyPair& own);

// Makes `socket` a CURVE client of the server whose public key is
// `server_public`. Call before connect.
void MakeCurveClient(zmq::socket_t& socket, const CurveKeyPair& own,
                     const std::string& server_public);

// The ZAP handler of one context: admits CURVE clients whose public key is
// in `allowed`, refuses everything else. It must exist before any CURVE
// server socket of the context binds, and outlive them.
class ZapAuthenticator {
 public:
  ZapAuthenticator(zmq::context_t& context, std::vector<std::string> allowed_z85,
                   std::string log_prefix);
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  int64_t refused() const { return refused_.load(); }

 private:
  void Serve();

  zmq::socket_t socket_;
  std::vector<std::string> allowed_;  // 32-byte binary keys
  std::string log_prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> refused_{0};
  std::thread thread_;
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_SECURITY_H_

#include "core/security.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <zmq_addon.hpp>

#include "core/atomic_file.h"
#include "core/config.h"

namespace robofleet {
namespace {

namespace fs = std::filesystem;

constexpr size_t kZ85KeyLength = 40;

void WriteKeyFile(const std::string& path, const CurveKeyPair& keys) {
  // created 0600 before anything secret is in it
  std::FILE* f = nullptr;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd >= 0) f = fdopen(fd, "w");
  if (f == nullptr) throw UserError(path + ": cannot create the key file");
  std::fprintf(f, "public %s\nsecret %s\n", keys.public_key.c_str(), keys.secret_key.c_str());
  if (std::fclose(f) != 0) throw UserError(path + ": cannot write the key file");
}

CurveKeyPair ReadKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw UserError(path + ": missing; the run's keys are made by robofleet train");
  }
  if ((st.st_mode & 077) != 0) {
    throw UserError(path + ": readable by others; chmod 600 " + path);
  }
  std::ifstream in(path);
  CurveKeyPair keys;
  std::string label;
  if (!(in >> label >> keys.public_key) || label != "public" || !(in >> label >> keys.secret_key) ||
      label != "secret" || keys.public_key.size() != kZ85KeyLength ||
      keys.secret_key.size() != kZ85KeyLength) {
    throw UserError(path +
                    ": not a key file (want 'public <40 z85 chars>' and "
                    "'secret <40 z85 chars>' lines)");
  }
  return keys;
}

std::string Text(const zmq::message_t& m) { return std::string(m.data<char>(), m.size()); }

}  // namespace

CurveKeyPair NewCurveKeyPair() {
  if (!zmq_has("curve")) {
    throw UserError(
        "this libzmq has no CURVE security; install Debian's libzmq5 (built with "
        "libsodium), or bind to ipc (transport.bind: ipc)");
  }
  char public_key[kZ85KeyLength + 1], secret_key[kZ85KeyLength + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    throw UserError(std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()));
  }
  return {public_key, secret_key};
}

RunKeys LoadOrCreateRunKeys(const std::string& dir) {
  if (!fs::exists(dir)) {
    // both keys appear at once, or none; the folder is 0700
    auto write_keys = [](const std::string& tmp) {
      WriteKeyFile(tmp + "/learner.key", NewCurveKeyPair());
      WriteKeyFile(tmp + "/actor.key", NewCurveKeyPair());
    };
    try {
      WriteFolderAtomically(dir, write_keys);
    } catch (const UserError&) {
      throw;
    } catch (const std::runtime_error& e) {
      throw UserError(std::string(e.what()) + "; cannot create the key folder");
    }
  }
  return ReadRunKeys(dir);
}

RunKeys ReadRunKeys(const std::string& dir) {
  return {ReadKeyFile(dir + "/learner.key"), ReadKeyFile(dir + "/actor.key")};
}

void MakeCurveServer(zmq::socket_t& socket, const CurveKeyPair& own) {
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
  socket.set(zmq::sockopt::zap_domain, "robofleet");
}

void MakeCurveClient(zmq::socket_t& socket, const CurveKeyPair& own,
                     const std::string& server_public) {
  socket.set(zmq::sockopt::curve_serverkey, server_public);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
}

ZapAuthenticator::ZapAuthenticator(zmq::context_t& context, std::vector<std::string> allowed_z85,
                                   std::string log_prefix)
    : socket_(context, zmq::socket_type::rep), log_prefix_(std::move(log_prefix)) {
  for (const std::string& z85 : allowed_z85) {
    std::string binary(32, '\0');
    if (z85.size() != kZ85KeyLength ||
        zmq_z85_decode(reinterpret_cast<uint8_t*>(binary.data()), z85.c_str()) == nullptr) {
      throw UserError("not a Z85 CURVE public key: '" + z85 + "'");
    }
    allowed_.push_back(binary);
  }
  socket_.set(zmq::sockopt::linger, 0);
  // the endpoint libzmq asks (RFC 27); bound before any server socket exists
  socket_.bind("inproc://zeromq.zap.01");
  thread_ = std::thread([this] { Serve(); });
}

ZapAuthenticator::~ZapAuthenticator() {
  stop_ = true;
  thread_.join();
}

void ZapAuthenticator::Serve() {
  std::vector<zmq::message_t> request;
  while (!stop_) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      request.clear();
      if (!zmq::recv_multipart(socket_, std::back_inserter(request))) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      if (e.num() == ETERM) return;
      throw;
    }
    // version, request id, domain, address, routing id, mechanism, credentials...
    bool admit = false;
    std::string address = "?";
    if (request.size() >= 6 && Text(request[0]) == "1.0") {
      address = Text(request[3]);
      admit = Text(request[5]) == "CURVE" && request.size() == 7 &&
              std::find(allowed_.begin(), allowed_.end(), Text(request[6])) != allowed_.end();
    }
    if (!admit && refused_.fetch_add(1) < 10) {
      std::fprintf(stderr, "%s: refused a connection from %s: not one of this run's CURVE keys\n",
                   log_prefix_.c_str(), address.c_str());
    }
    std::vector<zmq::message_t> reply;
    reply.emplace_back(std::string("1.0"));
    reply.push_back(request.size() >= 2 ? zmq::message_t(request[1].data(), request[1].size())
                                        : zmq::message_t());
    reply.emplace_back(std::string(admit ? "200" : "400"));
    reply.emplace_back(std::string(admit ? "OK" : "unknown key"));
    reply.emplace_back(std::string(admit ? "actor" : ""));  // user id
    reply.emplace_back();                                   // metadata
    zmq::send_multipart(socket_, reply);
  }
}

}  // namespace robofleet

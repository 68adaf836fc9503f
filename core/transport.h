// ZeroMQ plumbing shared by actors and learners: RAII sockets from cppzmq,
// multipart send/receive with deadlines, and endpoints.
//
// A full queue or an expired deadline is a value (false), not an exception.
// Sockets are not thread-safe: each belongs to one thread.
#ifndef ROBOFLEET_CORE_TRANSPORT_H_
#define ROBOFLEET_CORE_TRANSPORT_H_

#include <string>
#include <vector>
#include <zmq.hpp>

#include "core/wire.h"

namespace robofleet {

// Sends `parts` as one multipart message, waiting at most `timeout_ms` for
// room under the high-water mark (-1 waits forever). Returns false when the
// deadline passed or a signal interrupted the wait; then nothing was sent and
// `parts` is untouched.
bool SendMultipart(zmq::socket_t& socket, std::vector<zmq::message_t>& parts, int timeout_ms);

// Alignment RecvMultipart guarantees for every received frame.
inline constexpr size_t kFrameAlignment = 8;

// Receives one whole multipart message, waiting at most `timeout_ms`
// (0 polls, -1 waits forever). Returns false when nothing arrived in time or
// a signal interrupted the wait. Every frame is kFrameAlignment-aligned.
bool RecvMultipart(zmq::socket_t& socket, std::vector<zmq::message_t>* parts, int timeout_ms);

// Frame views over received parts, for the wire decoders.
std::vector<wire::Frame> FramesOf(const std::vector<zmq::message_t>& parts);

// Endpoints of one learner rank's sockets inside a run.
struct Endpoints {
  std::string trajectories;  // learner binds PULL, actors connect PUSH
  std::string weights;       // learner binds PUB, actors connect SUB
  std::string keys_dir;      // the run's CURVE keys (core/security.h); "" for none
};

// ipc:// endpoints in `socket_dir` (which must be short: ipc paths are
// limited to about 100 bytes).
Endpoints IpcEndpoints(const std::string& socket_dir, int rank);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_TRANSPORT_H_

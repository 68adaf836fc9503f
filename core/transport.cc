#include "core/transport.h"

#include <zmq_addon.hpp>

namespace robofleet {

namespace {

// Waits for `events` on the socket; false on timeout or when a signal
// interrupted the wait (the caller's loop then checks for a stop request).
bool Wait(zmq::socket_t& socket, short events, int timeout_ms) {
  zmq::pollitem_t item{socket.handle(), 0, events, 0};
  try {
    return zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) > 0;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return false;
    throw;
  }
}

}  // namespace

bool SendMultipart(zmq::socket_t& socket, std::vector<zmq::message_t>& parts, int timeout_ms) {
  // wait for room first, so a partly sent message can never happen
  if (!Wait(socket, ZMQ_POLLOUT, timeout_ms)) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    // once the first part is queued, the rest of the message is always accepted
    if (!socket.send(parts[i], flags | zmq::send_flags::dontwait)) {
      if (i == 0) return false;
      socket.send(parts[i], flags);
    }
  }
  return true;
}

bool RecvMultipart(zmq::socket_t& socket, std::vector<zmq::message_t>* parts, int timeout_ms) {
  if (!Wait(socket, ZMQ_POLLIN, timeout_ms)) return false;
  parts->clear();
  // a message arrives whole, so the remaining parts are already here
  if (!zmq::recv_multipart(socket, std::back_inserter(*parts), zmq::recv_flags::dontwait)) {
    return false;
  }
  // ZeroMQ may hand out frames at any offset of its receive buffer; typed
  // arrays need their natural alignment, so the rare misaligned frame is copied
  for (auto& part : *parts) {
    if (reinterpret_cast<uintptr_t>(part.data()) % kFrameAlignment != 0) {
      part = zmq::message_t(part.data(), part.size());
    }
  }
  return true;
}

std::vector<wire::Frame> FramesOf(const std::vector<zmq::message_t>& parts) {
  std::vector<wire::Frame> frames;
  frames.reserve(parts.size());
  for (const auto& p : parts) frames.push_back({p.data(), p.size()});
  return frames;
}

Endpoints IpcEndpoints(const std::string& socket_dir, int rank) {
  std::string base = "ipc://" + socket_dir + "/r" + std::to_string(rank);
  return {base + "-traj", base + "-weights", ""};
}

}  // namespace robofleet

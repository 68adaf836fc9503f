// The only translation unit that sees c10d: Debian's LibTorch declares the
// Gloo process group only when USE_C10D_GLOO is defined (see CMakeLists.txt).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "learner/communicator.h"

namespace robofleet::learner {
namespace {

// The IPv4 address this host sends from when it talks to host:port, as the
// kernel's routes choose it (a UDP socket's connect sends nothing); "" when
// the host does not resolve or no route leads there.
std::string SourceAddressToward(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return "";
  std::string address;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  socklen_t size = sizeof(local);
  char text[INET_ADDRSTRLEN] = {};
  if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) == 0 &&
      inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text)) != nullptr) {
    address = text;
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  return address;
}

// The local end of Gloo's connections: the interface GLOO_SOCKET_IFNAME
// names, as in PyTorch; else the address this host reaches the master from,
// which the other ranks can reach too (loopback when the master is on
// loopback). Not the address the hostname resolves to, as PyTorch's default
// does: on many hosts that is loopback (Debian's 127.0.1.1), where no rank
// on another machine can connect.
std::shared_ptr<::gloo::transport::Device> LocalDevice(const std::string& master_host,
                                                       int master_port) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  const std::string local = SourceAddressToward(master_host, master_port);
  if (!local.empty()) return c10d::ProcessGroupGloo::createDeviceForHostname(local);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

class GlooCommunicator : public Communicator {
 public:
  GlooCommunicator(const std::string& host, int port, int rank, int world_size,
                   std::chrono::milliseconds timeout)
      : rank_(rank),
        world_size_(world_size),
        timeout_(std::chrono::duration_cast<std::chrono::seconds>(timeout)) {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(port);
    store_options.isServer = rank == 0;
    store_options.numWorkers = world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(LocalDevice(host, port));
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }

  void AllReduceSum(torch::Tensor& tensor) override { AllReduceSum(tensor, {}); }

  void AllReduceSum(torch::Tensor& tensor, const std::function<void()>& while_waiting) override {
    // Gloo reduces host memory: a GPU learner's tensors go through it
    torch::Tensor host = tensor.is_cpu() ? tensor : tensor.to(torch::kCPU);
    std::vector<at::Tensor> tensors{host};
    const c10::intrusive_ptr<c10d::Work> work = group_->allreduce(tensors);
    // a failure or the timeout completes the work too; Wait then reports it
    while (while_waiting && !work->isCompleted()) {
      while_waiting();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Wait(work, "allreduce");
    if (!tensor.is_cpu()) tensor.copy_(host);
  }

  void Broadcast(torch::Tensor& tensor, int root) override {
    torch::Tensor host = tensor.is_cpu() ? tensor : tensor.to(torch::kCPU);
    std::vector<at::Tensor> tensors{host};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    Wait(group_->broadcast(tensors, options), "broadcast");
    if (!tensor.is_cpu()) tensor.copy_(host);
  }

 private:
  void Wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      // say in one line what went wrong, without c10's backtrace or Gloo's
      // source location: a peer that closed its connections died; one that
      // sent nothing until the timeout hung, died with its machine, or sits
      // behind a network that failed (no connection closes then)
      std::string message = e.what();
      message = message.substr(0, message.find('\n'));
      if (message.rfind('[', 0) == 0 && message.find("] ") != std::string::npos) {
        message = message.substr(message.find("] ") + 2);
      }
      const std::string failed = std::string("gloo ") + what + " across " +
                                 std::to_string(world_size_) + " learner ranks failed";
      if (message.find("Timed out") != std::string::npos) {
        throw std::runtime_error(failed + ": no answer within learner.collective_timeout_s (" +
                                 std::to_string(timeout_.count()) +
                                 " s); a rank hung or died, or the network between nodes "
                                 "failed (" +
                                 message + ")");
      }
      throw std::runtime_error(failed + " (did a rank die?): " + message);
    }
  }

  int rank_, world_size_;
  std::chrono::seconds timeout_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

std::unique_ptr<Communicator> MakeGlooCommunicator(const std::string& host, int port, int rank,
                                                   int world_size,
                                                   std::chrono::milliseconds timeout) {
  // a rank that died leaves its peers' sockets closed: writing to them must
  // fail the collective with an error, not kill this process with SIGPIPE
  std::signal(SIGPIPE, SIG_IGN);
  return std::make_unique<GlooCommunicator>(host, port, rank, world_size, timeout);
}

}  // namespace robofleet::learner

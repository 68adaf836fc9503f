// The only translation unit that sees c10d: Debian's LibTorch declares the
// Gloo process group only when USE_C10D_GLOO is defined (see CMakeLists.txt).
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "learner/communicator.h"

namespace robofleet::learner {
namespace {

// The local end of Gloo's connections. Ranks meeting on loopback stay on it;
// across machines each binds this host's address (its hostname's), or the
// interface GLOO_SOCKET_IFNAME names, as PyTorch does.
std::shared_ptr<::gloo::transport::Device> LocalDevice(const std::string& master_host) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (master_host == "127.0.0.1" || master_host == "localhost") {
    return c10d::ProcessGroupGloo::createDeviceForHostname(master_host);
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

class GlooCommunicator : public Communicator {
 public:
  GlooCommunicator(const std::string& host, int port, int rank, int world_size,
                   std::chrono::milliseconds timeout)
      : rank_(rank), world_size_(world_size) {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(port);
    store_options.isServer = rank == 0;
    store_options.numWorkers = world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(LocalDevice(host));
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
      // a rank died or hung: say so in one line, without c10's backtrace
      std::string message = e.what();
      throw std::runtime_error(std::string("gloo ") + what + " across " +
                               std::to_string(world_size_) + " learner ranks failed (did a rank " +
                               "die?): " + message.substr(0, message.find('\n')));
    }
  }

  int rank_, world_size_;
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

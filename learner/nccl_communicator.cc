// The nccl backend: learner/nccl's NcclGroup on CUDA tensors, on the current
// CUDA stream of the rank's device. Built only with a CUDA LibTorch and NCCL.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <stdexcept>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "learner/communicator.h"
#include "learner/nccl/nccl_allreduce.h"

namespace robofleet::learner {
namespace {

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(const std::string& host, int port, int rank, int world_size, int device,
                   std::chrono::milliseconds timeout)
      : rank_(rank), world_size_(world_size), device_(torch::kCUDA, device) {
    // rank 0 makes NCCL's unique id and hands it out through the store it hosts
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(port);
    store_options.isServer = rank == 0;
    store_options.numWorkers = world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
    std::string error, id;
    if (rank == 0) {
      if (!nccl::NewUniqueId(&id, &error)) Fail("setup", error);
      store->set("robofleet/nccl_id", std::vector<uint8_t>(id.begin(), id.end()));
    } else {
      const std::vector<uint8_t> bytes = store->get("robofleet/nccl_id");
      id.assign(bytes.begin(), bytes.end());
    }
    group_ = nccl::NcclGroup::Create(id, rank, world_size, device, timeout, &error);
    if (!group_) Fail("setup", error);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }

  void AllReduceSum(torch::Tensor& tensor) override { AllReduceSum(tensor, {}); }

  void AllReduceSum(torch::Tensor& tensor, const std::function<void()>& while_waiting) override {
    torch::Tensor on_device = OnDevice(tensor);
    const c10::cuda::CUDAGuard guard(device_);
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_.index()).stream();
    std::string error;
    if (!group_->AllReduce(on_device.data_ptr(), on_device.numel(), TypeOf(on_device),
                           nccl::ReduceOp::kSum, stream, &error) ||
        !group_->Wait(stream, while_waiting, &error)) {
      Fail("allreduce", error);
    }
    if (!on_device.is_same(tensor)) tensor.copy_(on_device);
  }

  void Broadcast(torch::Tensor& tensor, int root) override {
    torch::Tensor on_device = OnDevice(tensor);
    const c10::cuda::CUDAGuard guard(device_);
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_.index()).stream();
    std::string error;
    if (!group_->Broadcast(on_device.data_ptr(), on_device.numel(), TypeOf(on_device), root, stream,
                           &error) ||
        !group_->Wait(stream, {}, &error)) {
      Fail("broadcast", error);
    }
    if (!on_device.is_same(tensor)) tensor.copy_(on_device);
  }

 private:
  // host tensors (statistics, flags) are staged through the device
  torch::Tensor OnDevice(const torch::Tensor& tensor) const {
    if (!tensor.is_contiguous()) {
      throw std::invalid_argument("nccl collectives need contiguous tensors");
    }
    return tensor.device() == device_ ? tensor : tensor.to(device_);
  }

  static nccl::DataType TypeOf(const torch::Tensor& tensor) {
    if (tensor.scalar_type() == torch::kFloat32) return nccl::DataType::kFloat32;
    if (tensor.scalar_type() == torch::kFloat64) return nccl::DataType::kFloat64;
    throw std::invalid_argument("nccl collectives here take float32 or float64 tensors");
  }

  [[noreturn]] void Fail(const char* what, const std::string& error) const {
    throw std::runtime_error(std::string("nccl ") + what + " across " +
                             std::to_string(world_size_) +
                             " learner ranks failed (did a rank die?): " + error);
  }

  int rank_, world_size_;
  torch::Device device_;
  std::unique_ptr<nccl::NcclGroup> group_;
};

}  // namespace

std::unique_ptr<Communicator> MakeNcclCommunicator(const std::string& host, int port, int rank,
                                                   int world_size, int device,
                                                   std::chrono::milliseconds timeout) {
  return std::make_unique<NcclCommunicator>(host, port, rank, world_size, device, timeout);
}

}  // namespace robofleet::learner

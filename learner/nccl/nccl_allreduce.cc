#include "learner/nccl/nccl_allreduce.h"

#include <nccl.h>

#include <cstring>
#include <thread>

namespace robofleet::learner::nccl {
namespace {

using Clock = std::chrono::steady_clock;

bool CudaFailed(cudaError_t status, const char* call, std::string* error) {
  if (status == cudaSuccess) return false;
  *error = std::string(call) + ": " + cudaGetErrorString(status);
  return true;
}

// ncclInProgress is success for a non-blocking communicator: the caller polls.
bool NcclFailed(ncclResult_t status, const char* call, std::string* error) {
  if (status == ncclSuccess || status == ncclInProgress) return false;
  *error = std::string(call) + ": " + ncclGetErrorString(status);
  return true;
}

ncclDataType_t NcclType(DataType type) {
  return type == DataType::kFloat32 ? ncclFloat32 : ncclFloat64;
}

}  // namespace

struct NcclGroup::State {
  ncclComm_t comm = nullptr;
  cudaEvent_t done = nullptr;
  bool failed = false;
};

int CudaDeviceCount(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    // the runtime's answer on a machine without a driver or device
    if (why) *why = std::string("no CUDA device: ") + cudaGetErrorString(status);
    cudaGetLastError();  // clear it
    return 0;
  }
  return count;
}

std::string NcclVersion() {
  int code = 0;
  ncclGetVersion(&code);
  // 2.9 and later: major * 10000 + minor * 100 + patch; before: * 1000 + * 100
  const int major = code >= 10000 ? code / 10000 : code / 1000;
  const int rest = code >= 10000 ? code % 10000 : code % 1000;
  return std::to_string(major) + "." + std::to_string(rest / 100) + "." +
         std::to_string(rest % 100);
}

bool NewUniqueId(std::string* id, std::string* error) {
  static_assert(sizeof(ncclUniqueId) == kUniqueIdBytes, "ncclUniqueId changed size");
  ncclUniqueId unique;
  if (NcclFailed(ncclGetUniqueId(&unique), "ncclGetUniqueId", error)) return false;
  id->assign(reinterpret_cast<const char*>(&unique), sizeof(unique));
  return true;
}

NcclGroup::NcclGroup(int rank, int world_size, int device, std::chrono::milliseconds timeout)
    : rank_(rank),
      world_size_(world_size),
      device_(device),
      timeout_(timeout),
      state_(std::make_unique<State>()) {}

std::unique_ptr<NcclGroup> NcclGroup::Create(const std::string& unique_id, int rank, int world_size,
                                             int device, std::chrono::milliseconds timeout,
                                             std::string* error) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    *error = "rank " + std::to_string(rank) + " is not in [0, " + std::to_string(world_size) + ")";
    return nullptr;
  }
  if (unique_id.size() != kUniqueIdBytes) {
    *error = "the NCCL unique id has " + std::to_string(unique_id.size()) + " bytes, not " +
             std::to_string(kUniqueIdBytes);
    return nullptr;
  }
  std::string why;
  const int devices = CudaDeviceCount(&why);
  if (devices == 0) {
    *error = why;
    return nullptr;
  }
  if (device < 0 || device >= devices) {
    *error = "CUDA device " + std::to_string(device) + " does not exist (this process sees " +
             std::to_string(devices) + ")";
    return nullptr;
  }
  std::unique_ptr<NcclGroup> group(new NcclGroup(rank, world_size, device, timeout));
  if (CudaFailed(cudaSetDevice(device), "cudaSetDevice", error)) return nullptr;
  if (CudaFailed(cudaEventCreateWithFlags(&group->state_->done, cudaEventDisableTiming),
                 "cudaEventCreate", error)) {
    return nullptr;
  }
  ncclUniqueId id;
  std::memcpy(&id, unique_id.data(), sizeof(id));
  // non-blocking, so that joining can time out instead of waiting forever
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  if (NcclFailed(ncclCommInitRankConfig(&group->state_->comm, world_size, id, rank, &config),
                 "ncclCommInitRankConfig", error)) {
    group->state_->comm = nullptr;
    return nullptr;
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    ncclResult_t status = ncclSuccess;
    ncclCommGetAsyncError(group->state_->comm, &status);
    if (status == ncclSuccess) break;
    if (status != ncclInProgress) {
      *error = std::string("ncclCommInitRank: ") + ncclGetErrorString(status);
      group->state_->failed = true;
      return nullptr;
    }
    if (Clock::now() > deadline) {
      *error = "ncclCommInitRank: the other ranks did not join within " +
               std::to_string(timeout.count() / 1000) + " s";
      group->state_->failed = true;
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return group;
}

NcclGroup::~NcclGroup() {
  if (state_->comm != nullptr) {
    // a failed group may have work that will never finish: abort, never wait
    if (state_->failed)
      ncclCommAbort(state_->comm);
    else
      ncclCommDestroy(state_->comm);
  }
  if (state_->done != nullptr) cudaEventDestroy(state_->done);
}

bool NcclGroup::Ready(std::string* error) {
  if (state_->failed) {
    *error = "the NCCL communicator was aborted after an earlier failure";
    return false;
  }
  return !CudaFailed(cudaSetDevice(device_), "cudaSetDevice", error);
}

bool NcclGroup::AllReduce(void* data, size_t count, DataType type, ReduceOp op, cudaStream_t stream,
                          std::string* error) {
  if (!Ready(error)) return false;
  ncclRedOp_t nccl_op = ncclSum;
  if (op == ReduceOp::kAvg) {
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
    nccl_op = ncclAvg;
#else
    *error = "ncclAvg needs NCCL 2.10 or later; this is " + NcclVersion();
    return false;
#endif
  }
  return !NcclFailed(
      ncclAllReduce(data, data, count, NcclType(type), nccl_op, state_->comm, stream),
      "ncclAllReduce", error);
}

bool NcclGroup::Broadcast(void* data, size_t count, DataType type, int root, cudaStream_t stream,
                          std::string* error) {
  if (!Ready(error)) return false;
  return !NcclFailed(ncclBroadcast(data, data, count, NcclType(type), root, state_->comm, stream),
                     "ncclBroadcast", error);
}

bool NcclGroup::Wait(cudaStream_t stream, const std::function<void()>& while_waiting,
                     std::string* error) {
  if (!Ready(error)) return false;
  const Clock::time_point deadline = Clock::now() + timeout_;
  // a non-blocking communicator may still be enqueueing the work
  while (true) {
    ncclResult_t status = ncclSuccess;
    ncclCommGetAsyncError(state_->comm, &status);
    if (status == ncclSuccess) break;
    if (status != ncclInProgress) {
      *error = std::string("NCCL: ") + ncclGetErrorString(status);
      state_->failed = true;
      return false;
    }
    if (Clock::now() > deadline) {
      *error = "NCCL could not enqueue the work within " + std::to_string(timeout_.count() / 1000) +
               " s";
      state_->failed = true;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  if (CudaFailed(cudaEventRecord(state_->done, stream), "cudaEventRecord", error)) return false;
  while (true) {
    const cudaError_t done = cudaEventQuery(state_->done);
    if (done == cudaSuccess) return true;
    if (done != cudaErrorNotReady) {
      CudaFailed(done, "cudaEventQuery", error);
      state_->failed = true;
      return false;
    }
    // a peer that died shows up as an asynchronous error, or as silence
    ncclResult_t status = ncclSuccess;
    ncclCommGetAsyncError(state_->comm, &status);
    if (status != ncclSuccess && status != ncclInProgress) {
      *error = std::string("NCCL: ") + ncclGetErrorString(status);
      state_->failed = true;
      return false;
    }
    if (Clock::now() > deadline) {
      *error = "no answer from every rank within " + std::to_string(timeout_.count() / 1000) + " s";
      state_->failed = true;
      return false;
    }
    if (while_waiting) while_waiting();
    std::this_thread::sleep_for(std::chrono::microseconds(while_waiting ? 5000 : 20));
  }
}

}  // namespace robofleet::learner::nccl

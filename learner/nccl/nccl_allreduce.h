// NCCL between learner ranks, on device memory, with nothing but the CUDA
// runtime and NCCL: no Torch here, so this library builds and links wherever
// the CUDA toolkit and NCCL are installed, beside any LibTorch.
//
// One NcclGroup per rank and device. The caller owns the device memory and the
// stream; collectives are enqueued on that stream and Wait() blocks the host
// until they finish, polling so that a rank that died or hung fails the others
// after a timeout (the communicator is then aborted) instead of hanging them.
//
// Errors are return values: every call that can fail returns false (or null)
// and sets *error to one line naming the CUDA or NCCL call and its reason.
// Not thread-safe: one thread drives a group.
#ifndef ROBOFLEET_LEARNER_NCCL_NCCL_ALLREDUCE_H_
#define ROBOFLEET_LEARNER_NCCL_NCCL_ALLREDUCE_H_

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace robofleet::learner::nccl {

// The CUDA devices this process can use; 0 with *why set ("no CUDA device:
// ...", the CUDA runtime's reason) when there are none.
int CudaDeviceCount(std::string* why);

// The linked NCCL library's version, "major.minor.patch".
std::string NcclVersion();

// Bytes of an ncclUniqueId: what rank 0 makes and every rank needs.
constexpr size_t kUniqueIdBytes = 128;

// Makes a unique id at rank 0, to hand to every rank (the learner sends it
// through the rendezvous store). Returns false with *error when NCCL cannot.
bool NewUniqueId(std::string* id, std::string* error);

enum class DataType { kFloat32, kFloat64 };
enum class ReduceOp { kSum, kAvg };  // kAvg needs NCCL >= 2.10

class NcclGroup {
 public:
  // Joins the `world_size` ranks that hold `unique_id` as rank `rank` on CUDA
  // device `device`. Waits at most `timeout` for the others. Returns null with
  // *error set when there is no such device, the id is malformed, NCCL
  // refuses (two ranks on one device, say), or the others do not come.
  static std::unique_ptr<NcclGroup> Create(const std::string& unique_id, int rank, int world_size,
                                           int device, std::chrono::milliseconds timeout,
                                           std::string* error);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int device() const { return device_; }

  // Enqueues, on `stream`, the elementwise reduction over ranks of `count`
  // elements at device pointer `data`, in place. Returns when enqueued.
  bool AllReduce(void* data, size_t count, DataType type, ReduceOp op, cudaStream_t stream,
                 std::string* error);
  // Enqueues rank `root`'s `count` elements at `data` into every rank's.
  bool Broadcast(void* data, size_t count, DataType type, int root, cudaStream_t stream,
                 std::string* error);
  // Blocks until everything enqueued on `stream` so far has finished, calling
  // `while_waiting` (if any) every few milliseconds. Fails, and aborts the
  // group (every later call fails too), when NCCL reports an error or the
  // work takes longer than the group's timeout.
  bool Wait(cudaStream_t stream, const std::function<void()>& while_waiting, std::string* error);

 private:
  struct State;
  NcclGroup(int rank, int world_size, int device, std::chrono::milliseconds timeout);
  bool Ready(std::string* error);

  int rank_, world_size_, device_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<State> state_;
};

}  // namespace robofleet::learner::nccl

#endif  // ROBOFLEET_LEARNER_NCCL_NCCL_ALLREDUCE_H_

#include "learner/communicator.h"

#include "learner/device.h"

namespace robofleet::learner {

namespace {

// Whether `grad` is the slice `slot` of the flat gradient buffer itself.
bool IsSlot(const torch::Tensor& grad, const torch::Tensor& slot) {
  return grad.defined() && grad.is_contiguous() && grad.data_ptr() == slot.data_ptr() &&
         grad.device() == slot.device();
}

}  // namespace

algorithms::GradientHook AverageGradients(Communicator& comm, ActorCritic& policy) {
  return AverageGradients(comm, policy->parameters());
}

algorithms::GradientHook AverageGradients(Communicator& comm, std::vector<torch::Tensor> params) {
  // the gradients, then the KL and a non-finite count, in one buffer on the
  // parameters' device; shared by every call of the hook
  struct Flat {
    std::vector<torch::Tensor> params;
    std::vector<torch::Tensor> slots;  // params[i]'s slice of buffer
    torch::Tensor buffer;
    int64_t n = 0;
  };
  auto flat = std::make_shared<Flat>();
  flat->params = std::move(params);
  for (const torch::Tensor& p : flat->params) flat->n += p.numel();
  flat->buffer = torch::zeros(
      {flat->n + 2},
      torch::TensorOptions().dtype(torch::kFloat32).device(flat->params.front().device()));
  int64_t offset = 0;
  for (const torch::Tensor& p : flat->params) {
    flat->slots.push_back(flat->buffer.narrow(0, offset, p.numel()).view_as(p));
    offset += p.numel();
  }
  return [&comm, flat](const algorithms::StepAgreement& local) {
    torch::NoGradGuard no_grad;
    const int64_t n = flat->n;
    for (size_t i = 0; i < flat->params.size(); ++i) {
      torch::Tensor& p = flat->params[i];
      const torch::Tensor& slot = flat->slots[i];
      // a rank that skipped backward (non-finite loss) contributes zeros
      if (!local.finite || !p.grad().defined()) {
        slot.zero_();
      } else if (!IsSlot(p.grad(), slot)) {
        slot.copy_(p.grad());
      }
      // from now on backward accumulates into the buffer (FlatAdam zeroes it in place)
      if (!IsSlot(p.grad(), slot)) p.mutable_grad() = slot;
    }
    torch::Tensor tail = flat->buffer.narrow(0, n, 2);
    tail.copy_(torch::tensor({static_cast<float>(local.approx_kl), local.finite ? 0.0f : 1.0f}));
    comm.AllReduceSum(flat->buffer);
    flat->buffer.div_(comm.world_size());
    // the agreement comes back to the host: the step waits for the average anyway
    const torch::Tensor agreed_tail = tail.to(torch::kCPU);
    algorithms::StepAgreement agreed;
    agreed.approx_kl = agreed_tail[0].item<double>();
    agreed.finite = agreed_tail[1].item<double>() == 0.0;
    return agreed;
  };
}

void MergeObservations(Communicator& comm, const float* rows, int64_t n,
                       RunningNormalizer& normalizer) {
  const int D = normalizer.dim();
  std::vector<double> mean, m2;
  RunningNormalizer::Moments(rows, n, D, &mean, &m2);
  // count, sums and sums of squares add up across ranks
  torch::Tensor sums = torch::empty({1 + 2 * D}, torch::kFloat64);
  auto s = sums.accessor<double, 1>();
  s[0] = static_cast<double>(n);
  for (int j = 0; j < D; ++j) {
    s[1 + j] = n * mean[j];
    s[1 + D + j] = m2[j] + n * mean[j] * mean[j];
  }
  comm.AllReduceSum(sums);
  const double total = s[0];
  if (total <= 0) return;
  for (int j = 0; j < D; ++j) {
    mean[j] = s[1 + j] / total;
    m2[j] = std::max(0.0, s[1 + D + j] - total * mean[j] * mean[j]);
  }
  normalizer.Merge(total, mean, m2);
}

bool AnyRank(Communicator& comm, bool flag, const std::function<void()>& while_waiting) {
  torch::Tensor t = torch::tensor({flag ? 1.0f : 0.0f});
  if (while_waiting)
    comm.AllReduceSum(t, while_waiting);
  else
    comm.AllReduceSum(t);
  return t.item<float>() > 0.0f;
}

void BroadcastParameters(Communicator& comm, ActorCritic& policy) {
  torch::Tensor flat = FlattenParameters(*policy).contiguous();
  comm.Broadcast(flat, 0);
  flat = flat.to(torch::kCPU);
  LoadFlatParameters(*policy, flat.data_ptr<float>(), flat.numel());
}

void MergeValueStatistics(Communicator& comm, ActorCritic& policy) {
  policy->set_value_moments_reducer([&comm](double* moments) {
    torch::Tensor t = torch::from_blob(moments, {3}, torch::kFloat64);
    comm.AllReduceSum(t);
  });
}

std::unique_ptr<Communicator> MakeCommunicator(const LearnerConfig& config, const std::string& host,
                                               int port, int rank, int world_size,
                                               torch::Device device,
                                               std::chrono::milliseconds timeout) {
  const std::string backend = ResolvedBackend(config);
  if (backend == "nccl") {
#ifdef ROBOFLEET_WITH_NCCL_BACKEND
    return MakeNcclCommunicator(host, port, rank, world_size, device.index(), timeout);
#else
    (void)device;  // only the nccl backend runs on a device
    throw UserError(
        "learner.backend: nccl, but this build has no NCCL backend; set "
        "learner.backend: gloo");
#endif
  }
  return MakeGlooCommunicator(host, port, rank, world_size, timeout);
}

}  // namespace robofleet::learner

#include "learner/communicator.h"

namespace robofleet::learner {

namespace {

algorithms::StepAgreement AverageGradientsOf(Communicator& comm,
                                             std::vector<torch::Tensor>& params,
                                             const algorithms::StepAgreement& local) {
  int64_t n = 0;
  for (const torch::Tensor& p : params) n += p.numel();
  // the gradients, then the KL and a non-finite count, in one buffer
  torch::Tensor flat = torch::empty({n + 2});
  int64_t offset = 0;
  for (const torch::Tensor& p : params) {
    torch::Tensor slot = flat.slice(0, offset, offset + p.numel());
    // a rank that skipped backward (non-finite loss) contributes zeros
    if (p.grad().defined() && local.finite) slot.copy_(p.grad().reshape(-1));
    else slot.zero_();
    offset += p.numel();
  }
  flat[n] = local.approx_kl;
  flat[n + 1] = local.finite ? 0.0 : 1.0;
  comm.AllReduceSum(flat);
  flat.div_(comm.world_size());
  offset = 0;
  for (torch::Tensor& p : params) {
    torch::Tensor averaged = flat.slice(0, offset, offset + p.numel()).view_as(p);
    if (p.grad().defined()) p.mutable_grad().copy_(averaged);
    else p.mutable_grad() = averaged.clone();
    offset += p.numel();
  }
  algorithms::StepAgreement agreed;
  agreed.approx_kl = flat[n].item<double>();
  agreed.finite = flat[n + 1].item<double>() == 0.0;
  return agreed;
}

}  // namespace

algorithms::GradientHook AverageGradients(Communicator& comm, ActorCritic& policy) {
  return [&comm, policy](const algorithms::StepAgreement& local) {
    std::vector<torch::Tensor> params = policy->parameters();
    return AverageGradientsOf(comm, params, local);
  };
}

algorithms::GradientHook AverageGradients(Communicator& comm, std::vector<torch::Tensor> params) {
  return [&comm, params](const algorithms::StepAgreement& local) mutable {
    return AverageGradientsOf(comm, params, local);
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
  if (while_waiting) comm.AllReduceSum(t, while_waiting);
  else comm.AllReduceSum(t);
  return t.item<float>() > 0.0f;
}

void BroadcastParameters(Communicator& comm, ActorCritic& policy) {
  torch::Tensor flat = FlattenParameters(*policy).contiguous();
  comm.Broadcast(flat, 0);
  LoadFlatParameters(*policy, flat.data_ptr<float>(), flat.numel());
}

}  // namespace robofleet::learner

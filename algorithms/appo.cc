#include "algorithms/appo.h"

namespace robofleet::algorithms {

Vtrace ComputeVtrace(const torch::Tensor& log_ratios, const torch::Tensor& rewards,
                     const torch::Tensor& values, const torch::Tensor& next_values,
                     const torch::Tensor& dones, double gamma, double lambda, double rho_clip,
                     double c_clip) {
  // backwards over time in plain loops, as ComputeGae
  const int64_t T = rewards.size(0), B = rewards.size(1);
  Vtrace out;
  out.vs = torch::empty({T, B}, torch::kFloat32);
  out.pg_advantages = torch::empty({T, B}, torch::kFloat32);
  auto lr = log_ratios.accessor<float, 2>();
  auto r = rewards.accessor<float, 2>();
  auto v = values.accessor<float, 2>();
  auto nv = next_values.accessor<float, 2>();
  auto d = dones.accessor<float, 2>();
  auto vs = out.vs.accessor<float, 2>();
  auto pg = out.pg_advantages.accessor<float, 2>();
  const double g = gamma;
  for (int64_t b = 0; b < B; ++b) {
    double next_correction = 0.0;  // vs_{t+1} - values_{t+1}
    for (int64_t t = T - 1; t >= 0; --t) {
      const double ratio = std::exp(static_cast<double>(lr[t][b]));
      const double rho = std::min(rho_clip, ratio);
      const double c = lambda * std::min(c_clip, ratio);
      const double not_done = 1.0 - d[t][b];
      const double delta = rho * (r[t][b] + g * nv[t][b] - v[t][b]);
      // where step t ended its episode or the batch, the next state's target is
      // next_values itself
      const double next_vs = (not_done > 0 && t + 1 < T) ? v[t + 1][b] + next_correction : nv[t][b];
      const double correction = delta + g * c * not_done * next_correction;
      vs[t][b] = static_cast<float>(v[t][b] + correction);
      pg[t][b] = static_cast<float>(rho * (r[t][b] + g * next_vs - v[t][b]));
      next_correction = correction;
    }
  }
  return out;
}

void ValidateAppoConfig(const ExperimentConfig& config) {
  const int lag = config.algorithm.max_policy_lag;
  if (lag < 2) {
    RejectConfigKey("algorithm.max_policy_lag",
                    "is " + std::to_string(lag) +
                        "; appo exists to learn from older fragments: set it to 2 or more (16 "
                        "is usual)");
  }
}

Targets Appo::ComputeTargets(const Trajectory& trajectory) {
  const int64_t T = trajectory.rewards.size(0), B = trajectory.rewards.size(1);
  torch::Tensor log_ratios, log_probs;
  {
    torch::NoGradGuard no_grad;
    ActionDistribution dist =
        policy()->Distribution(trajectory.obs.reshape({T * B, trajectory.obs.size(2)}));
    log_probs = policy()
                    ->LogProb(dist, trajectory.actions.reshape({T * B, trajectory.actions.size(2)}))
                    .reshape({T, B});
    log_ratios = (log_probs - trajectory.log_probs).contiguous();
  }
  // V-trace is a loop over time on the host
  const auto host = [](const torch::Tensor& t) { return t.to(torch::kCPU); };
  Vtrace vtrace =
      ComputeVtrace(host(log_ratios), host(trajectory.rewards), host(trajectory.values),
                    host(trajectory.next_values), host(trajectory.dones), config().gamma,
                    config().gae_lambda, config().vtrace_rho_clip, config().vtrace_c_clip);
  const torch::Device device = trajectory.values.device();
  // log_probs: the reference of the update's KL
  return {vtrace.pg_advantages.to(device), vtrace.vs.to(device), log_probs};
}

}  // namespace robofleet::algorithms

// FlatAdam against LibTorch's own Adam: the same parameters, the same
// gradients, step for step.
#include "algorithms/flat_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

namespace robofleet::algorithms {
namespace {

// Parameters of a few shapes, as a small network has them.
std::vector<torch::Tensor> MakeParameters(uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> params;
  for (auto shape : std::vector<std::vector<int64_t>>{{8, 5}, {8}, {3, 8}, {3}, {1}}) {
    params.push_back(torch::randn(shape).requires_grad_(true));
  }
  return params;
}

std::vector<torch::Tensor> Clones(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> clones;
  for (const auto& p : params) clones.push_back(p.detach().clone().requires_grad_(true));
  return clones;
}

// Gives each parameter of both sets the same gradient.
void SetGradients(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                  int step) {
  torch::manual_seed(1000 + step);
  for (size_t i = 0; i < a.size(); ++i) {
    // some steps leave a parameter without a gradient, as a frozen head would
    const torch::Tensor g =
        (step % 5 == 3 && i == 1) ? torch::zeros_like(a[i]) : torch::randn_like(a[i]) * (1 + step);
    a[i].mutable_grad() = g.clone();
    b[i].mutable_grad() = g.clone();
  }
}

void ExpectSameParameters(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                          int step) {
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = (a[i] - b[i]).abs().max().item<double>();
    EXPECT_LT(diff, 1e-6) << "parameter " << i << " after step " << step;
  }
}

TEST(FlatAdamTest, MatchesTorchAdamStepForStep) {
  const std::vector<torch::Tensor> reference = MakeParameters(7);
  const std::vector<torch::Tensor> flat = Clones(reference);
  const auto options = torch::optim::AdamOptions(3e-3).betas({0.9, 0.999}).eps(1e-8);
  torch::optim::Adam adam(reference, options);
  FlatAdam flat_adam(flat, options);

  for (int step = 1; step <= 30; ++step) {
    SetGradients(reference, flat, step);
    adam.step();
    flat_adam.Step(flat_adam.FlatGradient());
    ExpectSameParameters(reference, flat, step);
  }
  // the parameters moved: a no-op optimiser would also have matched at step 0
  const std::vector<torch::Tensor> start = MakeParameters(7);
  EXPECT_GT((flat[0] - start[0]).abs().max().item<double>(), 1e-2);
}

TEST(FlatAdamTest, FollowsLearningRateChangesAndSharesTorchAdamState) {
  const std::vector<torch::Tensor> reference = MakeParameters(11);
  const std::vector<torch::Tensor> flat = Clones(reference);
  const auto options = torch::optim::AdamOptions(1e-2);
  torch::optim::Adam adam(reference, options);
  FlatAdam flat_adam(flat, options);

  for (int step = 1; step <= 20; ++step) {
    if (step == 10) {
      // a schedule sets the step size through the parameter group, as on Adam
      for (auto* optimizer : std::vector<torch::optim::Optimizer*>{&adam, &flat_adam}) {
        optimizer->param_groups()[0].options().set_lr(1e-4);
      }
    }
    SetGradients(reference, flat, step);
    adam.step();
    flat_adam.Step(flat_adam.FlatGradient());
    ExpectSameParameters(reference, flat, step);
  }
  // the moments live in Adam's own state, where checkpoints read them
  const auto& states = flat_adam.state();
  ASSERT_EQ(states.size(), flat.size());
  for (const auto& entry : states) {
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*entry.second);
    EXPECT_EQ(s.step(), 20);
    EXPECT_GT(s.exp_avg_sq().abs().sum().item<double>(), 0.0);
  }
}

TEST(FlatAdamTest, ZeroGradKeepsGradientsAsTheSameTensors) {
  const std::vector<torch::Tensor> params = MakeParameters(3);
  FlatAdam flat_adam(params, torch::optim::AdamOptions(1e-3));
  SetGradients(params, Clones(params), 1);
  const void* before = params[0].grad().data_ptr();
  flat_adam.zero_grad();
  EXPECT_EQ(params[0].grad().data_ptr(), before);
  EXPECT_EQ(flat_adam.FlatGradient().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace robofleet::algorithms

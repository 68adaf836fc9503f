// Adam over one flat buffer. The parameters become views into a single
// tensor, and so do Adam's moment estimates, so one step is a handful of
// tensor ops on that buffer instead of about seven per parameter; for small
// networks trained on small minibatches the per-op overhead, not the
// arithmetic, is what an update costs.
//
// State and options stay torch::optim::Adam's own (AdamParamState per
// parameter, AdamOptions per group): checkpoints, learning-rate schedules
// and Adam::load work unchanged. Anything that rebinds a parameter or a
// moment to other storage (loading a checkpoint does) is noticed at the next
// step, which copies them back into the flat buffers. One parameter group,
// no weight decay, no AMSGrad.
#ifndef ROBOFLEET_ALGORITHMS_FLAT_ADAM_H_
#define ROBOFLEET_ALGORITHMS_FLAT_ADAM_H_

#include <torch/torch.h>

#include <vector>

namespace robofleet::algorithms {

class FlatAdam : public torch::optim::Adam {
 public:
  FlatAdam(const std::vector<torch::Tensor>& params, torch::optim::AdamOptions options);

  // Every parameter's gradient, concatenated in parameter order (zeros for a
  // parameter without one).
  torch::Tensor FlatGradient();

  // Zeroes every gradient in place. Unlike Optimizer::zero_grad (which
  // detaches them, or drops them in LibTorch 2.x), gradients that are views
  // into a flat buffer (learner/communicator.h) stay views.
  void zero_grad();

  // One Adam step with a flat gradient as FlatGradient returns (clipped,
  // averaged or otherwise changed by the caller).
  void Step(const torch::Tensor& flat_grad);

 private:
  // Makes parameters and moments views into the flat buffers again where
  // something rebound them.
  void Bind();

  std::vector<torch::Tensor> params_;
  std::vector<int64_t> offsets_;
  int64_t size_ = 0;
  torch::Tensor flat_param_, exp_avg_, exp_avg_sq_;
};

}  // namespace robofleet::algorithms

#endif  // ROBOFLEET_ALGORITHMS_FLAT_ADAM_H_

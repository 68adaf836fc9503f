#include "algorithms/flat_adam.h"

#include <cmath>
#include <sstream>
#include <type_traits>

#include "core/check.h"

namespace robofleet::algorithms {
namespace {

// Whether `t` is the slice [offset, offset + numel) of `flat`.
bool IsSliceOf(const torch::Tensor& t, const torch::Tensor& flat, int64_t offset) {
  return t.defined() && t.is_contiguous() && t.data_ptr<float>() == flat.data_ptr<float>() + offset;
}

// The key of `p`'s state in `states`: LibTorch 1.x keys optimizer state by
// the parameter's TensorImpl address printed to a string, 2.x by the address.
template <class Map>
typename Map::key_type StateKey([[maybe_unused]] const Map& states, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what c10::guts::to_string wrote
    key << p.unsafeGetTensorImpl();
    return key.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

}  // namespace

FlatAdam::FlatAdam(const std::vector<torch::Tensor>& params, torch::optim::AdamOptions options)
    : torch::optim::Adam(params, options), params_(params) {
  ROBOFLEET_CHECK(options.weight_decay() == 0.0 && !options.amsgrad());
  for (const torch::Tensor& p : params_) {
    ROBOFLEET_CHECK(p.scalar_type() == torch::kFloat32 && p.device() == params_[0].device());
    offsets_.push_back(size_);
    size_ += p.numel();
  }
  // on the parameters' device
  const torch::TensorOptions options_f32 =
      torch::TensorOptions().dtype(torch::kFloat32).device(params_[0].device());
  flat_param_ = torch::empty({size_}, options_f32);
  exp_avg_ = torch::zeros({size_}, options_f32);
  exp_avg_sq_ = torch::zeros({size_}, options_f32);
  Bind();
}

void FlatAdam::Bind() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    const int64_t offset = offsets_[i], n = p.numel();
    if (!IsSliceOf(p, flat_param_, offset)) {
      torch::Tensor slot = flat_param_.narrow(0, offset, n).view_as(p);
      slot.copy_(p);
      p.set_data(slot);
    }
    // Adam's own state for this parameter, its moments living in the flat buffers
    auto& states = state();
    const auto key = StateKey(states, p);
    auto found = states.find(key);
    if (found == states.end()) {
      auto fresh = std::make_unique<torch::optim::AdamParamState>();
      fresh->step(0);
      fresh->exp_avg(exp_avg_.narrow(0, offset, n).view_as(p));
      fresh->exp_avg_sq(exp_avg_sq_.narrow(0, offset, n).view_as(p));
      states[key] = std::move(fresh);
      continue;
    }
    auto& s = static_cast<torch::optim::AdamParamState&>(*found->second);
    if (!IsSliceOf(s.exp_avg(), exp_avg_, offset)) {
      torch::Tensor slot = exp_avg_.narrow(0, offset, n).view_as(p);
      slot.copy_(s.exp_avg());
      s.exp_avg(slot);
    }
    if (!IsSliceOf(s.exp_avg_sq(), exp_avg_sq_, offset)) {
      torch::Tensor slot = exp_avg_sq_.narrow(0, offset, n).view_as(p);
      slot.copy_(s.exp_avg_sq());
      s.exp_avg_sq(slot);
    }
  }
}

torch::Tensor FlatAdam::FlatGradient() {
  std::vector<torch::Tensor> grads;
  grads.reserve(params_.size());
  for (const torch::Tensor& p : params_) {
    grads.push_back(p.grad().defined() ? p.grad().reshape(-1)
                                       : torch::zeros({p.numel()}, p.options()));
  }
  return torch::cat(grads);
}

void FlatAdam::zero_grad() {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : params_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

void FlatAdam::Step(const torch::Tensor& g) {
  torch::NoGradGuard no_grad;
  Bind();
  auto& options = static_cast<torch::optim::AdamOptions&>(param_groups()[0].options());
  // the parameters step together, so they share one step count
  int64_t step = 0;
  for (const torch::Tensor& p : params_) {
    auto& s = static_cast<torch::optim::AdamParamState&>(*state()[StateKey(state(), p)]);
    s.step(s.step() + 1);
    step = s.step();
  }
  const double beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  // Adam's arithmetic, in Adam's order, on all parameters at once
  exp_avg_.mul_(beta1).add_(g, 1.0 - beta1);
  exp_avg_sq_.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
  const torch::Tensor denom =
      (exp_avg_sq_.sqrt() / std::sqrt(bias_correction2)).add_(options.eps());
  flat_param_.addcdiv_(exp_avg_, denom, -options.lr() / bias_correction1);
}

}  // namespace robofleet::algorithms

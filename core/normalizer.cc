#include "core/normalizer.h"

#include <algorithm>
#include <cmath>

namespace robofleet {

RunningNormalizer::RunningNormalizer(int dim, double clip, bool enabled)
    : dim_(dim), clip_(clip), enabled_(enabled), mean_(dim, 0.0), var_(dim, 1.0) {
  Refresh();
}

void RunningNormalizer::Moments(const float* rows, int64_t n, int dim, std::vector<double>* mean,
                                std::vector<double>* m2) {
  mean->assign(dim, 0.0);
  m2->assign(dim, 0.0);
  if (n <= 0) return;
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < dim; ++j) (*mean)[j] += rows[i * dim + j];
  }
  for (int j = 0; j < dim; ++j) (*mean)[j] /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < dim; ++j) {
      double d = rows[i * dim + j] - (*mean)[j];
      (*m2)[j] += d * d;
    }
  }
}

void RunningNormalizer::Update(const float* rows, int64_t n) {
  if (n <= 0) return;
  std::vector<double> batch_mean, batch_m2;
  Moments(rows, n, dim_, &batch_mean, &batch_m2);
  Merge(static_cast<double>(n), batch_mean, batch_m2);
}

void RunningNormalizer::Merge(double n, const std::vector<double>& batch_mean,
                              const std::vector<double>& batch_m2) {
  if (n <= 0) return;
  // the parallel merge of two sets of statistics
  const double total = count_ + n;
  for (int j = 0; j < dim_; ++j) {
    double delta = batch_mean[j] - mean_[j];
    double m2 = var_[j] * count_ + batch_m2[j] + delta * delta * count_ * n / total;
    mean_[j] += delta * n / total;
    var_[j] = m2 / total;
  }
  count_ = total;
  Refresh();
}

void RunningNormalizer::Normalize(const float* in, float* out, int64_t n) const {
  if (!enabled_) {
    if (in != out) std::copy(in, in + n * dim_, out);
    return;
  }
  const float c = static_cast<float>(clip_);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < dim_; ++j) {
      float v = (in[i * dim_ + j] - mean_f_[j]) * inv_std_[j];
      out[i * dim_ + j] = std::clamp(v, -c, c);
    }
  }
}

void RunningNormalizer::Set(const float* mean, const float* var, double count) {
  for (int j = 0; j < dim_; ++j) {
    mean_[j] = mean[j];
    var_[j] = var[j];
  }
  count_ = count;
  Refresh();
}

void RunningNormalizer::Set(const std::vector<double>& mean, const std::vector<double>& var,
                            double count) {
  mean_ = mean;
  var_ = var;
  count_ = count;
  Refresh();
}

void RunningNormalizer::Refresh() {
  inv_std_.resize(dim_);
  mean_f_.resize(dim_);
  for (int j = 0; j < dim_; ++j) {
    inv_std_[j] = static_cast<float>(1.0 / std::sqrt(var_[j] + kEpsilon));
    mean_f_[j] = static_cast<float>(mean_[j]);
  }
}

}  // namespace robofleet

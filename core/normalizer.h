// Running observation normalisation: mean and variance over every
// observation seen, merged batch by batch (Chan et al.'s parallel update), so
// the statistics are exact whatever the batch sizes.
//
// The learner owns the statistics and updates them after each PPO update;
// actors receive mean and variance with the weights and only Normalize().
// Thread-compatible: one thread at a time.
#ifndef ROBOFLEET_CORE_NORMALIZER_H_
#define ROBOFLEET_CORE_NORMALIZER_H_

#include <cstdint>
#include <vector>

namespace robofleet {

class RunningNormalizer {
 public:
  // `clip` bounds normalised values to [-clip, clip]; `enabled` false makes
  // Normalize the identity.
  RunningNormalizer(int dim, double clip, bool enabled);

  int dim() const { return dim_; }
  bool enabled() const { return enabled_; }
  double clip() const { return clip_; }
  double count() const { return count_; }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& var() const { return var_; }

  // Folds n rows of `dim` floats into the statistics.
  void Update(const float* rows, int64_t n);

  // The same fold for a batch given by its size, mean and sum of squared
  // deviations from that mean (learner ranks merge theirs into one batch).
  void Merge(double n, const std::vector<double>& mean, const std::vector<double>& m2);

  // Mean and sum of squared deviations of n rows of `dim` floats.
  static void Moments(const float* rows, int64_t n, int dim, std::vector<double>* mean,
                      std::vector<double>* m2);

  // out = clip((in - mean) / sqrt(var + eps)) for n rows; in may equal out.
  void Normalize(const float* in, float* out, int64_t n) const;

  // Replaces the statistics (weights received by an actor, a checkpoint).
  void Set(const float* mean, const float* var, double count);
  void Set(const std::vector<double>& mean, const std::vector<double>& var, double count);

  // The float32 mean and reciprocal std that Normalize applies; the learner
  // and the exported policy apply exactly these so all three agree bit for bit.
  const std::vector<float>& mean_f32() const { return mean_f_; }
  const std::vector<float>& inv_std_f32() const { return inv_std_; }

  static constexpr double kEpsilon = 1e-8;

 private:
  int dim_;
  double clip_;
  bool enabled_;
  double count_ = 0.0;
  std::vector<double> mean_;
  std::vector<double> var_;
  std::vector<float> inv_std_;  // derived from var_, kept for the hot path
  std::vector<float> mean_f_;

  void Refresh();
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_NORMALIZER_H_

// Smooth reward shaping shared by tasks.
//
// Tolerance(x, margin) is a bump centred on zero: 1 at x = 0, falling
// smoothly and symmetrically to `value_at_margin` at |x| = margin. Pass the
// distance from a target as x. Rewards built as products of such terms stay in
// [0, 1] and give a gradient everywhere, unlike a hard success threshold.
#ifndef ROBOFLEET_ENVS_REWARDS_H_
#define ROBOFLEET_ENVS_REWARDS_H_

#include <cmath>

namespace robofleet::envs {

enum class ToleranceShape {
  kGaussian,   // exp(-(s x)^2 / 2); positive (until it underflows far out)
  kQuadratic,  // 1 - (s x)^2, clipped at 0; reaches 0 beyond the margin
};

// Precondition: margin > 0; 0 < value_at_margin < 1 for kGaussian,
// 0 <= value_at_margin < 1 for kQuadratic. Pure function, thread-safe.
inline double Tolerance(double x, double margin, double value_at_margin = 0.1,
                        ToleranceShape shape = ToleranceShape::kGaussian) {
  const double u = x / margin;
  if (shape == ToleranceShape::kGaussian) {
    // choose the width so that u = 1 gives value_at_margin
    const double scale_sq = -2.0 * std::log(value_at_margin);
    return std::exp(-0.5 * scale_sq * u * u);
  }
  const double v = (1.0 - value_at_margin) * u * u;
  return v < 1.0 ? 1.0 - v : 0.0;
}

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_REWARDS_H_

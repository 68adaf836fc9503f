#include "algorithms/algorithm.h"

#include <algorithm>

namespace robofleet::algorithms {

void Algorithm::SetLearningRate(double lr) {
  for (auto& group : optimizer().param_groups()) group.options().set_lr(lr);
}

double Algorithm::LearningRate() { return optimizer().param_groups()[0].options().get_lr(); }

double ScheduledLearningRate(const AlgorithmConfig& config, double progress, double current) {
  if (config.lr_schedule == "linear") {
    return config.learning_rate * std::max(0.0, 1.0 - progress);
  }
  if (config.lr_schedule == "adaptive") return current;
  return config.learning_rate;
}

}  // namespace robofleet::algorithms

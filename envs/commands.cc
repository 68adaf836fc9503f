#include "envs/commands.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/seeds.h"

namespace robofleet::envs {
namespace {

// The commands' stream of an episode seed, apart from every other draw.
constexpr uint64_t kCommandStream = 0x636f6d6d616e64;  // "command"

// Uniform in [0, 1) from 53 bits of `bits`.
double Unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace

CommandSchedule::CommandSchedule(const MjcfCommandConfig& config, double control_dt)
    : enabled_(config.Enabled()), standing_share_(config.standing_share) {
  steps_per_draw_ = std::max(1, static_cast<int>(std::lround(config.resample_s / control_dt)));
  const std::vector<double>* ranges[3] = {&config.lin_vel_x, &config.lin_vel_y, &config.yaw_rate};
  for (int k = 0; k < 3; ++k) {
    if (ranges[k]->size() == 2) {
      low_[k] = (*ranges[k])[0];
      high_[k] = (*ranges[k])[1];
    }
  }
}

VelocityCommand CommandSchedule::At(uint64_t episode_seed, int step) const {
  VelocityCommand command;
  if (!enabled_) return command;
  const uint64_t segment = static_cast<uint64_t>(std::max(step, 0) / steps_per_draw_);
  const uint64_t base = DeriveSeed(DeriveSeed(episode_seed, kCommandStream), segment);
  if (Unit(DeriveSeed(base, 0)) < standing_share_) return command;
  double value[3];
  for (int k = 0; k < 3; ++k) {
    value[k] = low_[k] + (high_[k] - low_[k]) * Unit(DeriveSeed(base, 1 + k));
  }
  command.lin_vel_x = value[0];
  command.lin_vel_y = value[1];
  command.yaw_rate = value[2];
  return command;
}

}  // namespace robofleet::envs

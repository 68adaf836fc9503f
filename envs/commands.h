// Velocity commands (env.mjcf.commands): what a joystick asks of a legged
// robot, its forward and sideways speed and its yaw rate. A command is drawn
// per segment of an episode (resample_s of simulated time each) and is a pure
// function of the episode's seed and the segment, so an env restored from
// its saved state (which keeps both) sees the same commands, and no other
// random stream of the env moves when commands are turned on.
#ifndef ROBOFLEET_ENVS_COMMANDS_H_
#define ROBOFLEET_ENVS_COMMANDS_H_

#include <cstdint>

#include "core/config.h"

namespace robofleet::envs {

struct VelocityCommand {
  double lin_vel_x = 0.0;  // forward, m/s
  double lin_vel_y = 0.0;  // sideways (left), m/s
  double yaw_rate = 0.0;   // rad/s, left positive

  bool operator==(const VelocityCommand& o) const {
    return lin_vel_x == o.lin_vel_x && lin_vel_y == o.lin_vel_y && yaw_rate == o.yaw_rate;
  }
};

class CommandSchedule {
 public:
  CommandSchedule() = default;
  // `control_dt`: seconds per control step.
  CommandSchedule(const MjcfCommandConfig& config, double control_dt);

  bool enabled() const { return enabled_; }
  // Control steps per draw: resample_s / control_dt, rounded, at least 1.
  int steps_per_draw() const { return steps_per_draw_; }

  // The command in force at control step `step` of the episode seeded with
  // `episode_seed`: with probability standing_share all zeros, else each
  // entry uniform in its range (0 where no range is given).
  VelocityCommand At(uint64_t episode_seed, int step) const;

 private:
  bool enabled_ = false;
  int steps_per_draw_ = 1;
  double standing_share_ = 0.0;
  double low_[3] = {0, 0, 0}, high_[3] = {0, 0, 0};
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_COMMANDS_H_

#include "envs/reacher.h"

#include <cmath>

#include "envs/locomotion.h"

namespace robofleet::envs {
namespace {

constexpr double kTargetRadius = 0.2;  // m, targets lie in this disc
constexpr int kShoulder = 0;           // qpos / qvel indices of the two hinges
constexpr int kElbow = 1;

}  // namespace

Reacher::Reacher(const EnvConfig& config)
    : MujocoEnv(config, TaskInfo{"reacher",
                                 AssetPath("reacher.xml"),
                                 2,
                                 {"shoulder_cos", "elbow_cos", "shoulder_sin", "elbow_sin",
                                  "target_x", "target_y", "shoulder_vel", "elbow_vel",
                                  "tip_to_target_x", "tip_to_target_y"},
                                 50}) {
  fingertip_ = BodyId(model(), "fingertip", model_path());
}

void Reacher::InitializeEpisode(mjData* data, EnvRandom& rng) {
  data->qpos[kShoulder] = rng.Uniform(-0.1, 0.1);
  data->qpos[kElbow] = rng.Uniform(-0.1, 0.1);
  data->qvel[kShoulder] = rng.Uniform(-0.005, 0.005);
  data->qvel[kElbow] = rng.Uniform(-0.005, 0.005);
  // uniform in the disc, by rejection from its square
  double x, y;
  do {
    x = rng.Uniform(-kTargetRadius, kTargetRadius);
    y = rng.Uniform(-kTargetRadius, kTargetRadius);
  } while (x * x + y * y >= kTargetRadius * kTargetRadius);
  data->mocap_pos[0] = x;
  data->mocap_pos[1] = y;
}

void Reacher::TipToTarget(const mjData& data, double delta[2]) const {
  for (int k = 0; k < 2; ++k) delta[k] = data.xpos[3 * fingertip_ + k] - data.mocap_pos[k];
}

void Reacher::WriteObservation(const mjData& data, float* obs) const {
  double delta[2];
  TipToTarget(data, delta);
  const double values[10] = {std::cos(data.qpos[kShoulder]),
                             std::cos(data.qpos[kElbow]),
                             std::sin(data.qpos[kShoulder]),
                             std::sin(data.qpos[kElbow]),
                             data.mocap_pos[0],
                             data.mocap_pos[1],
                             data.qvel[kShoulder],
                             data.qvel[kElbow],
                             delta[0],
                             delta[1]};
  WriteClipped(values, 10, obs);
}

float Reacher::ComputeReward(const mjData& data, const float* action) const {
  double delta[2];
  TipToTarget(data, delta);
  const double effort = action[0] * action[0] + action[1] * action[1];
  return static_cast<float>(-std::hypot(delta[0], delta[1]) - effort);
}

}  // namespace robofleet::envs

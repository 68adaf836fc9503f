#include "envs/arm_push.h"

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace robofleet::envs {
namespace {

// tool pointing down, its tip 0.3 m in front of the base and 0.15 m up
constexpr std::array<double, Arm::kJoints> kReadyPose = {0.0, 0.4, 0.0, 2.2, 0.0, 0.55, 0.0};
constexpr double kStartNoise = 0.05;      // rad
constexpr double kBlockHalfSize = 0.025;  // m
constexpr double kMinSeparation = 0.15;   // m, block to target at the start
constexpr double kFallenHeight = -0.1;    // m, block centre below the table top
constexpr double kPi = 3.14159265358979323846;

std::vector<std::string> ObservationNames() {
  std::vector<std::string> names = Arm::JointNames();
  for (const char* name : {"tip_x",
                           "tip_y",
                           "tip_z",
                           "block_x",
                           "block_y",
                           "block_z",
                           "block_qw",
                           "block_qx",
                           "block_qy",
                           "block_qz",
                           "block_vx",
                           "block_vy",
                           "block_vz",
                           "target_x",
                           "target_y",
                           "tip_to_block_x",
                           "tip_to_block_y",
                           "tip_to_block_z",
                           "block_to_target_x",
                           "block_to_target_y"}) {
    names.emplace_back(name);
  }
  return names;
}

}  // namespace

ArmPush::ArmPush(const EnvConfig& config)
    : MujocoEnv(config,
                TaskInfo{"arm_push", AssetPath("arm_push.xml"), 5, ObservationNames(), 250}),
      arm_(model(), model_path()) {
  const mjModel* m = model();
  const int block = mj_name2id(m, mjOBJ_JOINT, "block");
  if (block < 0 || m->jnt_type[block] != mjJNT_FREE) {
    throw UserError("arm_push model '" + model_path() +
                    "' has no free joint named 'block'; use the arm_push.xml shipped in "
                    "envs/assets");
  }
  block_qpos_ = m->jnt_qposadr[block];
  block_dof_ = m->jnt_dofadr[block];
}

void ArmPush::InitializeEpisode(mjData* data, EnvRandom& rng) {
  arm_.SetPose(data, kReadyPose, kStartNoise, rng);

  // the block lies flat, turned about z
  double* block = data->qpos + block_qpos_;
  block[0] = rng.Uniform(0.45, 0.6);
  block[1] = rng.Uniform(-0.15, 0.15);
  block[2] = kBlockHalfSize;
  const double yaw = rng.Uniform(-kPi, kPi);
  block[3] = std::cos(0.5 * yaw);
  block[4] = 0.0;
  block[5] = 0.0;
  block[6] = std::sin(0.5 * yaw);

  // a target some way off, so every episode needs a push
  double x, y;
  do {
    x = rng.Uniform(0.35, 0.7);
    y = rng.Uniform(-0.3, 0.3);
  } while (std::hypot(x - block[0], y - block[1]) < kMinSeparation);
  data->mocap_pos[0] = x;
  data->mocap_pos[1] = y;
}

void ArmPush::WriteObservation(const mjData& data, float* obs) const {
  const double* tip = arm_.ee_pos(data);
  const double* block = data.qpos + block_qpos_;
  const double* target = data.mocap_pos;
  obs = arm_.WriteJoints(data, obs);
  for (int k = 0; k < 3; ++k) *obs++ = static_cast<float>(tip[k]);
  for (int k = 0; k < 7; ++k) *obs++ = static_cast<float>(block[k]);
  for (int k = 0; k < 3; ++k) *obs++ = static_cast<float>(data.qvel[block_dof_ + k]);
  for (int k = 0; k < 2; ++k) *obs++ = static_cast<float>(target[k]);
  for (int k = 0; k < 3; ++k) *obs++ = static_cast<float>(block[k] - tip[k]);
  for (int k = 0; k < 2; ++k) *obs++ = static_cast<float>(target[k] - block[k]);
}

float ArmPush::ComputeReward(const mjData& data, const float* /*action*/) const {
  const double* tip = arm_.ee_pos(data);
  const double* block = data.qpos + block_qpos_;
  const double to_target = std::hypot(data.mocap_pos[0] - block[0], data.mocap_pos[1] - block[1]);
  const double tip_to_block[3] = {block[0] - tip[0], block[1] - tip[1], block[2] - tip[2]};
  return static_cast<float>(-to_target - 0.5 * mju_norm3(tip_to_block) -
                            1e-4 * arm_.SquaredSpeed(data));
}

bool ArmPush::IsTerminal(const mjData& data) const {
  return data.qpos[block_qpos_ + 2] < kFallenHeight;
}

}  // namespace robofleet::envs

#include "envs/arm_reach.h"

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace robofleet::envs {
namespace {

// elbow and wrist bent, tool pointing down, end effector about 0.47 m in
// front of the base and 0.27 m up
constexpr std::array<double, Arm::kJoints> kReadyPose = {0.0, 0.5, 0.0, 1.5, 0.0, 1.1, 0.0};
constexpr double kStartNoise = 0.05;       // rad
constexpr double kTargetFraction = 0.8;    // of each joint's range
constexpr double kMinTargetHeight = 0.15;  // m
constexpr int kMaxTargetDraws = 100;

std::vector<std::string> ObservationNames() {
  std::vector<std::string> names = Arm::JointNames();
  const auto add = [&names](const std::string& prefix, const char* const* suffixes, int n) {
    for (int i = 0; i < n; ++i) names.push_back(prefix + suffixes[i]);
  };
  static const char* const kXyz[] = {"_x", "_y", "_z"};
  static const char* const kAxes[] = {"_xaxis_x", "_xaxis_y", "_xaxis_z",
                                      "_zaxis_x", "_zaxis_y", "_zaxis_z"};
  add("ee", kXyz, 3);
  add("ee", kAxes, 6);
  add("target", kXyz, 3);
  add("target", kAxes, 6);
  add("pos_error", kXyz, 3);
  add("rot_error", kXyz, 3);
  return names;
}

// the x and z axes (columns 0 and 2) of a row-major rotation matrix
float* WriteAxes(const double mat[9], float* obs) {
  for (int column : {0, 2}) {
    for (int row = 0; row < 3; ++row) *obs++ = static_cast<float>(mat[3 * row + column]);
  }
  return obs;
}

}  // namespace

ArmReach::ArmReach(const EnvConfig& config)
    : MujocoEnv(config,
                TaskInfo{"arm_reach", AssetPath("arm_reach.xml"), 5, ObservationNames(), 200}),
      arm_(model(), model_path()) {}

void ArmReach::InitializeEpisode(mjData* data, EnvRandom& rng) {
  // a reachable target: the end-effector pose of a random configuration
  const mjModel* m = model();
  for (int draw = 0; draw < kMaxTargetDraws; ++draw) {
    arm_.SetRandomPose(data, kTargetFraction, rng);
    mj_kinematics(m, data);
    if (arm_.ee_pos(*data)[2] >= kMinTargetHeight) break;
  }
  for (int k = 0; k < 3; ++k) data->mocap_pos[k] = arm_.ee_pos(*data)[k];
  mju_mat2Quat(data->mocap_quat, arm_.ee_mat(*data));

  arm_.SetPose(data, kReadyPose, kStartNoise, rng);
}

void ArmReach::Errors(const mjData& data, double pos[3], double rot[3]) const {
  const double* ee = arm_.ee_pos(data);
  for (int k = 0; k < 3; ++k) pos[k] = data.mocap_pos[k] - ee[k];
  // q_error = q_target * conj(q_ee) turns the end effector onto the target
  double q_ee[4], q_ee_inv[4], q_error[4];
  mju_mat2Quat(q_ee, arm_.ee_mat(data));
  mju_negQuat(q_ee_inv, q_ee);
  mju_mulQuat(q_error, data.mocap_quat, q_ee_inv);
  mju_quat2Vel(rot, q_error, 1.0);
}

void ArmReach::WriteObservation(const mjData& data, float* obs) const {
  double pos_error[3], rot_error[3], target_mat[9];
  Errors(data, pos_error, rot_error);
  mju_quat2Mat(target_mat, data.mocap_quat);
  obs = arm_.WriteJoints(data, obs);
  for (int k = 0; k < 3; ++k) *obs++ = static_cast<float>(arm_.ee_pos(data)[k]);
  obs = WriteAxes(arm_.ee_mat(data), obs);
  for (int k = 0; k < 3; ++k) *obs++ = static_cast<float>(data.mocap_pos[k]);
  obs = WriteAxes(target_mat, obs);
  for (int k = 0; k < 3; ++k) *obs++ = static_cast<float>(pos_error[k]);
  for (int k = 0; k < 3; ++k) *obs++ = static_cast<float>(rot_error[k]);
}

float ArmReach::ComputeReward(const mjData& data, const float* /*action*/) const {
  double pos_error[3], rot_error[3];
  Errors(data, pos_error, rot_error);
  return static_cast<float>(-mju_norm3(pos_error) - 0.1 * mju_norm3(rot_error) -
                            1e-4 * arm_.SquaredSpeed(data));
}

}  // namespace robofleet::envs

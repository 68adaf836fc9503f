#include "envs/arm.h"

namespace robofleet::envs {

Arm::Arm(const mjModel* m, const std::string& model_path) : model_(m) {
  for (int i = 0; i < kJoints; ++i) {
    const std::string name = "j" + std::to_string(i + 1);
    joint_[i] = mj_name2id(m, mjOBJ_JOINT, name.c_str());
    if (joint_[i] < 0) {
      throw UserError("arm model '" + model_path + "' has no joint named '" + name +
                      "'; use the arm7.xml shipped in envs/assets");
    }
    qpos_[i] = m->jnt_qposadr[joint_[i]];
    dof_[i] = m->jnt_dofadr[joint_[i]];
  }
  ee_site_ = mj_name2id(m, mjOBJ_SITE, "end_effector");
  if (ee_site_ < 0) {
    throw UserError("arm model '" + model_path +
                    "' has no site named 'end_effector'; use the arm7.xml shipped in envs/assets");
  }
}

std::vector<std::string> Arm::JointNames() {
  std::vector<std::string> names;
  for (int i = 1; i <= kJoints; ++i) names.push_back("j" + std::to_string(i));
  for (int i = 1; i <= kJoints; ++i) names.push_back("j" + std::to_string(i) + "_vel");
  return names;
}

float* Arm::WriteJoints(const mjData& data, float* obs) const {
  for (int i = 0; i < kJoints; ++i) *obs++ = static_cast<float>(data.qpos[qpos_[i]]);
  for (int i = 0; i < kJoints; ++i) *obs++ = static_cast<float>(data.qvel[dof_[i]]);
  return obs;
}

void Arm::SetPose(mjData* data, const std::array<double, kJoints>& pose, double noise,
                  EnvRandom& rng) const {
  for (int i = 0; i < kJoints; ++i) {
    data->qpos[qpos_[i]] = pose[i] + (noise > 0 ? rng.Uniform(-noise, noise) : 0.0);
    data->qvel[dof_[i]] = 0.0;
  }
}

void Arm::SetRandomPose(mjData* data, double fraction, EnvRandom& rng) const {
  for (int i = 0; i < kJoints; ++i) {
    const double low = model_->jnt_range[2 * joint_[i]];
    const double high = model_->jnt_range[2 * joint_[i] + 1];
    const double middle = 0.5 * (low + high), half = 0.5 * fraction * (high - low);
    data->qpos[qpos_[i]] = rng.Uniform(middle - half, middle + half);
    data->qvel[dof_[i]] = 0.0;
  }
}

double Arm::SquaredSpeed(const mjData& data) const {
  double sum = 0.0;
  for (int i = 0; i < kJoints; ++i) sum += data.qvel[dof_[i]] * data.qvel[dof_[i]];
  return sum;
}

}  // namespace robofleet::envs

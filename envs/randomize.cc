#include "envs/randomize.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace robofleet::envs {
namespace {

bool Varies(const std::vector<double>& range) { return range[0] != 1.0 || range[1] != 1.0; }

double Draw(const std::vector<double>& range, EnvRandom& rng) {
  return rng.Uniform(range[0], range[1]);
}

std::string NameOf(const mjModel* m, mjtObj type, int id, const char* kind) {
  const char* name = mj_id2name(m, type, id);
  return name != nullptr && name[0] != '\0' ? name : kind + std::to_string(id);
}

}  // namespace

DomainRandomizer::DomainRandomizer(const RandomizeConfig& config,
                                   std::shared_ptr<const mjModel> shared, int act_dim)
    : config_(config), shared_(std::move(shared)), act_dim_(act_dim) {
  if (config_.ChangesModel()) {
    own_model_ = mj_copyModel(nullptr, shared_.get());
    if (own_model_ == nullptr) throw std::runtime_error("mj_copyModel failed (out of memory?)");
  }
  pending_.assign(static_cast<size_t>(config_.action_delay[1] + 1) * act_dim_, 0.0f);
  // the factors' names, in the order BeginEpisode records them
  const mjModel* m = shared_.get();
  if (Varies(config_.body_mass_scale)) {
    for (int b = 1; b < m->nbody; ++b) {
      factor_names_.push_back("mass_scale:" + NameOf(m, mjOBJ_BODY, b, "body_"));
    }
  }
  if (Varies(config_.geom_friction_scale)) {
    for (int g = 0; g < m->ngeom; ++g) {
      factor_names_.push_back("friction_scale:" + NameOf(m, mjOBJ_GEOM, g, "geom_"));
    }
  }
  if (Varies(config_.joint_damping_scale)) {
    for (int i = 0; i < m->nv; ++i)
      factor_names_.push_back("damping_scale:dof_" + std::to_string(i));
  }
  if (Varies(config_.actuator_gain_scale)) {
    for (int i = 0; i < m->nu; ++i) {
      factor_names_.push_back("gain_scale:" + NameOf(m, mjOBJ_ACTUATOR, i, "actuator_"));
    }
  }
  if (Varies(config_.gravity_scale)) factor_names_.push_back("gravity_scale");
  if (config_.action_delay[1] > config_.action_delay[0]) factor_names_.push_back("action_delay");
  factors_.assign(factor_names_.size(), 1.0f);
}

DomainRandomizer::~DomainRandomizer() {
  if (own_model_ != nullptr) mj_deleteModel(own_model_);
}

void DomainRandomizer::BeginEpisode(EnvRandom& rng, mjData* scratch) {
  size_t f = 0;  // next entry of factors_
  if (own_model_ != nullptr) {
    const mjModel* base = shared_.get();
    mjModel* m = own_model_;
    // each factor applies to the shared model's value, never to last episode's
    if (Varies(config_.body_mass_scale)) {
      for (int b = 0; b < m->nbody; ++b) {
        const double s = Draw(config_.body_mass_scale, rng);
        if (b > 0) factors_[f++] = static_cast<float>(s);  // the world body has no mass
        m->body_mass[b] = s * base->body_mass[b];
        for (int k = 0; k < 3; ++k) m->body_inertia[3 * b + k] = s * base->body_inertia[3 * b + k];
      }
    }
    if (Varies(config_.geom_friction_scale)) {
      for (int g = 0; g < m->ngeom; ++g) {
        const double s = Draw(config_.geom_friction_scale, rng);
        factors_[f++] = static_cast<float>(s);
        for (int k = 0; k < 3; ++k)
          m->geom_friction[3 * g + k] = s * base->geom_friction[3 * g + k];
      }
    }
    if (Varies(config_.joint_damping_scale)) {
      for (int i = 0; i < m->nv; ++i) {
        const double s = Draw(config_.joint_damping_scale, rng);
        factors_[f++] = static_cast<float>(s);
        m->dof_damping[i] = s * base->dof_damping[i];
      }
    }
    if (Varies(config_.actuator_gain_scale)) {
      // gain and bias together scale the whole force of affine actuators
      // (motors, position and velocity servos) by one factor
      for (int i = 0; i < m->nu; ++i) {
        const double s = Draw(config_.actuator_gain_scale, rng);
        factors_[f++] = static_cast<float>(s);
        m->actuator_gainprm[mjNGAIN * i] = s * base->actuator_gainprm[mjNGAIN * i];
        for (int k = 0; k < 3; ++k) {
          m->actuator_biasprm[mjNBIAS * i + k] = s * base->actuator_biasprm[mjNBIAS * i + k];
        }
      }
    }
    if (Varies(config_.gravity_scale)) {
      const double s = Draw(config_.gravity_scale, rng);
      factors_[f++] = static_cast<float>(s);
      for (int k = 0; k < 3; ++k) m->opt.gravity[k] = s * base->opt.gravity[k];
    }
    // masses feed constants computed at compile time (subtree masses,
    // constraint scaling); recompute them for this episode's bodies
    if (Varies(config_.body_mass_scale)) mj_setConst(m, scratch);
  }

  const int low = config_.action_delay[0], high = config_.action_delay[1];
  delay_ = low;
  if (high > low) {
    delay_ = std::min(high, low + static_cast<int>(rng.Uniform() * (high - low + 1)));
    factors_[f++] = static_cast<float>(delay_);
  }
  std::fill(pending_.begin(), pending_.end(), 0.0f);
  head_ = 0;
}

void DomainRandomizer::FilterAction(const float* action, float* applied, EnvRandom& rng) {
  const int slots = static_cast<int>(pending_.size()) / std::max(1, act_dim_);
  float* incoming = pending_.data() + static_cast<size_t>(head_) * act_dim_;
  for (int i = 0; i < act_dim_; ++i) {
    float a = action[i];
    if (config_.action_noise > 0) a += static_cast<float>(config_.action_noise * rng.Normal());
    incoming[i] = std::clamp(a, -1.0f, 1.0f);
  }
  // the slot written delay_ steps ago; zeros until that many were written
  const int out = (head_ - delay_ + slots) % slots;
  std::copy_n(pending_.data() + static_cast<size_t>(out) * act_dim_, act_dim_, applied);
  head_ = (head_ + 1) % slots;
}

void DomainRandomizer::AddObservationNoise(float* obs, int n, EnvRandom& rng) const {
  if (config_.obs_noise <= 0) return;
  for (int i = 0; i < n; ++i) obs[i] += static_cast<float>(config_.obs_noise * rng.Normal());
}

std::string DomainRandomizer::SaveQueue() const {
  std::string out(reinterpret_cast<const char*>(pending_.data()), pending_.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(&head_), sizeof(head_));
  return out;
}

void DomainRandomizer::LoadQueue(std::string_view queue) {
  if (queue.size() != pending_.size() * sizeof(float) + sizeof(head_)) {
    throw std::runtime_error("saved action queue does not fit this env's randomiser");
  }
  std::memcpy(pending_.data(), queue.data(), pending_.size() * sizeof(float));
  std::memcpy(&head_, queue.data() + pending_.size() * sizeof(float), sizeof(head_));
}

}  // namespace robofleet::envs

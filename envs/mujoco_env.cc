#include "envs/mujoco_env.h"

#include <fnmatch.h>
#include <mujoco/mjxmacro.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/mutex.h"
#include "envs/randomize.h"

#ifndef ROBOFLEET_ASSETS_DIR
#define ROBOFLEET_ASSETS_DIR "envs/assets"
#endif

namespace robofleet::envs {
namespace {

constexpr double kPi = 3.14159265358979323846;

// warning bookkeeping shared by every thread of the process
struct WarningLog {
  std::atomic<int64_t> count{0};
  Mutex mu;
  std::string last GUARDED_BY(mu);
};

WarningLog& Warnings() {
  // leaked on purpose: MuJoCo may warn from a thread during static destruction
  static WarningLog* log = new WarningLog;
  return *log;
}

void ThrowOnMujocoError(const char* message) {
  throw std::runtime_error(std::string("MuJoCo error: ") + message);
}

void RecordMujocoWarning(const char* message) {
  WarningLog& log = Warnings();
  log.count.fetch_add(1, std::memory_order_relaxed);
  MutexLock lock(&log.mu);
  log.last = message;
}

// MuJoCo messages span several lines; user-facing errors are one line
std::string OneLine(const std::string& text) {
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

struct ModelCache {
  Mutex mu;
  std::map<std::string, std::shared_ptr<const mjModel>> models GUARDED_BY(mu);
};

ModelCache& Models() {
  // leaked on purpose: envs on other threads may outlive static destruction
  static ModelCache* cache = new ModelCache;
  return *cache;
}

}  // namespace

void InstallMujocoHandlers() {
  // the library the loader found must be the one whose headers we compiled
  // against: structs change layout between MuJoCo releases
  if (mj_version() != mjVERSION_HEADER) {
    throw std::runtime_error("libmujoco.so is MuJoCo " + std::string(mj_versionString()) +
                             " but RoboFleet was built against headers " +
                             std::to_string(mjVERSION_HEADER) + "; rebuild it (scripts/setup.sh)");
  }
  static std::once_flag once;
  std::call_once(once, [] {
    mju_user_error = &ThrowOnMujocoError;
    mju_user_warning = &RecordMujocoWarning;
  });
}

int64_t MujocoWarningCount() { return Warnings().count.load(std::memory_order_relaxed); }

std::string LastMujocoWarning() {
  WarningLog& log = Warnings();
  MutexLock lock(&log.mu);
  return log.last;
}

std::string AssetPath(const std::string& file) {
  if (!file.empty() && file.front() == '/') return file;
  const char* env_dir = std::getenv("ROBOFLEET_ASSETS");
  std::string dir = (env_dir != nullptr && env_dir[0] != '\0') ? env_dir : ROBOFLEET_ASSETS_DIR;
  if (!dir.empty() && dir.back() != '/') dir += '/';
  return dir + file;
}

std::shared_ptr<const mjModel> LoadModel(const std::string& path) {
  return LoadModel(path, "", {});
}

std::shared_ptr<const mjModel> LoadModel(const std::string& path, const std::string& variant,
                                         const std::function<void(mjModel*)>& prepare) {
  InstallMujocoHandlers();
  ModelCache& cache = Models();
  MutexLock lock(&cache.mu);
  const std::string key = variant.empty() ? path : path + '\n' + variant;
  auto it = cache.models.find(key);
  if (it != cache.models.end()) return it->second;

  // parse and compile; MuJoCo reports problems through `error`, or by raising
  // an error that our handler turns into an exception
  char error[1024] = "";
  mjModel* raw = nullptr;
  std::string problem;
  try {
    raw = mj_loadXML(path.c_str(), nullptr, error, sizeof(error));
    problem = error;
  } catch (const std::runtime_error& e) {
    problem = e.what();
  }
  if (raw == nullptr) {
    std::string message = "MJCF model '" + path + "' failed to load: " + OneLine(problem);
    // a missing file deserves a hint beyond the XML parser's words
    if (!std::ifstream(path).good()) {
      message +=
          "; check the path, or set ROBOFLEET_ASSETS to the folder holding the task's "
          "assets";
    }
    throw UserError(message);
  }
  std::shared_ptr<const mjModel> model(
      raw, [](const mjModel* m) { mj_deleteModel(const_cast<mjModel*>(m)); });
  if (!variant.empty() && prepare) prepare(raw);
  cache.models.emplace(key, model);
  return model;
}

std::string EnvRandom::Save() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void EnvRandom::Load(const std::string& state) {
  std::istringstream in(state);
  in >> engine_;
  if (!in) throw std::runtime_error("saved random stream is malformed");
}

double EnvRandom::Uniform() {
  // the top 53 bits fill a double's mantissa exactly
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double EnvRandom::Normal() {
  // Box-Muller with u1 in (0, 1] so the log is finite
  const double u1 = 1.0 - Uniform();
  const double u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

MujocoEnv::MujocoEnv(const EnvConfig& config, TaskInfo task) {
  config.Validate();
  model_path_ = task.model_path;
  shared_model_ = LoadModel(model_path_, task.model_variant, task.prepare_model);
  model_ = shared_model_.get();
  const mjModel* m = model_;

  // describe the task
  spec_.id = task.id;
  spec_.obs_dim = static_cast<int>(task.obs_names.size());
  spec_.act_dim = m->nu;
  spec_.frame_skip = config.frame_skip > 0 ? config.frame_skip : task.default_frame_skip;
  spec_.max_episode_steps =
      config.max_episode_steps > 0 ? config.max_episode_steps : task.default_max_episode_steps;
  spec_.control_dt = m->opt.timestep * spec_.frame_skip;
  spec_.obs_names = std::move(task.obs_names);
  spec_.episode_info_names = std::move(task.episode_info_names);
  spec_.controller_json = std::move(task.controller_json);
  for (int i = 0; i < m->nu; ++i) {
    const char* name = mj_id2name(m, mjOBJ_ACTUATOR, i);
    spec_.act_names.push_back(name != nullptr && name[0] != '\0' ? name
                                                                 : "actuator_" + std::to_string(i));
  }
  if (spec_.frame_skip < 1 || spec_.max_episode_steps < 1) {
    throw std::logic_error("env '" + spec_.id + "' declares default frame_skip " +
                           std::to_string(spec_.frame_skip) + " and time limit " +
                           std::to_string(spec_.max_episode_steps) + "; both must be >= 1");
  }
  needs_contact_forces_ = task.needs_contact_forces;

  // [-1, 1] maps onto ctrlrange, unless the task has its own mapping;
  // unlimited actuators take the action as is
  ctrl_scale_.assign(m->nu, 1.0);
  ctrl_offset_.assign(m->nu, 0.0);
  clip_ctrl_ = !task.ctrl_scale.empty();
  if (clip_ctrl_ && (task.ctrl_scale.size() != static_cast<size_t>(m->nu) ||
                     task.ctrl_offset.size() != static_cast<size_t>(m->nu))) {
    throw std::logic_error("env '" + spec_.id + "' gives a control mapping of the wrong size");
  }
  for (int i = 0; i < m->nu; ++i) {
    const double low = m->actuator_ctrlrange[2 * i];
    const double high = m->actuator_ctrlrange[2 * i + 1];
    if (clip_ctrl_) {
      ctrl_scale_[i] = task.ctrl_scale[i];
      ctrl_offset_[i] = task.ctrl_offset[i];
    } else if (m->actuator_ctrllimited[i]) {
      ctrl_scale_[i] = 0.5 * (high - low);
      ctrl_offset_[i] = 0.5 * (high + low);
    }
    double act_low = ctrl_offset_[i] - ctrl_scale_[i];
    double act_high = ctrl_offset_[i] + ctrl_scale_[i];
    if (clip_ctrl_ && m->actuator_ctrllimited[i]) {
      act_low = std::clamp(act_low, low, high);
      act_high = std::clamp(act_high, low, high);
    }
    spec_.act_low.push_back(act_low);
    spec_.act_high.push_back(act_high);
    spec_.act_offset.push_back(ctrl_offset_[i]);
    spec_.act_scale.push_back(ctrl_scale_[i]);
  }
  obs_noise_ = std::move(task.obs_noise);
  if (!obs_noise_.empty() && obs_noise_.size() != spec_.obs_names.size()) {
    throw std::logic_error("env '" + spec_.id + "' gives observation noise of the wrong size");
  }
  if (!config.observe.empty()) KeepObserved(config.observe);
  action_.assign(m->nu, 0.0f);
  applied_.assign(m->nu, 0.0f);

  // randomisation only when asked for: the plain env keeps the shared model
  const RandomizeConfig& r = config.randomize;
  if (r.ChangesModel() || r.obs_noise > 0 || r.action_noise > 0 || r.action_delay[1] > 0) {
    randomizer_ = std::make_unique<DomainRandomizer>(r, shared_model_, m->nu);
    model_ = randomizer_->model();
  }

  // the critic's privileged entries: the drawn factors, then the noise-free observation
  task_obs_dim_ = spec_.obs_dim;
  if (config.privileged_obs) {
    std::vector<std::string> names;
    if (randomizer_ != nullptr) names = randomizer_->factor_names();
    if (r.obs_noise > 0) {
      for (int i = 0; i < task_obs_dim_; ++i) names.push_back("true:" + spec_.obs_names[i]);
    }
    if (names.empty()) {
      throw UserError("env.privileged_obs: task '" + spec_.id +
                      "' has nothing privileged to observe with this env.randomize; randomise "
                      "a model parameter, the observation noise or the action delay");
    }
    spec_.privileged_dim = static_cast<int>(names.size());
    spec_.obs_dim += spec_.privileged_dim;
    spec_.obs_names.insert(spec_.obs_names.end(), names.begin(), names.end());
  }
  if (config.obs_history > 1) KeepHistory(config.obs_history);

  data_.reset(mj_makeData(m));
  if (data_ == nullptr) {
    throw std::runtime_error("env '" + spec_.id + "': mj_makeData failed (out of memory?)");
  }
}

MujocoEnv::~MujocoEnv() = default;

void MujocoEnv::Reset(uint64_t seed, float* obs) {
  const mjModel* m = model_;
  mjData* d = data_.get();

  // this episode's physics first (it may use the data as scratch), then the
  // reference state and the task's draw, all from the seeded stream
  rng_.Seed(seed);
  episode_seed_ = seed;
  if (randomizer_ != nullptr) randomizer_->BeginEpisode(rng_, d);
  mj_resetData(m, d);
  InitializeEpisode(d, rng_);
  mj_forward(m, d);
  ComputeDerived();

  episode_step_ = 0;
  episode_live_ = true;
  std::fill(action_.begin(), action_.end(), 0.0f);
  std::fill(history_.begin(), history_.end(), 0.0f);
  Observe(obs);
}

StepResult MujocoEnv::Step(const float* action, float* obs) {
  if (!episode_live_) {
    throw std::logic_error("env '" + spec_.id +
                           "': Step called before Reset or after the episode ended");
  }
  const mjModel* m = model_;
  mjData* d = data_.get();

  // reject non-finite actions before touching the state
  for (int i = 0; i < spec_.act_dim; ++i) {
    if (!std::isfinite(action[i])) {
      throw std::invalid_argument("env '" + spec_.id + "': action[" + std::to_string(i) + "] is " +
                                  (std::isnan(action[i]) ? "NaN" : "infinite") +
                                  "; actions must be finite values in [-1, 1]");
    }
  }

  // clip to [-1, 1], randomise, and scale onto the actuators' ctrlrange
  for (int i = 0; i < spec_.act_dim; ++i) action_[i] = std::clamp(action[i], -1.0f, 1.0f);
  const float* applied = action_.data();
  if (randomizer_ != nullptr) {
    randomizer_->FilterAction(action_.data(), applied_.data(), rng_);
    applied = applied_.data();
  }
  for (int i = 0; i < spec_.act_dim; ++i) {
    d->ctrl[i] = ctrl_offset_[i] + ctrl_scale_[i] * applied[i];
    if (clip_ctrl_ && m->actuator_ctrllimited[i]) {
      d->ctrl[i] =
          std::clamp(d->ctrl[i], m->actuator_ctrlrange[2 * i], m->actuator_ctrlrange[2 * i + 1]);
    }
  }
  BeforeStep(d);

  // physics; stop at the first sign of divergence. A MuJoCo error inside
  // the step (e.g. the arena overflowing on a contact explosion) leaves the
  // data unusable, so it ends the episode the same way.
  bool diverged = false;
  try {
    for (int k = 0; k < spec_.frame_skip && !diverged; ++k) {
      mj_step(m, d);
      diverged = Diverged();
    }
  } catch (const std::runtime_error& e) {
    RecordMujocoWarning(e.what());
    diverged = true;
  }
  if (!diverged) {
    for (int i = 0; i < m->nq && !diverged; ++i) diverged = !std::isfinite(d->qpos[i]);
    for (int i = 0; i < m->nv && !diverged; ++i) diverged = !std::isfinite(d->qvel[i]);
  }

  StepResult result;
  ++episode_step_;
  if (diverged) {
    // a finite final observation, from the reference state
    mj_resetData(m, d);
    mj_forward(m, d);
    ComputeDerived();
    Observe(obs);
    result.reward = 0.0f;
    result.terminated = true;
    result.diverged = true;
  } else {
    ComputeDerived();
    AfterStep(*d);
    Observe(obs);
    result.reward = ComputeReward(*d, applied);
    result.terminated = IsTerminal(*d);
    result.truncated = !result.terminated && episode_step_ >= spec_.max_episode_steps;
  }
  episode_live_ = !(result.terminated || result.truncated);
  return result;
}

// mjData is a header of plain numbers, a buffer of fixed-size arrays (the
// state and everything derived from it) and an arena whose used front holds
// this step's contacts and constraints, reached through pointers after the
// header. Saved together, with those pointers as offsets into the arena, they
// are the whole state, derived quantities too, so a restored env continues
// bit for bit. The header's pointer-free part ends at `buffer`.
static_assert(mjVERSION_HEADER >= 3000000, "MuJoCo 3's mjData layout is assumed below");
constexpr size_t kDataHeader = offsetof(mjData, buffer);

namespace {

// Each arena pointer of `d` as a byte offset from the arena (-1: null), in
// the order of MuJoCo's MJDATA_ARENA_POINTERS list.
std::vector<int64_t> ArenaOffsets(const mjData& d) {
  std::vector<int64_t> offsets;
  const char* arena = static_cast<const char*>(d.arena);
#define X(type, name, nr, nc) \
  offsets.push_back(d.name == nullptr ? -1 : reinterpret_cast<const char*>(d.name) - arena);
  MJDATA_ARENA_POINTERS
#undef X
  return offsets;
}

// Points `d`'s arena pointers at OFFSETS into its own arena; false when an
// offset lies outside the arena's used part or the list has another length.
bool SetArenaPointers(mjData* d, const std::vector<int64_t>& offsets) {
  size_t i = 0;
  bool ok = true;
  char* arena = static_cast<char*>(d->arena);
#define X(type, name, nr, nc)                                                        \
  if (i < offsets.size()) {                                                          \
    const int64_t offset = offsets[i++];                                             \
    ok = ok && offset >= -1 && offset <= static_cast<int64_t>(d->parena);            \
    d->name = offset < 0 || !ok ? nullptr : reinterpret_cast<type*>(arena + offset); \
  } else {                                                                           \
    ok = false;                                                                      \
  }
  MJDATA_ARENA_POINTERS
#undef X
  return ok && i == offsets.size();
}

}  // namespace

std::string MujocoEnv::SaveState() const {
  const mjData* d = data_.get();
  ByteWriter w;
  w.Put(episode_seed_);
  w.PutString(rng_.Save());
  w.Put(episode_step_);
  w.Put(episode_live_);
  w.PutString(std::string_view(reinterpret_cast<const char*>(d), kDataHeader));
  w.PutString(std::string_view(static_cast<const char*>(d->buffer), d->nbuffer));
  w.PutString(std::string_view(static_cast<const char*>(d->arena), d->parena));
  const std::vector<int64_t> offsets = ArenaOffsets(*d);
  w.PutString(std::string_view(reinterpret_cast<const char*>(offsets.data()),
                               offsets.size() * sizeof(int64_t)));
  w.PutString(randomizer_ != nullptr ? randomizer_->SaveQueue() : std::string());
  w.PutString(SaveTaskState());
  w.PutString(std::string_view(reinterpret_cast<const char*>(history_.data()),
                               history_.size() * sizeof(float)));
  return w.str();
}

void MujocoEnv::LoadState(std::string_view state) {
  mjData* d = data_.get();
  ByteReader r(state);
  const auto seed = r.Get<uint64_t>();
  const std::string rng(r.GetString());
  const int step = r.Get<int>();
  const bool live = r.Get<bool>();
  const std::string_view header = r.GetString(), buffer = r.GetString(), arena = r.GetString(),
                         offset_bytes = r.GetString(), queue = r.GetString(),
                         task_state = r.GetString(), history = r.GetString();
  mjData saved;
  if (header.size() == kDataHeader) std::memcpy(&saved, header.data(), kDataHeader);
  const std::string from_another_model =
      "env '" + spec_.id + "': saved state is from another model";
  if (header.size() != kDataHeader || buffer.size() != static_cast<size_t>(d->nbuffer) ||
      saved.nbuffer != d->nbuffer || saved.narena != d->narena || saved.parena != arena.size() ||
      arena.size() > static_cast<size_t>(d->narena) || offset_bytes.size() % sizeof(int64_t) != 0 ||
      history.size() != history_.size() * sizeof(float) || !r.done()) {
    throw std::runtime_error(from_another_model);
  }
  std::vector<int64_t> offsets(offset_bytes.size() / sizeof(int64_t));
  std::memcpy(offsets.data(), offset_bytes.data(), offset_bytes.size());
  if (randomizer_ != nullptr) {
    // the episode's model parameters are redrawn from its seed, as at its reset
    rng_.Seed(seed);
    randomizer_->BeginEpisode(rng_, d);
    randomizer_->LoadQueue(queue);
  }
  // the thread pool belongs to this mjData, not to the one that was saved
  const uintptr_t threadpool = d->threadpool;
  std::memcpy(static_cast<void*>(d), header.data(), kDataHeader);
  d->threadpool = threadpool;
  std::memcpy(d->buffer, buffer.data(), buffer.size());
  std::memcpy(d->arena, arena.data(), arena.size());
  if (!SetArenaPointers(d, offsets)) {
    mj_resetData(model_, d);
    throw std::runtime_error(from_another_model);
  }
  rng_.Load(rng);
  episode_seed_ = seed;
  episode_step_ = step;
  episode_live_ = live;
  if (!history.empty()) std::memcpy(history_.data(), history.data(), history.size());
  LoadTaskState(task_state);
}

void MujocoEnv::ComputeDerived() {
  if (needs_contact_forces_) mj_rnePostConstraint(model_, data_.get());
}

void MujocoEnv::KeepObserved(const std::vector<std::string>& keep) {
  if (!spec_.controller_json.empty()) {
    throw UserError("env.observe: task '" + spec_.id +
                    "' picks its observation terms itself (env.mjcf.observations); list the "
                    "terms you want there");
  }
  // a name keeps the entry of that name; one with '*' in it, each entry it
  // matches as a shell pattern ("*_vel")
  const auto kept_by = [](const std::string& entry, const std::string& name) {
    return entry == name ||
           (name.find('*') != std::string::npos && fnmatch(name.c_str(), entry.c_str(), 0) == 0);
  };
  const std::vector<std::string>& terms = spec_.obs_names;
  for (size_t k = 0; k < keep.size(); ++k) {
    const bool found =
        std::any_of(spec_.obs_names.begin(), spec_.obs_names.end(),
                    [&](const std::string& entry) { return kept_by(entry, keep[k]); });
    if (found) continue;
    std::string message = "env.observe[" + std::to_string(k) + "]: task '" + spec_.id +
                          "' has no observation entry '" + keep[k] + "'";
    const std::string closest = ClosestName(keep[k], terms);
    if (!closest.empty()) message += " (did you mean '" + closest + "'?)";
    message += "; its entries are ";
    for (size_t i = 0; i < terms.size(); ++i) message += (i > 0 ? ", " : "") + terms[i];
    throw UserError(message);
  }
  std::vector<std::string> names;
  std::vector<double> noise;
  for (size_t i = 0; i < spec_.obs_names.size(); ++i) {
    const std::string& entry = spec_.obs_names[i];
    if (std::none_of(keep.begin(), keep.end(),
                     [&](const std::string& name) { return kept_by(entry, name); })) {
      continue;
    }
    observed_.push_back(static_cast<int>(i));
    names.push_back(entry);
    if (!obs_noise_.empty()) noise.push_back(obs_noise_[i]);
  }
  written_.assign(spec_.obs_names.size(), 0.0f);
  spec_.obs_names = std::move(names);
  spec_.obs_dim = static_cast<int>(spec_.obs_names.size());
  obs_noise_ = std::move(noise);
}

void MujocoEnv::Observe(float* obs) {
  // this step's entries, then the privileged ones: into obs, or with a
  // history into the scratch the history takes them from
  float* step = history_.empty() ? obs : step_obs_.data();
  if (observed_.empty()) {
    WriteObservation(*data_, step);
  } else {
    WriteObservation(*data_, written_.data());
    for (size_t k = 0; k < observed_.size(); ++k) step[k] = written_[observed_[k]];
  }
  if (spec_.privileged_dim > 0) {
    float* privileged = step + task_obs_dim_;
    const std::vector<float>& factors = randomizer_->factors();
    privileged = std::copy(factors.begin(), factors.end(), privileged);
    // the observation as it is, before the noise below
    if (privileged != step + task_obs_dim_ + spec_.privileged_dim) {
      std::copy_n(step, task_obs_dim_, privileged);
    }
  }
  for (size_t i = 0; i < obs_noise_.size(); ++i) {
    if (obs_noise_[i] > 0)
      step[i] += static_cast<float>(rng_.Uniform(-obs_noise_[i], obs_noise_[i]));
  }
  if (randomizer_ != nullptr) randomizer_->AddObservationNoise(step, task_obs_dim_, rng_);
  if (history_.empty()) return;
  // the oldest step leaves, this one joins last
  std::copy(history_.begin() + task_obs_dim_, history_.end(), history_.begin());
  std::copy_n(step, task_obs_dim_, history_.end() - task_obs_dim_);
  obs = std::copy(history_.begin(), history_.end(), obs);
  std::copy(step + task_obs_dim_, step + task_obs_dim_ + spec_.privileged_dim, obs);
}

void MujocoEnv::KeepHistory(int steps) {
  const std::vector<std::string>& step_names = spec_.obs_names;
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(steps) * task_obs_dim_ + spec_.privileged_dim);
  for (int k = steps - 1; k >= 1; --k) {
    for (int i = 0; i < task_obs_dim_; ++i) {
      names.push_back(step_names[i] + "[t-" + std::to_string(k) + "]");
    }
  }
  names.insert(names.end(), step_names.begin(), step_names.end());  // the newest, privileged
  spec_.obs_names = std::move(names);
  spec_.obs_dim += (steps - 1) * task_obs_dim_;
  spec_.obs_history = steps;
  history_.assign(static_cast<size_t>(steps) * task_obs_dim_, 0.0f);
  step_obs_.assign(static_cast<size_t>(task_obs_dim_ + spec_.privileged_dim), 0.0f);
}

bool MujocoEnv::Diverged() const {
  // MuJoCo resets the state itself on these, but counts them
  const mjWarningStat* w = data_->warning;
  return w[mjWARN_BADQPOS].number > 0 || w[mjWARN_BADQVEL].number > 0 ||
         w[mjWARN_BADQACC].number > 0;
}

}  // namespace robofleet::envs

#include "learner/checkpoint.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "core/atomic_file.h"
#include "core/config.h"
#include "core/crc32c.h"
#include "core/json.h"
#include "core/state_file.h"

namespace robofleet::learner {
namespace {

// Size and CRC-32C of a whole file; false when it cannot be read.
bool FileChecksum(const std::string& path, uint64_t* bytes, uint32_t* crc) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<char> buffer(1 << 20);
  *bytes = 0;
  *crc = 0;
  while (in) {
    in.read(buffer.data(), buffer.size());
    const std::streamsize n = in.gcount();
    *crc = Crc32c(buffer.data(), static_cast<size_t>(n), *crc);
    *bytes += static_cast<uint64_t>(n);
  }
  return true;
}

std::string ManifestPath(const std::string& checkpoint) {
  return checkpoint.substr(0, checkpoint.size() - 3) + ".json";
}

// Update numbers of the checkpoints with manifests in `dir`, newest first.
std::vector<int64_t> CheckpointUpdates(const std::string& dir) {
  std::vector<int64_t> updates;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("ckpt-", 0) != 0 || entry.path().extension() != ".json") continue;
    try {
      updates.push_back(std::stoll(name.substr(5)));
    } catch (const std::exception&) {
    }
  }
  std::sort(updates.rbegin(), updates.rend());
  return updates;
}

std::string CheckpointPath(const std::string& dir, int64_t update) {
  return dir + "/ckpt-" + std::to_string(update) + ".pt";
}

}  // namespace

std::string SaveCheckpoint(const std::string& dir, ActorCritic& policy,
                           torch::optim::Optimizer& optimizer, const RunningNormalizer& normalizer,
                           const TrainingCounters& counters, int keep, const SaveExtra& extra,
                           const CheckpointOwner& owner) {
  std::filesystem::create_directories(dir);
  // A checkpoint is two files, the archive and its manifest, each replaced
  // atomically but not together. A whole one of this update at these env
  // steps (a stop right after the periodic checkpoint) holds the same
  // training state: it stays, rather than be rewritten with a window in
  // which a kill leaves an archive its manifest does not describe. Any other
  // checkpoint of this update stops counting before its archive is replaced.
  const std::string path = CheckpointPath(dir, counters.updates);
  if (VerifyCheckpoint(path, nullptr) && CheckpointEnvSteps(path) == counters.env_steps) {
    return path;
  }
  std::remove(ManifestPath(path).c_str());
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  policy->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  // LibTorch's optimizer archive keeps no group options, so the (adaptive or
  // scheduled) learning rate is saved beside it
  std::vector<double> learning_rates;
  for (auto& group : optimizer.param_groups()) learning_rates.push_back(group.options().get_lr());
  archive.write("learning_rates", torch::tensor(learning_rates, f64));
  archive.write("normalizer_mean", torch::tensor(at::ArrayRef<double>(normalizer.mean()), f64));
  archive.write("normalizer_var", torch::tensor(at::ArrayRef<double>(normalizer.var()), f64));
  archive.write("normalizer_count", torch::tensor({normalizer.count()}, f64));
  archive.write("counters", torch::tensor({counters.env_steps, counters.updates,
                                           counters.policy_version, counters.dropped_fragments},
                                          torch::kInt64));
  archive.write("wall_s", torch::tensor({counters.wall_s}, f64));
  auto floats = [](const std::vector<float>& v) {
    return torch::tensor(at::ArrayRef<float>(v), torch::kFloat32);
  };
  archive.write("recent_returns", floats(counters.recent_returns));
  archive.write("recent_lengths", floats(counters.recent_lengths));

  archive.write("rng_state", at::detail::getDefaultCPUGenerator().get_state());
  if (extra) {
    torch::serialize::OutputArchive algorithm_archive;
    extra(algorithm_archive);
    archive.write("algorithm", algorithm_archive);
  }

  // the archive, then its manifest: a checkpoint exists once both are durable
  robofleet::WriteAtomically(path, [&archive](const std::string& tmp) { archive.save_to(tmp); });
  uint64_t bytes = 0;
  uint32_t crc = 0;
  if (!FileChecksum(path, &bytes, &crc)) throw std::runtime_error("cannot read back " + path);
  WriteFileAtomically(
      ManifestPath(path),
      "{\"file\": \"" + std::filesystem::path(path).filename().string() +
          "\", \"bytes\": " + std::to_string(bytes) + ", \"crc32c\": " + std::to_string(crc) +
          ", \"env_steps\": " + std::to_string(counters.env_steps) + ", \"updates\": " +
          std::to_string(counters.updates) + ", \"run_id\": " + JsonString(owner.run_id) +
          ", \"shapes\": " + JsonString(owner.shapes) + "}\n");
  WriteFileAtomically(dir + "/latest", std::filesystem::path(path).filename().string() + "\n");

  // keep the newest `keep`
  std::vector<int64_t> updates = CheckpointUpdates(dir);
  for (size_t i = static_cast<size_t>(std::max(keep, 1)); i < updates.size(); ++i) {
    const std::string old = CheckpointPath(dir, updates[i]);
    std::remove(ManifestPath(old).c_str());
    std::remove(old.c_str());
  }
  return path;
}

std::string MakeRunId(const std::string& run_dir) {
  const std::string existing = ReadRunId(run_dir);
  if (!existing.empty()) return existing;
  std::random_device device;
  char id[33];
  for (int i = 0; i < 4; ++i) std::snprintf(id + 8 * i, 9, "%08x", device());
  WriteFileAtomically(run_dir + "/run_id", std::string(id) + "\n");
  return id;
}

std::string ReadRunId(const std::string& run_dir) {
  std::ifstream in(run_dir + "/run_id");
  std::string id;
  in >> id;
  return id;
}

CheckpointOwner ReadCheckpointOwner(const std::string& checkpoint) {
  CheckpointOwner owner;
  try {
    const YAML::Node manifest = YAML::LoadFile(ManifestPath(checkpoint));
    owner.run_id = manifest["run_id"].as<std::string>("");
    owner.shapes = manifest["shapes"].as<std::string>("");
  } catch (const YAML::Exception&) {
  }
  return owner;
}

void CheckCheckpointOwner(const std::string& checkpoint, const CheckpointOwner& expected,
                          const std::string& run_dir) {
  const CheckpointOwner owner = ReadCheckpointOwner(checkpoint);
  if (!owner.run_id.empty() && !expected.run_id.empty() && owner.run_id != expected.run_id) {
    throw UserError(checkpoint + " was written by another run (run id " + owner.run_id + ") than " +
                    run_dir + " (run id " + expected.run_id + "); use a checkpoint of " + run_dir +
                    ", or name the checkpoint's own run");
  }
  if (!owner.shapes.empty() && !expected.shapes.empty() && owner.shapes != expected.shapes) {
    throw UserError(checkpoint + " holds a policy for '" + owner.shapes + "', but " + run_dir +
                    "/config.yaml describes '" + expected.shapes +
                    "'; the run's config no longer matches its checkpoints");
  }
}

bool VerifyCheckpoint(const std::string& path, std::string* problem) {
  auto fail = [&](const std::string& why) {
    if (problem != nullptr) *problem = why;
    return false;
  };
  YAML::Node manifest;
  try {
    manifest = YAML::LoadFile(ManifestPath(path));
  } catch (const YAML::Exception&) {
    return fail("no readable manifest " + ManifestPath(path));
  }
  uint64_t bytes = 0;
  uint32_t crc = 0;
  if (!FileChecksum(path, &bytes, &crc)) return fail("cannot read " + path);
  if (!manifest["bytes"] || manifest["bytes"].as<uint64_t>(0) != bytes) {
    return fail(path + " has " + std::to_string(bytes) + " bytes, its manifest says " +
                manifest["bytes"].as<std::string>("?"));
  }
  if (!manifest["crc32c"] || manifest["crc32c"].as<uint32_t>(0) != crc) {
    return fail(path + " fails its CRC-32C check");
  }
  return true;
}

void LoadCheckpoint(const std::string& path, ActorCritic& policy,
                    torch::optim::Optimizer* optimizer, RunningNormalizer* normalizer,
                    TrainingCounters* counters, const LoadExtra& extra) {
  torch::serialize::InputArchive archive;
  try {
    // into host memory, whatever device saved it
    archive.load_from(path, torch::Device(torch::kCPU));
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    policy->load(model_archive);
    if (optimizer != nullptr) {
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer", optimizer_archive);
      optimizer->load(optimizer_archive);
      torch::Tensor learning_rates;
      if (archive.try_read("learning_rates", learning_rates) &&
          learning_rates.numel() == static_cast<int64_t>(optimizer->param_groups().size())) {
        for (size_t i = 0; i < optimizer->param_groups().size(); ++i) {
          optimizer->param_groups()[i].options().set_lr(
              learning_rates[static_cast<int64_t>(i)].item<double>());
        }
      }
    }
    if (normalizer != nullptr) {
      torch::Tensor mean, var, count;
      archive.read("normalizer_mean", mean);
      archive.read("normalizer_var", var);
      archive.read("normalizer_count", count);
      auto to_vec = [](const torch::Tensor& t) {
        return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
      };
      normalizer->Set(to_vec(mean), to_vec(var), count.item<double>());
    }
    if (counters != nullptr) {
      torch::Tensor c, wall;
      archive.read("counters", c);
      archive.read("wall_s", wall);
      auto v = c.accessor<int64_t, 1>();
      counters->env_steps = v[0];
      counters->updates = v[1];
      counters->policy_version = v[2];
      counters->dropped_fragments = v[3];
      counters->wall_s = wall.item<double>();
      // absent from older checkpoints: the window then starts empty
      torch::Tensor returns, lengths;
      if (archive.try_read("recent_returns", returns) &&
          archive.try_read("recent_lengths", lengths)) {
        auto to_vec = [](const torch::Tensor& t) {
          return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        };
        counters->recent_returns = to_vec(returns);
        counters->recent_lengths = to_vec(lengths);
      }
      // the sampling stream continues where it stopped
      torch::Tensor rng;
      archive.read("rng_state", rng);
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      generator.set_state(rng);
    }
    if (extra) {
      torch::serialize::InputArchive algorithm_archive;
      archive.read("algorithm", algorithm_archive);
      extra(algorithm_archive);
    }
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw UserError(path + ": cannot read checkpoint (" + what.substr(0, what.find('\n')) +
                    "); is it a RoboFleet checkpoint of this policy?");
  }
}

std::string LatestCheckpoint(const std::string& dir,
                             const std::function<bool(int64_t update)>& usable) {
  for (int64_t update : CheckpointUpdates(dir)) {
    if (usable && !usable(update)) continue;
    const std::string path = CheckpointPath(dir, update);
    std::string problem;
    if (VerifyCheckpoint(path, &problem)) return path;
    std::fprintf(stderr, "warning: skipping damaged checkpoint: %s\n", problem.c_str());
  }
  return "";
}

std::function<bool(int64_t update)> ResumableCheckpoints(const std::string& dir,
                                                         bool deterministic) {
  if (!deterministic) return {};
  return
      [dir](int64_t update) { return ReadStateFile(ActorStatePath(dir, 0, update)).has_value(); };
}

int64_t CheckpointEnvSteps(const std::string& path) {
  try {
    const YAML::Node manifest = YAML::LoadFile(ManifestPath(path));
    return manifest["env_steps"] ? manifest["env_steps"].as<int64_t>() : -1;
  } catch (const YAML::Exception&) {
    return -1;
  }
}

}  // namespace robofleet::learner

#include "learner/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/config.h"

namespace robofleet::learner {
namespace {

void FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path + " to fsync");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("fsync failed on " + path);
}

}  // namespace

void CommitFile(const std::string& tmp, const std::string& path) {
  FsyncPath(tmp, false);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
  }
  FsyncPath(std::filesystem::absolute(path).parent_path().string(), true);
}

void WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  CommitFile(tmp, path);
}

std::string SaveCheckpoint(const std::string& dir, ActorCritic& policy,
                           torch::optim::Optimizer& optimizer,
                           const RunningNormalizer& normalizer, const TrainingCounters& counters) {
  std::filesystem::create_directories(dir);
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  policy->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  archive.write("normalizer_mean",
                torch::tensor(at::ArrayRef<double>(normalizer.mean()), f64));
  archive.write("normalizer_var", torch::tensor(at::ArrayRef<double>(normalizer.var()), f64));
  archive.write("normalizer_count", torch::tensor({normalizer.count()}, f64));
  archive.write("counters",
                torch::tensor({counters.env_steps, counters.updates, counters.policy_version,
                               counters.dropped_fragments},
                              torch::kInt64));
  archive.write("wall_s", torch::tensor({counters.wall_s}, f64));

  const std::string name = "ckpt-" + std::to_string(counters.updates) + ".pt";
  const std::string path = dir + "/" + name;
  archive.save_to(path + ".tmp");
  CommitFile(path + ".tmp", path);
  WriteFileAtomically(dir + "/latest", name + "\n");
  return path;
}

void LoadCheckpoint(const std::string& path, ActorCritic& policy,
                    torch::optim::Optimizer* optimizer, RunningNormalizer* normalizer,
                    TrainingCounters* counters) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    policy->load(model_archive);
    if (optimizer != nullptr) {
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer", optimizer_archive);
      optimizer->load(optimizer_archive);
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
    }
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw UserError(path + ": cannot read checkpoint (" + what.substr(0, what.find('\n')) +
                    "); is it a RoboFleet checkpoint of this policy?");
  }
}

std::string LatestCheckpoint(const std::string& dir) {
  std::ifstream in(dir + "/latest");
  std::string name;
  if (!(in >> name)) return "";
  return dir + "/" + name;
}

}  // namespace robofleet::learner

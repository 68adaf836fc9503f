// Raw mj_step speed of Debian's MuJoCo 2.2.2 against the MuJoCo 3 RoboFleet
// builds with, on our models, in one process: each release sits in its own
// module (step_rate.cc compiled against it), loaded with RTLD_LOCAL so that
// each resolves mj_step to its own libmujoco.so. Runs alternate between the
// two releases and the best of three counts for each, so a slow moment of
// the machine does not decide the ratio.
//   bench_mujoco_versions [--seconds S] [--datas N] [MODEL.xml ...]
// (default: 1 s, one mjData, every model in envs/assets; --datas 16 steps 16
// mjData in turn, as a 16-env actor does)
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using VersionFn = int (*)();
using StepRateFn = int (*)(const char*, int, double, unsigned, double*, char*, int);

struct Release {
  std::string name;
  StepRateFn step_rate = nullptr;
};

Release Load(const char* module) {
  void* handle = dlopen(module, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "bench_mujoco_versions: %s\n", dlerror());
    std::exit(1);
  }
  auto version = reinterpret_cast<VersionFn>(dlsym(handle, "RobofleetMujocoVersion"));
  Release release;
  release.step_rate = reinterpret_cast<StepRateFn>(dlsym(handle, "RobofleetStepRate"));
  if (version == nullptr || release.step_rate == nullptr) {
    std::fprintf(stderr, "bench_mujoco_versions: %s lacks its functions\n", module);
    std::exit(1);
  }
  // 222 is 2.2.2; from 3.0 on the number is major * 1000000 + minor * 1000 + patch
  const int v = version();
  release.name = v < 1000 ? std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
                                std::to_string(v % 10)
                          : std::to_string(v / 1000000) + "." + std::to_string(v / 1000 % 1000) +
                                "." + std::to_string(v % 1000);
  return release;
}

double RunOnce(const Release& release, const std::string& model, int datas, double seconds,
               int round) {
  char error[1000] = "";
  double rate = 0.0;
  if (release.step_rate(model.c_str(), datas, seconds, 1234u + round, &rate, error, sizeof error)) {
    std::fprintf(stderr, "bench_mujoco_versions: MuJoCo %s cannot load %s: %s\n",
                 release.name.c_str(), model.c_str(), error);
    std::exit(1);
  }
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  int datas = 1;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
      if (!(seconds > 0.0 && seconds <= 600.0)) {
        std::fprintf(stderr, "bench_mujoco_versions: --seconds takes a number from 0 to 600\n");
        return 2;
      }
    } else if (std::strcmp(argv[i], "--datas") == 0 && i + 1 < argc) {
      datas = std::atoi(argv[++i]);
      if (datas < 1 || datas > 4096) {
        std::fprintf(stderr, "bench_mujoco_versions: --datas takes an integer from 1 to 4096\n");
        return 2;
      }
    } else if (argv[i][0] == '-') {
      std::fprintf(stderr, "bench_mujoco_versions: unknown flag %s; use --seconds S or --datas N\n",
                   argv[i]);
      return 2;
    } else {
      models.emplace_back(argv[i]);
    }
  }
  if (models.empty()) {
    for (const auto& entry : std::filesystem::directory_iterator(ROBOFLEET_ASSETS_DIR)) {
      if (entry.path().extension() == ".xml") models.push_back(entry.path().string());
    }
    std::sort(models.begin(), models.end());
  }
  const Release old_release = Load(ROBOFLEET_MUJOCO2_MODULE);
  const Release new_release = Load(ROBOFLEET_MUJOCO3_MODULE);
  std::printf(
      "raw mj_step per second, one thread, %d mjData, random controls, best of 3 runs of %.1f s\n",
      datas, seconds);
  std::printf("| model | MuJoCo %s | MuJoCo %s | ratio |\n|---|---|---|---|\n",
              old_release.name.c_str(), new_release.name.c_str());
  for (const std::string& model : models) {
    double old_best = 0.0, new_best = 0.0;
    for (int round = 0; round < 3; ++round) {
      old_best = std::max(old_best, RunOnce(old_release, model, datas, seconds, round));
      new_best = std::max(new_best, RunOnce(new_release, model, datas, seconds, round));
    }
    std::printf("| %s | %.0f | %.0f | %.2f |\n",
                std::filesystem::path(model).stem().string().c_str(), old_best, new_best,
                new_best / old_best);
    std::fflush(stdout);
  }
  return 0;
}

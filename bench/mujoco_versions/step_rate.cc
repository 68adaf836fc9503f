// One MuJoCo release's raw stepping speed. This file is compiled twice, once
// against each release's headers and linked to that release's libmujoco.so,
// into two modules that bench/mujoco_versions/main.cc loads side by side.
#include <mujoco/mujoco.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

extern "C" {

// The version this module was built against, 222 or 3017000.
int RobofleetMujocoVersion() { return mj_version(); }

// Steps the model at XML_PATH for about SECONDS with random controls in each
// actuator's range (uniform in [-1, 1] where unlimited), on DATAS mjData in
// turn as a vector env does, resetting each every 1000 steps as an episode
// would, and stores mj_step calls per second. Returns 0, or 1 with the
// reason in ERROR.
int RobofleetStepRate(const char* xml_path, int datas, double seconds, unsigned seed,
                      double* steps_per_s, char* error, int error_size) {
  mjModel* m = mj_loadXML(xml_path, nullptr, error, error_size);
  if (m == nullptr) return 1;
  std::vector<mjData*> all(datas);
  for (mjData*& d : all) d = mj_makeData(m);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  long steps = 0;
  auto now = start;
  while (now < end) {
    for (int k = 0; k < 1000; ++k) {
      for (mjData* d : all) {
        for (int i = 0; i < m->nu; ++i) {
          const bool limited = m->actuator_ctrllimited[i] != 0;
          const double lo = limited ? m->actuator_ctrlrange[2 * i] : -1.0;
          const double hi = limited ? m->actuator_ctrlrange[2 * i + 1] : 1.0;
          d->ctrl[i] = lo + (hi - lo) * unit(rng);
        }
        mj_step(m, d);
      }
    }
    steps += 1000L * datas;
    for (mjData* d : all) mj_resetData(m, d);
    now = std::chrono::steady_clock::now();
  }
  *steps_per_s = static_cast<double>(steps) / std::chrono::duration<double>(now - start).count();
  for (mjData* d : all) mj_deleteData(d);
  mj_deleteModel(m);
  return 0;
}

}  // extern "C"

#include "envs/terrain.h"

#include <algorithm>
#include <cmath>

#include "core/seeds.h"

namespace robofleet::envs {
namespace {

constexpr double kPlateauHalfM = 0.5;  // half side of the slopes' and stairs' plateau
constexpr double kStairWidthM = 0.3;
constexpr double kLatticeM = 0.25;  // spacing of the bumps' random heights

// Uniform in [0, 1) from 53 bits.
double Unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace

Terrain::Terrain(const MjcfTerrainConfig& config, const mjModel* m, const std::string& model_path)
    : config_(config) {
  hfield_ = mj_name2id(m, mjOBJ_HFIELD, config.hfield.c_str());
  if (hfield_ < 0) {
    throw UserError("env.mjcf.terrain.hfield: no <hfield> '" + config.hfield + "' in " +
                    model_path + "; add one, e.g. <hfield name=\"terrain\" nrow=\"641\" " +
                    "ncol=\"641\" size=\"16 16 1 0.1\"/>, and a geom of type hfield using it");
  }
  bool placed = false;
  for (int g = 0; g < m->ngeom && !placed; ++g) {
    if (m->geom_type[g] != mjGEOM_HFIELD || m->geom_dataid[g] != hfield_) continue;
    const mjtNum* pos = m->geom_pos + 3 * g;
    const mjtNum* quat = m->geom_quat + 4 * g;
    placed = m->geom_bodyid[g] == 0 && pos[0] == 0 && pos[1] == 0 && pos[2] == 0 && quat[0] == 1 &&
             quat[1] == 0 && quat[2] == 0 && quat[3] == 0;
  }
  if (!placed) {
    throw UserError("env.mjcf.terrain.hfield: no geom of " + model_path + " uses height field '" +
                    config.hfield + "' at the world origin, unrotated; add <geom type=\"hfield\" " +
                    "hfield=\"" + config.hfield + "\"/> to the worldbody");
  }
  const mjtNum* size = m->hfield_size + 4 * hfield_;
  half_x_ = size[0];
  half_y_ = size[1];
  top_ = size[2];
  columns_ = static_cast<int>(std::floor(2 * half_y_ / config.tile_m + 1e-9));
  if (config.levels * config.tile_m > 2 * half_x_ + 1e-9 || columns_ < 1) {
    throw UserError("env.mjcf.terrain: " + std::to_string(config.levels) + " levels of " +
                    std::to_string(config.tile_m) + " m tiles do not fit in height field '" +
                    config.hfield + "' of " + model_path + ", which is " +
                    std::to_string(2 * half_x_) + " x " + std::to_string(2 * half_y_) +
                    " m; use fewer levels or smaller tiles");
  }
}

void Terrain::TileCentre(int level, int column, double xy[2]) const {
  xy[0] = -0.5 * config_.levels * config_.tile_m + (level + 0.5) * config_.tile_m;
  xy[1] = -0.5 * columns_ * config_.tile_m + (column + 0.5) * config_.tile_m;
}

double Terrain::TileHeight(int level, int column, double u, double v) const {
  const double d = config_.levels > 1 ? static_cast<double>(level) / (config_.levels - 1) : 1.0;
  const std::string& type = config_.types[column % config_.types.size()];
  const double half = 0.5 * config_.tile_m;
  // metres from the edge towards the plateau, for the pyramids
  const double climb = half - std::max({std::fabs(u), std::fabs(v), kPlateauHalfM});
  if (type == "slope") return d * config_.max_slope * std::max(climb, 0.0);
  if (type == "stairs") {
    return d * config_.max_step_m * std::floor(std::max(climb, 0.0) / kStairWidthM);
  }
  if (type == "rough") {
    // bilinear between the lattice's random heights
    const uint64_t tile = DeriveSeed(DeriveSeed(static_cast<uint64_t>(config_.seed), level),
                                     static_cast<uint64_t>(column));
    const auto lattice = [&](int64_t i, int64_t j) {
      return Unit(DeriveSeed(DeriveSeed(tile, static_cast<uint64_t>(i)), static_cast<uint64_t>(j)));
    };
    const double x = (u + half) / kLatticeM, y = (v + half) / kLatticeM;
    const int64_t i = static_cast<int64_t>(std::floor(x)), j = static_cast<int64_t>(std::floor(y));
    const double fx = x - i, fy = y - j;
    const double h = (1 - fx) * (1 - fy) * lattice(i, j) + fx * (1 - fy) * lattice(i + 1, j) +
                     (1 - fx) * fy * lattice(i, j + 1) + fx * fy * lattice(i + 1, j + 1);
    return d * config_.max_bump_m * h;
  }
  return 0.0;  // flat
}

void Terrain::Fill(mjModel* m) const {
  const int nrow = m->hfield_nrow[hfield_], ncol = m->hfield_ncol[hfield_];
  float* data = m->hfield_data + m->hfield_adr[hfield_];
  const double width_x = config_.levels * config_.tile_m, width_y = columns_ * config_.tile_m;
  for (int r = 0; r < nrow; ++r) {
    // row r lies at y, column c at x (MuJoCo's layout), from -half to +half
    const double y = -half_y_ + 2 * half_y_ * r / std::max(nrow - 1, 1);
    for (int c = 0; c < ncol; ++c) {
      const double x = -half_x_ + 2 * half_x_ * c / std::max(ncol - 1, 1);
      double h = 0.0;
      const double gx = x + 0.5 * width_x, gy = y + 0.5 * width_y;  // from the grid's corner
      if (gx >= 0 && gx < width_x && gy >= 0 && gy < width_y) {
        const int level = static_cast<int>(gx / config_.tile_m);
        const int column = static_cast<int>(gy / config_.tile_m);
        double centre[2];
        TileCentre(level, column, centre);
        h = TileHeight(level, column, x - centre[0], y - centre[1]);
      }
      data[r * ncol + c] = static_cast<float>(std::clamp(h / top_, 0.0, 1.0));
    }
  }
}

double Terrain::GroundHeight(const mjModel* m, double x, double y, double radius) const {
  const int nrow = m->hfield_nrow[hfield_], ncol = m->hfield_ncol[hfield_];
  const float* data = m->hfield_data + m->hfield_adr[hfield_];
  const auto index = [](double at, double half, int n) {
    return static_cast<int>(std::lround((at + half) / (2 * half) * (n - 1)));
  };
  const int c0 = std::max(index(x - radius, half_x_, ncol), 0);
  const int c1 = std::min(index(x + radius, half_x_, ncol), ncol - 1);
  const int r0 = std::max(index(y - radius, half_y_, nrow), 0);
  const int r1 = std::min(index(y + radius, half_y_, nrow), nrow - 1);
  double highest = 0.0;
  for (int r = r0; r <= r1; ++r) {
    for (int c = c0; c <= c1; ++c) highest = std::max(highest, top_ * data[r * ncol + c]);
  }
  return highest;
}

}  // namespace robofleet::envs

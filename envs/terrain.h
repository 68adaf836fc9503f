// Terrain of the mjcf task (env.mjcf.terrain): a model's height field filled
// with a grid of square tiles, in the manner of legged_gym's terrain
// curriculum.
//
// The grid is centred on the world origin: `levels` rows of tiles along
// world x, difficulty d = level / (levels - 1) rising with x, and as many
// columns along y as fit in the height field, their types cycling through
// `types`. At difficulty d a tile is
//   flat    level ground;
//   rough   bumps up to d * max_bump_m high: heights drawn on a 0.25 m
//           lattice (from the seed, the tile and the lattice point alone)
//           and interpolated bilinearly;
//   slope   a pyramid rising at d * max_slope per metre from the tile's edge
//           to a 1 m square plateau in its middle;
//   stairs  a pyramid of 0.3 m wide steps, d * max_step_m high each, up to the
//           same plateau.
// Every tile is at height 0 along its edges (rough ones up to their bumps),
// so neighbours meet. Episodes start in the middle of a tile.
//
// Thread-safety: const methods may be called from any thread.
#ifndef ROBOFLEET_ENVS_TERRAIN_H_
#define ROBOFLEET_ENVS_TERRAIN_H_

#include <mujoco/mujoco.h>

#include <string>

#include "core/config.h"

namespace robofleet::envs {

class Terrain {
 public:
  // Resolves `config` against `m`. Throws UserError, naming the key, when the
  // model has no such height field, when no geom uses it at the world origin
  // unrotated, or when the grid does not fit in it.
  Terrain(const MjcfTerrainConfig& config, const mjModel* m, const std::string& model_path);

  // Writes the height field's elevation data (the whole grid).
  void Fill(mjModel* m) const;

  int levels() const { return config_.levels; }
  int columns() const { return columns_; }
  double tile_m() const { return config_.tile_m; }

  // World x and y of the middle of tile (level, column).
  void TileCentre(int level, int column, double xy[2]) const;

  // The highest ground of `m`'s height field within `radius` metres (a
  // square) of world (x, y); 0 outside the field.
  double GroundHeight(const mjModel* m, double x, double y, double radius) const;

  // Ground height in metres of the tile (level, column) at (u, v) metres from
  // its middle (|u|, |v| <= tile_m / 2).
  double TileHeight(int level, int column, double u, double v) const;

 private:
  MjcfTerrainConfig config_;
  int hfield_ = -1;
  int columns_ = 0;
  double half_x_ = 0.0, half_y_ = 0.0;  // the height field's half extents
  double top_ = 1.0;                    // metres of elevation 1
};

}  // namespace robofleet::envs

#endif  // ROBOFLEET_ENVS_TERRAIN_H_

// Terrain of the mjcf task (env.mjcf.terrain): the tiles' shapes, the height
// field MuJoCo collides with, where episodes start, and the curriculum that
// moves each env's level.
#include "envs/terrain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/mjcf_env.h"
#include "envs/mujoco_env.h"
#include "envs/vector_env.h"
#include "tests/envs/env_test_util.h"

namespace robofleet::envs {
namespace {

using test::WarningFreeTest;

EnvConfig Rough() {
  EnvConfig config;
  config.id = "mjcf";
  config.frame_skip = 5;
  config.mjcf.path = AssetPath("quadruped_rough.xml");
  config.mjcf.body = "trunk";
  config.mjcf.keyframe = "home";
  config.mjcf.forward_weight = 0.0;
  config.mjcf.action.mode = "position";
  config.mjcf.action.scale = 0.25;
  config.mjcf.terrain.hfield = "terrain";
  return config;
}

using TerrainTest = WarningFreeTest;

TEST_F(TerrainTest, TilesHaveTheirShapesAndLevelZeroIsFlat) {
  MjcfTerrainConfig config;
  config.hfield = "terrain";
  config.types = {"flat", "rough", "slope", "stairs"};
  const std::shared_ptr<const mjModel> model = LoadModel(AssetPath("quadruped_rough.xml"));
  const Terrain terrain(config, model.get(), "quadruped_rough.xml");
  EXPECT_EQ(terrain.levels(), 8);
  EXPECT_EQ(terrain.columns(), 8);  // 32 m of 4 m tiles
  const int top = 7;
  for (int column = 0; column < 4; ++column) {
    EXPECT_EQ(terrain.TileHeight(0, column, 0.3, -1.1), 0.0) << column;
    if (column != 1) {
      EXPECT_EQ(terrain.TileHeight(top, column, 2.0, 0.7), 0.0) << column;
    }
  }
  // slope: 0.4 m per metre from the edge (2 m out) to the plateau (0.5 m out)
  EXPECT_NEAR(terrain.TileHeight(top, 2, 0.0, 0.2), 0.4 * 1.5, 1e-12);
  EXPECT_NEAR(terrain.TileHeight(top, 2, 1.0, -0.3), 0.4 * 1.0, 1e-12);
  EXPECT_NEAR(terrain.TileHeight(3, 2, 0.0, 0.0), 3.0 / 7 * 0.4 * 1.5, 1e-12);
  // stairs: 0.3 m wide steps of 0.12 m, 5 of them up to the plateau
  EXPECT_NEAR(terrain.TileHeight(top, 3, 0.0, 0.0), 5 * 0.12, 1e-12);
  EXPECT_NEAR(terrain.TileHeight(top, 3, 1.65, 0.0), 1 * 0.12, 1e-12);
  EXPECT_NEAR(terrain.TileHeight(top, 3, 1.75, 0.0), 0.0, 1e-12);
  // rough: bumps between 0 and 8 cm that vary, and are the same for the same seed
  double low = 1, high = 0;
  for (double u = -1.9; u < 1.9; u += 0.07) {
    const double h = terrain.TileHeight(top, 1, u, 0.4 * u);
    low = std::min(low, h);
    high = std::max(high, h);
  }
  EXPECT_GE(low, 0.0);
  EXPECT_LE(high, 0.08);
  EXPECT_GT(high - low, 0.03);
  config.seed = 1;
  EXPECT_NE(Terrain(config, model.get(), "x").TileHeight(top, 1, 0.3, 0.3),
            terrain.TileHeight(top, 1, 0.3, 0.3));
}

TEST_F(TerrainTest, TheHeightFieldHoldsTheTilesAndEpisodesStartOnTheirLevel) {
  EnvConfig config = Rough();
  config.mjcf.terrain.types = {"stairs"};
  config.mjcf.terrain.start_level = 5;
  MjcfEnv env(config);
  ASSERT_EQ(env.spec().episode_info_names.back(), "terrain/level");
  const mjModel* m = env.model();
  const int hfield = mj_name2id(m, mjOBJ_HFIELD, "terrain");
  const Terrain terrain(config.mjcf.terrain, m, "quadruped_rough.xml");
  // the plateau of level 5, column 2 (any column: all stairs), in the field's data
  double centre[2];
  terrain.TileCentre(5, 2, centre);
  EXPECT_NEAR(terrain.GroundHeight(m, centre[0], centre[1], 0.0),
              terrain.TileHeight(5, 2, 0.0, 0.0), 1e-6);
  EXPECT_NEAR(terrain.TileHeight(5, 2, 0.0, 0.0), 5.0 / 7 * 0.12 * 5, 1e-12);
  EXPECT_GT(m->hfield_data[m->hfield_adr[hfield] + 320 * 641 + 320], -1.0f);

  std::vector<float> obs(env.spec().obs_dim), action(12, 0.0f);
  const int home = mj_name2id(m, mjOBJ_KEY, "home");
  for (uint64_t seed : {1, 2, 3}) {
    env.Reset(seed, obs.data());
    const double* root = env.data()->qpos;
    // level 5's row of tiles, 0.25 m around some tile's middle, on the plateau
    terrain.TileCentre(5, 0, centre);
    EXPECT_NEAR(root[0], centre[0], 0.25 + 1e-9);
    const double column = (root[1] + 16.0) / 4.0;
    EXPECT_NEAR(column - std::floor(column), 0.5, 0.25 / 4 + 1e-9) << root[1];
    EXPECT_NEAR(root[2], m->key_qpos[home * m->nq + 2] + 5.0 / 7 * 0.6, 1e-6);  // float data
    // it stands there
    StepResult r;
    for (int step = 0; step < 50 && !r.terminated; ++step) r = env.Step(action.data(), obs.data());
    EXPECT_FALSE(r.terminated);
    EXPECT_GT(env.data()->qpos[2], 0.2 + 5.0 / 7 * 0.6);
  }
}

TEST_F(TerrainTest, LevelsRiseForRobotsThatGoFarAndFallForThoseThatDoNot) {
  // still, while commanded to walk: down a level per episode, to 0
  EnvConfig config = Rough();
  config.max_episode_steps = 20;
  config.mjcf.terrain.start_level = 2;
  config.mjcf.commands.lin_vel_x = {1.0, 1.0};
  VectorEnv still(config, 1, 5);
  // pushed hard every step with 1 m tiles: more than half a tile away, up a level
  config.mjcf.terrain.tile_m = 1.0;
  config.mjcf.terrain.levels = 20;
  config.mjcf.terrain.start_level = 0;
  config.mjcf.push.interval_s = 0.02;
  config.mjcf.push.max_vel = 3.0;
  VectorEnv pushed(config, 1, 5);
  const auto levels = [](VectorEnv& venv, int episodes) {
    std::vector<float> obs(venv.spec().obs_dim), action(12, 0.0f), info;
    float reward;
    uint8_t term, trunc;
    venv.Reset(obs.data());
    std::vector<float> seen;
    while (static_cast<int>(seen.size()) < episodes) {
      venv.Step(action.data(), obs.data(), &reward, &term, &trunc, nullptr);
      info.clear();
      venv.TakeFinishedEpisodes(&info);
      if (!info.empty()) seen.push_back(info.back());
    }
    return seen;
  };
  EXPECT_EQ(levels(still, 4), (std::vector<float>{2, 1, 0, 0}));
  const std::vector<float> rising = levels(pushed, 4);
  EXPECT_EQ(rising.front(), 0.0f);
  EXPECT_GT(rising.back(), rising.front()) << rising[1] << " " << rising[2];
}

TEST_F(TerrainTest, RestoredEnvKeepsItsLevelAndTile) {
  EnvConfig config = Rough();
  config.max_episode_steps = 15;
  config.mjcf.terrain.start_level = 4;
  config.mjcf.commands.lin_vel_x = {0.5, 1.0};
  config.mjcf.rewards.track_lin_vel.weight = 1.0;
  const test::VectorRun after = test::ExpectRestoresBitForBit(config, 2, 20, 40);
  EXPECT_FALSE(after.info.empty());
}

TEST_F(TerrainTest, AFieldThatCannotHoldTheGridIsRefused) {
  EnvConfig config = Rough();
  config.mjcf.terrain.hfield = "terain";
  EXPECT_NE(test::MjcfErrorOf(config).find("env.mjcf.terrain.hfield: no <hfield> 'terain'"),
            std::string::npos)
      << test::MjcfErrorOf(config);
  config = Rough();
  config.mjcf.terrain.levels = 9;
  EXPECT_NE(test::MjcfErrorOf(config).find("9 levels of 4.000000 m tiles do not fit"),
            std::string::npos)
      << test::MjcfErrorOf(config);
  config = Rough();
  config.mjcf.path = AssetPath("quadruped.xml");
  EXPECT_NE(test::MjcfErrorOf(config).find("no <hfield> 'terrain'"), std::string::npos);
}

}  // namespace
}  // namespace robofleet::envs

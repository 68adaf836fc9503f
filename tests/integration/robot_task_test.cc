// A robot task end to end: a short run of experiments/quadruped_joystick_flat.yaml
// through real actors and a learner, whose reward terms reach metrics.csv
// and TensorBoard as columns of their own.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  return cells;
}

class RobotTaskTest : public ::testing::Test {
 protected:
  // one short run shared by the tests here: 20-step episodes, so that many end
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("robot"));
    Child train({ROBOFLEET_BINARY, "train",
                 std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/quadruped_joystick_flat.yaml",
                 "--run-dir", Run(), "--set", "env.max_episode_steps=20", "--set", "actors.count=1",
                 "--set", "actors.envs_per_actor=8", "--set", "actors.rollout_length=16", "--set",
                 "learner.batch_size=256", "--set", "policy.hidden=[16, 16]", "--set",
                 "train.total_env_steps=2048", "--set",
                 // targets that reach past the ctrlranges, which then clip them
                 "env.mjcf.action.scale=1.0", "--set",
                 // noiseless terms, so that a controller can rebuild the observation exactly
                 "env.mjcf.observations=[{sensor: imu_gyro, scale: 0.25}, {gravity: imu}, "
                 "{command: true}, {joint_pos: true}, {joint_vel: true, scale: 0.05}, "
                 "{last_action: true}]"},
                *dir_ + "/train");
    ASSERT_TRUE(train.Wait(120)) << train.err();
    ASSERT_EQ(train.exit_code(), 0) << train.err();
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Run() { return *dir_ + "/run"; }
  static std::string* dir_;
};
std::string* RobotTaskTest::dir_ = nullptr;

TEST_F(RobotTaskTest, EachRewardTermIsAMetricAndTheySumToTheReturn) {
  std::ifstream in(Run() + "/metrics.csv");
  std::string header, line, last;
  ASSERT_TRUE(std::getline(in, header));
  while (std::getline(in, line)) last = line;
  const std::vector<std::string> columns = SplitCsv(header), values = SplitCsv(last);
  ASSERT_EQ(columns.size(), values.size()) << last;
  double sum = 0.0, magnitude = 0.0, episode_return = std::nan("");
  int terms = 0;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == "episode_return_mean") episode_return = std::stod(values[i]);
    if (columns[i].rfind("reward/", 0) != 0) continue;
    ++terms;
    const double value = std::stod(values[i]);
    EXPECT_TRUE(std::isfinite(value)) << columns[i] << " = " << values[i];
    sum += value;
    magnitude += std::abs(value);
  }
  EXPECT_EQ(terms, 13) << header;  // the experiment weighs every term but base_height
  for (const char* name : {"reward/track_lin_vel", "reward/feet_air_time", "reward/termination"}) {
    EXPECT_NE(header.find(name), std::string::npos) << header;
  }
  // both are means over the same last 100 episodes, written with 6 digits
  EXPECT_NEAR(sum, episode_return, 1e-4 * magnitude + 1e-3);
  EXPECT_GT(magnitude, 0.0);
}

TEST_F(RobotTaskTest, TensorBoardHasTheRewardTermsToo) {
  const std::string python = ROBOFLEET_TEST_PYTHON;
  ASSERT_TRUE(fs::exists(python)) << python
                                  << " is missing: run scripts/setup.sh, which makes "
                                     "it and installs TensorBoard's reader into it";
  Child check(
      {python, std::string(ROBOFLEET_SOURCE_DIR) + "/tests/integration/check_tensorboard.py",
       Run()},
      *dir_ + "/tensorboard");
  ASSERT_TRUE(check.Wait(120));
  EXPECT_EQ(check.exit_code(), 0) << check.out() << check.err();
  EXPECT_NE(check.out().find("0 problems"), std::string::npos) << check.out();
}

TEST_F(RobotTaskTest, EvalReportsTrackingErrorsAndFallsInTextAndJson) {
  Child json({ROBOFLEET_BINARY, "eval", Run() + "/policy.pt", "--episodes", "3", "--json"},
             *dir_ + "/eval_json");
  ASSERT_TRUE(json.Wait(60));
  ASSERT_EQ(json.exit_code(), 0) << json.err();
  const double lin = JsonNumber(json.out(), "lin_vel_rms_error");
  const double yaw = JsonNumber(json.out(), "yaw_rate_rms_error");
  const double falls = JsonNumber(json.out(), "fall_rate");
  // an untrained policy barely moves: its error is about the commands' own
  // RMS, sqrt(1/3 + 0.36/3) = 0.67 m/s and sqrt(1/3) = 0.58 rad/s
  EXPECT_GT(lin, 0.2) << json.out();
  EXPECT_LT(lin, 1.5) << json.out();
  EXPECT_GT(yaw, 0.2) << json.out();
  EXPECT_LT(yaw, 1.5) << json.out();
  EXPECT_GE(falls, 0.0);
  EXPECT_LE(falls, 1.0);
  // the baseline beside them: the commands' own RMS over the same steps
  const double still_lin = JsonNumber(json.out(), "still_lin_vel_rms_error");
  const double still_yaw = JsonNumber(json.out(), "still_yaw_rate_rms_error");
  EXPECT_GT(still_lin, 0.2) << json.out();
  EXPECT_LT(still_lin, 1.2) << json.out();
  EXPECT_GT(still_yaw, 0.2) << json.out();
  EXPECT_LT(still_yaw, 1.0) << json.out();

  Child text({ROBOFLEET_BINARY, "eval", Run() + "/policy.pt", "--episodes", "3"},
             *dir_ + "/eval_text");
  ASSERT_TRUE(text.Wait(60));
  EXPECT_NE(text.out().find("falls "), std::string::npos) << text.out();
  EXPECT_NE(text.out().find("RMS error"), std::string::npos) << text.out();
  EXPECT_NE(text.out().find("(standing still: "), std::string::npos) << text.out();
}

TEST_F(RobotTaskTest, EvalVideoShowsTheCommandBesideTheVelocity) {
  ASSERT_TRUE(fs::exists("/usr/bin/ffmpeg")) << "install ffmpeg (scripts/setup.sh does)";
  const std::string video = *dir_ + "/eval.mp4", frame = *dir_ + "/frame.ppm";
  Child eval({ROBOFLEET_BINARY, "eval", Run() + "/policy.pt", "--episodes", "1", "--video", video,
              "--width", "320", "--height", "240"},
             *dir_ + "/eval_video");
  ASSERT_TRUE(eval.Wait(120));
  ASSERT_EQ(eval.exit_code(), 0) << eval.err();
  EXPECT_NE(eval.out().find("video: 21 frames"), std::string::npos) << eval.out();
  // the first frame's top left corner holds the overlay's light text on the
  // dark box MuJoCo draws under it: many pixels near white
  Child extract({"/usr/bin/ffmpeg", "-v", "error", "-y", "-i", video, "-frames:v", "1", "-vf",
                 "crop=160:40:0:0", "-f", "image2", "-c:v", "ppm", frame},
                *dir_ + "/extract");
  ASSERT_TRUE(extract.Wait(60));
  ASSERT_EQ(extract.exit_code(), 0) << extract.err();
  const std::string ppm = Child::Slurp(frame);
  ASSERT_GT(ppm.size(), 160u * 40 * 3);
  const std::string pixels = ppm.substr(ppm.size() - 160 * 40 * 3);
  int bright = 0;
  for (size_t i = 0; i + 2 < pixels.size(); i += 3) {
    bright += static_cast<unsigned char>(pixels[i]) > 200 &&
              static_cast<unsigned char>(pixels[i + 1]) > 200 &&
              static_cast<unsigned char>(pixels[i + 2]) > 200;
  }
  EXPECT_GT(bright, 50) << "no text in the corner";
}

TEST_F(RobotTaskTest, CppControllerRebuildsObservationsActionsAndTargetsBitForBit) {
  const std::string recording = *dir_ + "/recording.txt";
  Child record(
      {ROBOFLEET_BINARY, "eval", Run() + "/policy.pt", "--episodes", "2", "--record", recording},
      *dir_ + "/record");
  ASSERT_TRUE(record.Wait(60));
  ASSERT_EQ(record.exit_code(), 0) << record.err();
  // the metadata says how: terms, scales, default pose, action scale, period
  Child unzip({"/usr/bin/python3", "-c",
               "import sys, zipfile\n"
               "z = zipfile.ZipFile(sys.argv[1])\n"
               "name = [n for n in z.namelist() if n.endswith('extra/metadata.json')][0]\n"
               "print(z.read(name).decode())\n",
               Run() + "/policy.pt"},
              *dir_ + "/unzip");
  ASSERT_TRUE(unzip.Wait(30));
  const std::string metadata = unzip.out();
  for (const char* key : {"\"controller\"", "\"control_dt\": 0.02", "\"default_pose\"",
                          "\"kind\": \"gravity\"", "\"ctrl_scale\": [1,"}) {
    EXPECT_NE(metadata.find(key), std::string::npos) << key << " not in " << metadata;
  }

  const std::string build = *dir_ + "/deploy_cpp";
  Child configure({"/usr/bin/cmake", "-S",
                   std::string(ROBOFLEET_SOURCE_DIR) + "/examples/deploy_cpp", "-B", build},
                  *dir_ + "/configure");
  ASSERT_TRUE(configure.Wait(120));
  ASSERT_EQ(configure.exit_code(), 0) << configure.err();
  Child make({"/usr/bin/cmake", "--build", build}, *dir_ + "/make");
  ASSERT_TRUE(make.Wait(300));
  ASSERT_EQ(make.exit_code(), 0) << make.out() << make.err();

  Child replay({build + "/deploy_policy", Run() + "/policy.pt", "--replay", recording},
               *dir_ + "/replay");
  ASSERT_TRUE(replay.Wait(60));
  EXPECT_EQ(replay.exit_code(), 0) << replay.out() << replay.err();
  EXPECT_NE(replay.out().find("replayed 40 steps of 2 episodes: 0 observation entries, 0 "
                              "actions, 0 targets differ from training's; to_actuators: 0 "
                              "targets differ"),
            std::string::npos)
      << replay.out();

  // the loop runs at the task's control period: 50 Hz
  Child loop({build + "/deploy_policy", Run() + "/policy.pt", "--steps", "10"}, *dir_ + "/loop");
  ASSERT_TRUE(loop.Wait(60));
  EXPECT_EQ(loop.exit_code(), 0) << loop.err();
  EXPECT_NE(loop.out().find("10 steps at 50 Hz"), std::string::npos) << loop.out();

  // a damaged recording is found out
  std::string text = Child::Slurp(recording);
  const size_t obs = text.find("\nobs ");
  ASSERT_NE(obs, std::string::npos);
  text.insert(obs + 6, "0x1p+0 ");  // an extra entry shifts the observation
  std::ofstream(recording) << text;
  Child damaged({build + "/deploy_policy", Run() + "/policy.pt", "--replay", recording},
                *dir_ + "/damaged");
  ASSERT_TRUE(damaged.Wait(60));
  EXPECT_NE(damaged.exit_code(), 0) << damaged.out();
}

}  // namespace
}  // namespace robofleet::testing

// The robot keys of the generic mjcf task (env.mjcf.keyframe, .action,
// .observations): how they read, write back, and fail with FILE:LINE.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "tests/temp_folder.h"

namespace robofleet {
namespace {

class RobotConfigTest : public ::testing::Test {
 protected:
  // Writes `text` to NAME in the test's folder and returns its path.
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = folder_ / name;
    std::ofstream(path) << text;
    return path;
  }

  // The one-line message LoadExperiment throws for `path` with `overrides`.
  std::string ErrorOf(const std::string& path, const std::vector<std::string>& overrides = {}) {
    try {
      LoadExperiment(path, overrides);
    } catch (const UserError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      return what;
    }
    ADD_FAILURE() << path << " loaded without an error";
    return "";
  }

  testing::TempFolder folder_{"rf-robot-config"};
};

#define EXPECT_HAS(text, fragment) \
  EXPECT_NE((text).find(fragment), std::string::npos) << "in: " << (text)

constexpr const char* kRobot = R"(env:
  id: mjcf
  mjcf:
    path: quadruped.xml
    keyframe: home
    action: {mode: position, scale: 0.25}
    observations:
      - {sensor: imu_gyro, scale: 0.25, noise: 0.2}
      - {gravity: imu}
      - joint_pos: true
        noise: 0.01
      - {joint_vel: true, scale: 0.05}
      - {last_action: true}
)";

TEST_F(RobotConfigTest, TermsActionAndKeyframeReadInOrderAndWriteBack) {
  const ExperimentConfig c = LoadExperiment(Write("robot.yaml", kRobot));
  const MjcfTaskConfig& m = c.env.mjcf;
  EXPECT_EQ(m.keyframe, "home");
  EXPECT_EQ(m.action.mode, "position");
  EXPECT_DOUBLE_EQ(m.action.scale, 0.25);
  ASSERT_EQ(m.observations.size(), 5u);
  EXPECT_EQ(m.observations[0], (ObservationTerm{"sensor", "imu_gyro", 0.25, 0.2}));
  EXPECT_EQ(m.observations[1], (ObservationTerm{"gravity", "imu", 1.0, 0.0}));
  EXPECT_EQ(m.observations[2], (ObservationTerm{"joint_pos", "", 1.0, 0.01}));
  EXPECT_EQ(m.observations[3], (ObservationTerm{"joint_vel", "", 0.05, 0.0}));
  EXPECT_EQ(m.observations[4], (ObservationTerm{"last_action", "", 1.0, 0.0}));

  // the dump reads back as the same config, and dumps the same again
  const std::string yaml = ToYaml(c);
  EXPECT_HAS(yaml, "{sensor: \"imu_gyro\", scale: 0.25, noise: 0.2}");
  EXPECT_HAS(yaml, "{joint_pos: true, scale: 1.0, noise: 0.01}");
  const ExperimentConfig back = ParseExperiment(yaml, folder_ / "dump.yaml");
  EXPECT_EQ(back.env.mjcf.observations, m.observations);
  EXPECT_EQ(back.env.mjcf.action.mode, "position");
  EXPECT_EQ(ToYaml(back), yaml);

  // the default is the old layout and the torque mapping, with no keyframe
  const ExperimentConfig plain;
  EXPECT_TRUE(plain.env.mjcf.observations.empty());
  EXPECT_EQ(plain.env.mjcf.action.mode, "torque");
  EXPECT_EQ(plain.env.mjcf.keyframe, "");
  EXPECT_EQ(ParseExperiment(ToYaml(plain), "plain.yaml").env.mjcf.observations.size(), 0u);
}

TEST_F(RobotConfigTest, BadTermsNameTheFileLineAndKey) {
  const auto error_of = [this](const std::string& terms) {
    return ErrorOf(Write("bad.yaml", "env:\n  mjcf:\n    observations:\n" + terms));
  };
  const std::string path = folder_ / "bad.yaml";

  // an unknown kind, with the closest one
  std::string err = error_of("      - {gravity: imu}\n      - {sensr: imu_gyro}\n");
  EXPECT_HAS(err, path + ":5: key 'env.mjcf.observations[1]' has an unknown key 'sensr'");
  EXPECT_HAS(err, "did you mean 'sensor'?");
  // no kind, and two kinds
  err = error_of("      - {scale: 2}\n");
  EXPECT_HAS(err, path + ":4: key 'env.mjcf.observations[0]' names no kind");
  err = error_of("      - {joint_pos: true, joint_vel: true}\n");
  EXPECT_HAS(err, "names two kinds, joint_pos and joint_vel");
  // scale and noise must be numbers; a name must be given; flags must be true
  err = error_of("      - {joint_pos: true}\n      - joint_vel: true\n        scale: fast\n");
  EXPECT_HAS(err, path + ":6: key 'env.mjcf.observations[1].scale' must be a finite number");
  err = error_of("      - {sensor: imu_gyro, noise: [1]}\n");
  EXPECT_HAS(err, "key 'env.mjcf.observations[0].noise' must be a finite number");
  err = error_of("      - {sensor: \"\"}\n");
  EXPECT_HAS(err, "key 'env.mjcf.observations[0].sensor' must name a sensor");
  err = error_of("      - {last_action: false}\n");
  EXPECT_HAS(err, "key 'env.mjcf.observations[0].last_action' must be true");
  // not a list, not a map
  err = ErrorOf(Write("bad.yaml", "env:\n  mjcf:\n    observations: imu_gyro\n"));
  EXPECT_HAS(err, path + ":3: key 'env.mjcf.observations' must be a list of observation terms");
  err = error_of("      - imu_gyro\n");
  EXPECT_HAS(err, path + ":4: key 'env.mjcf.observations[0]' must be a map with one kind key");
}

TEST_F(RobotConfigTest, BadValuesFailValidationAtTheirLine) {
  const std::string path = Write("noise.yaml",
                                 "env:\n  mjcf:\n    observations:\n      - {gravity: imu}\n"
                                 "      - joint_pos: true\n        noise: -0.1\n");
  std::string err = ErrorOf(path);
  EXPECT_HAS(err, path + ":6: config key 'env.mjcf.observations[1].noise' must be >= 0");

  // a --set of the whole list replaces the file's terms and their lines
  err = ErrorOf(path, {"env.mjcf.observations=[{joint_vel: true, noise: -1}]"});
  EXPECT_HAS(err,
             "--set env.mjcf.observations=[{joint_vel: true, noise: -1}]: config key "
             "'env.mjcf.observations[0].noise' must be >= 0");
  EXPECT_EQ(err.find(path), std::string::npos) << err;
  err = ErrorOf(path, {"env.mjcf.observations=[{sensr: a}]"});
  EXPECT_HAS(err,
             "--set env.mjcf.observations=[{sensr: a}]: key 'env.mjcf.observations[0]' "
             "has an unknown key 'sensr'");
  const ExperimentConfig mended = LoadExperiment(path, {"env.mjcf.observations=[{sensor: s}]"});
  EXPECT_EQ(mended.env.mjcf.observations,
            (std::vector<ObservationTerm>{{"sensor", "s", 1.0, 0.0}}));

  const std::string action =
      Write("action.yaml", "env:\n  mjcf:\n    action:\n      mode: servo\n");
  err = ErrorOf(action);
  EXPECT_HAS(err, action +
                      ":4: config key 'env.mjcf.action.mode' is 'servo'; valid modes: "
                      "torque, position");
  err = ErrorOf(action, {"env.mjcf.action.mode=position", "env.mjcf.action.scale=0"});
  EXPECT_HAS(err, "--set env.mjcf.action.scale=0: config key 'env.mjcf.action.scale' must be > 0");

  // the old layout's switches do not mix with a term list
  err = ErrorOf(Write("mix.yaml",
                      "env:\n  mjcf:\n    obs_contact_forces: true\n"
                      "    observations: [{joint_pos: true}]\n"));
  EXPECT_HAS(err, ":3: config key 'env.mjcf.obs_contact_forces' shapes the default observation");
}

TEST_F(RobotConfigTest, QuadrupedStandExperimentLoads) {
  const ExperimentConfig c =
      LoadExperiment(std::string(ROBOFLEET_SOURCE_DIR) + "/experiments/quadruped_stand.yaml");
  EXPECT_EQ(c.env.id, "mjcf");
  EXPECT_EQ(c.env.mjcf.keyframe, "home");
  EXPECT_EQ(c.env.mjcf.action.mode, "position");
  EXPECT_DOUBLE_EQ(c.env.mjcf.action.scale, 0.25);
  ASSERT_EQ(c.env.mjcf.observations.size(), 5u);
  EXPECT_EQ(c.env.mjcf.observations[1].kind, "gravity");
  EXPECT_TRUE(std::filesystem::exists(c.env.mjcf.path)) << c.env.mjcf.path;
}

TEST_F(RobotConfigTest, RewardTermsTerminationsAndPushesReadAndFailAtTheirLine) {
  const std::string path = Write("rewards.yaml",
                                 "env:\n  mjcf:\n    feet: [FR_foot, FL_foot]\n"
                                 "    rewards:\n"
                                 "      track_lin_vel: {weight: 1.5, sigma: 0.5}\n"
                                 "      contacts: {weight: -1, bodies: [trunk]}\n"
                                 "    termination: {max_tilt_deg: 45, contact_bodies: [trunk]}\n"
                                 "    push: {interval_s: 5, max_vel: 0.3}\n");
  const ExperimentConfig c = LoadExperiment(path);
  const MjcfTaskConfig& m = c.env.mjcf;
  EXPECT_EQ(m.feet, (std::vector<std::string>{"FR_foot", "FL_foot"}));
  EXPECT_DOUBLE_EQ(m.rewards.track_lin_vel.weight, 1.5);
  EXPECT_DOUBLE_EQ(m.rewards.track_lin_vel.sigma, 0.5);
  EXPECT_DOUBLE_EQ(m.rewards.track_yaw_rate.weight, 0.0);  // off unless given
  EXPECT_EQ(m.rewards.contacts.bodies, (std::vector<std::string>{"trunk"}));
  EXPECT_DOUBLE_EQ(m.termination.max_tilt_deg, 45);
  EXPECT_DOUBLE_EQ(m.push.max_vel, 0.3);
  EXPECT_EQ(ToYaml(ParseExperiment(ToYaml(c), folder_ / "dump.yaml")), ToYaml(c));
  // one weight from the command line
  EXPECT_DOUBLE_EQ(LoadExperiment(path, {"env.mjcf.rewards.torques.weight=-2e-4"})
                       .env.mjcf.rewards.torques.weight,
                   -2e-4);

  std::string err = ErrorOf(path, {"env.mjcf.rewards.track_lin_vl.weight=1"});
  EXPECT_HAS(err, "did you mean 'env.mjcf.rewards.track_lin_vel'?");
  err = ErrorOf(path, {"env.mjcf.feet=[]", "env.mjcf.rewards.foot_slip.weight=-0.1"});
  EXPECT_HAS(err, "config key 'env.mjcf.rewards.foot_slip.weight' needs the robot's feet");
  err = ErrorOf(path, {"env.mjcf.rewards.contacts.bodies=[]"});
  EXPECT_HAS(err, "'env.mjcf.rewards.contacts.bodies' is empty");
  err = ErrorOf(path, {"env.mjcf.rewards.track_yaw_rate.sigma=0"});
  EXPECT_HAS(err, "'env.mjcf.rewards.track_yaw_rate.sigma' must be > 0");
  err = ErrorOf(Write("tilt.yaml", "env:\n  mjcf:\n    termination:\n      max_tilt_deg: 200\n"));
  EXPECT_HAS(err,
             "tilt.yaml:4: config key 'env.mjcf.termination.max_tilt_deg' must lie in [0, 180]");
  err = ErrorOf(path, {"env.mjcf.push.max_vel=-1"});
  EXPECT_HAS(err, "'env.mjcf.push.max_vel' must be >= 0");
  err = ErrorOf(Write("feet.yaml", "env:\n  mjcf:\n    feet: FR_foot\n"));
  EXPECT_HAS(err, "feet.yaml:3: key 'env.mjcf.feet' must be a list of names");
}

TEST_F(RobotConfigTest, QuadrupedJoystickExperimentLoads) {
  const ExperimentConfig c = LoadExperiment(std::string(ROBOFLEET_SOURCE_DIR) +
                                            "/experiments/quadruped_joystick_flat.yaml");
  EXPECT_EQ(c.env.id, "mjcf");
  EXPECT_EQ(c.env.mjcf.feet.size(), 4u);
  EXPECT_GT(c.env.mjcf.rewards.track_lin_vel.weight, 0);
  EXPECT_TRUE(c.env.mjcf.commands.Enabled());
  EXPECT_TRUE(std::filesystem::exists(c.env.mjcf.path)) << c.env.mjcf.path;
}

}  // namespace
}  // namespace robofleet

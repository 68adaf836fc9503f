// Bad experiment input: numbers outside their type, repeated keys, folders
// for files, values out of range and where they were set, the count limits,
// relative model paths, and what a resumed run may change.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "core/config.h"
#include "tests/temp_folder.h"

namespace robofleet {
namespace {

namespace fs = std::filesystem;

class ConfigInputTest : public ::testing::Test {
 protected:
  // Writes `text` to NAME in the test's folder and returns its path.
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = folder_ / name;
    fs::create_directories(fs::path(path).parent_path());
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

  testing::TempFolder folder_{"rf-config-input"};
};

#define EXPECT_HAS(text, fragment) \
  EXPECT_NE((text).find(fragment), std::string::npos) << "in: " << (text)

TEST_F(ConfigInputTest, IntegersNeverWrapOrSaturate) {
  const std::string ok = Write("ok.yaml", "name: x\n");
  // each of these once became a different, valid number
  for (const char* set :
       {"actors.count=4294967297", "learner.batch_size=8589934592", "seed=99999999999999999999999",
        "seed=-1", "actors.count=1e10", "seed=1.8446744073709552e19"}) {
    const std::string err = ErrorOf(ok, {set});
    EXPECT_HAS(err, std::string("--set ") + set);
    EXPECT_HAS(err, "must be an integer from");
  }
  const std::string file = Write("big.yaml", "actors:\n  count: 99999999999\n");
  const std::string err = ErrorOf(file);
  EXPECT_HAS(err, file + ":2");
  EXPECT_HAS(err, "'actors.count' must be an integer from -2147483648 to 2147483647");
  EXPECT_HAS(ErrorOf(ok, {"seed=-1"}), "an integer from 0 to 18446744073709551615");
  // the edges of each type still read back exactly
  EXPECT_EQ(LoadExperiment(ok, {"seed=18446744073709551615"}).seed,
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(LoadExperiment(ok, {"train.total_env_steps=9223372036854775807"}).train.total_env_steps,
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(LoadExperiment(ok, {"train.total_env_steps=2e6"}).train.total_env_steps, 2000000);
}

TEST_F(ConfigInputTest, NumbersOutsideTheirTypeAreRefused) {
  const std::string ok = Write("ok.yaml", "name: x\n");
  EXPECT_HAS(ErrorOf(ok, {"algorithm.gamma=1e999"}), "must be a finite number");
  EXPECT_HAS(ErrorOf(ok, {"algorithm.gamma=nan"}), "must be a finite number");
  EXPECT_HAS(ErrorOf(ok, {"policy.hidden=[64, 4294967360]"}), "a list of integers from");
}

TEST_F(ConfigInputTest, RepeatedKeysAreRefusedWithBothLines) {
  const std::string top = Write("top.yaml", "name: a\nseed: 2\nname: b\n");
  const std::string err = ErrorOf(top);
  EXPECT_HAS(err, top + ":3");
  EXPECT_HAS(err, "'name' is given twice");
  EXPECT_HAS(err, "first at line 1");
  const std::string nested =
      Write("nested.yaml", "actors:\n  count: 2\n  envs_per_actor: 4\n  count: 8\n");
  EXPECT_HAS(ErrorOf(nested), "'actors.count' is given twice");
  const std::string sections = Write("sections.yaml", "train:\n  seed_x: 1\ntrain:\n  x: 2\n");
  EXPECT_HAS(ErrorOf(sections), "'train' is given twice");
}

TEST_F(ConfigInputTest, FoldersAreNotExperimentFiles) {
  fs::create_directories(folder_ / "runs");
  EXPECT_HAS(ErrorOf(folder_ / "runs"), "is a folder, not an experiment file");
  const std::string child = Write("child.yaml", "extends: runs\n");
  const std::string err = ErrorOf(child);
  EXPECT_HAS(err, child + ":1: extends: ");
  EXPECT_HAS(err, "is a folder");
  EXPECT_HAS(ErrorOf(folder_ / "missing.yaml"), "cannot read");
  EXPECT_HAS(ErrorOf(Write("empty.yaml", "# nothing yet\n")), "the file sets nothing");
  // a device would be read forever
  EXPECT_HAS(ErrorOf("/dev/zero"), "is not a regular file");
  // a file the kernel refuses to read is not an empty experiment
  EXPECT_HAS(ErrorOf("/proc/self/mem"), "cannot read /proc/self/mem");
  EXPECT_HAS(ErrorOf(Write("zero.yaml", "extends: /dev/zero\n")), "is not a regular file");
}

TEST_F(ConfigInputTest, RangeErrorsNameTheLineThatSetTheValue) {
  const std::string base = Write("base.yaml", "name: b\nalgorithm:\n  gamma: 1.5\n");
  const std::string child = Write("child.yaml", "extends: base.yaml\nseed: 3\n");
  const std::string err = ErrorOf(child);
  // the value came from base.yaml, line 3
  EXPECT_HAS(err, base + ":3: config key 'algorithm.gamma' must be in (0, 1]");
  // a key left at its default names the file
  const std::string no_env = Write("no_env.yaml", "env:\n  id: mjcf\n");
  EXPECT_HAS(ErrorOf(no_env), no_env + ": config key 'env.mjcf.path' is empty");
  // a bad override names itself
  EXPECT_HAS(ErrorOf(child, {"algorithm.gamma=0.9", "actors.count=0"}),
             "--set actors.count=0: config key 'actors.count' must be >= 1");
}

TEST_F(ConfigInputTest, SetMendsABadValueOfTheFile) {
  const std::string bad = Write("bad.yaml", "algorithm:\n  gamma: 1.5\n");
  EXPECT_DOUBLE_EQ(LoadExperiment(bad, {"algorithm.gamma=0.97"}).algorithm.gamma, 0.97);
}

TEST_F(ConfigInputTest, CountsHaveDocumentedLimits) {
  const std::string ok = Write("ok.yaml", "name: x\n");
  std::string err = ErrorOf(ok, {"actors.count=100000"});
  EXPECT_HAS(err, "'actors.count' is 100000, above the limit of 1024");
  EXPECT_HAS(err, "docs/running.md");
  EXPECT_HAS(ErrorOf(ok, {"actors.envs_per_actor=5000"}), "limit of 4096");
  EXPECT_HAS(ErrorOf(ok, {"learner.count=65", "actors.count=100"}), "limit of 64");
  EXPECT_HAS(ErrorOf(ok, {"learner.batch_size=100000000"}), "limit of 16777216");
  EXPECT_HAS(ErrorOf(ok, {"actors.rollout_length=1000", "actors.envs_per_actor=2000"}),
             "env steps per fragment");
  EXPECT_EQ(LoadExperiment(ok, {"actors.count=1024"}).actors.count, kMaxActors);
}

TEST_F(ConfigInputTest, RelativeModelPathsAreTakenFromTheFilesFolder) {
  const std::string file = Write("robots/go.yaml", "env:\n  id: mjcf\n  mjcf:\n    path: m.xml\n");
  EXPECT_EQ(LoadExperiment(file).env.mjcf.path, fs::absolute(folder_ / "robots/m.xml").string());
  // a base's path is the base's, whoever extends it
  Write("child.yaml", "extends: robots/go.yaml\nseed: 4\n");
  EXPECT_EQ(LoadExperiment(folder_ / "child.yaml").env.mjcf.path,
            fs::absolute(folder_ / "robots/m.xml").string());
  // an override is the user's words at the shell: the working directory
  EXPECT_EQ(LoadExperiment(file, {"env.mjcf.path=other.xml"}).env.mjcf.path,
            (fs::current_path() / "other.xml").string());
  EXPECT_EQ(LoadExperiment(file, {"env.mjcf.path=/abs/m.xml"}).env.mjcf.path, "/abs/m.xml");
  // what a run writes reads back as the same file from anywhere
  EXPECT_EQ(ParseExperiment(ToYaml(LoadExperiment(file)), "/elsewhere/config.yaml").env.mjcf.path,
            fs::absolute(folder_ / "robots/m.xml").string());
}

TEST_F(ConfigInputTest, ResumeKeepsTheRunsShapes) {
  const ExperimentConfig run;
  for (const char* fixed :
       {"env.id", "env.mjcf.path", "env.privileged_obs", "policy.hidden", "policy.activation",
        "normalizer.enabled", "algorithm.name", "learner.count", "seed", "train.deterministic"}) {
    EXPECT_FALSE(MayChangeOnResume(fixed)) << fixed;
  }
  for (const char* free : {"train.total_env_steps", "algorithm.learning_rate", "actors.count",
                           "learner.device", "learner.batch_size", "env.randomize.obs_noise",
                           "env.max_episode_steps", "launcher.max_restarts", "name"}) {
    EXPECT_TRUE(MayChangeOnResume(free)) << free;
  }
  ExperimentConfig longer = run;
  longer.train.total_env_steps *= 2;
  longer.algorithm.learning_rate = 1e-4;
  EXPECT_NO_THROW(CheckResumeChanges(run, longer));
  ExperimentConfig wider = run;
  wider.policy.hidden = {32, 32};
  try {
    CheckResumeChanges(run, wider);
    ADD_FAILURE() << "a new network passed";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_HAS(what, "--resume cannot change 'policy.hidden' ([64, 64] -> [32, 32])");
    EXPECT_HAS(what, "train.*");
    EXPECT_EQ(what.find('\n'), std::string::npos);
  }
  ExperimentConfig other_task = run;
  other_task.env.id = "hopper";
  EXPECT_THROW(CheckResumeChanges(run, other_task), UserError);
}

}  // namespace
}  // namespace robofleet

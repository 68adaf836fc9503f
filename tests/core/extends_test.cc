// `extends:` chains and the sweep block as seen by the experiment loader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/config.h"

namespace robofleet {
namespace {

namespace fs = std::filesystem;

class ExtendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rf-extends-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "sub");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // The UserError message of loading `path`, or "" when it loads.
  static std::string ErrorOf(const std::string& path) {
    try {
      LoadExperiment(path);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(ExtendsTest, ChildKeysOverrideTheBaseKeyByKey) {
  Write(
      "base.yaml",
      "name: base\nseed: 4\nactors:\n  count: 3\n  envs_per_actor: 8\npolicy:\n  hidden: [8, 8]\n");
  const std::string child =
      Write("child.yaml", "extends: base.yaml\nname: child\nactors:\n  count: 1\n");
  const ExperimentConfig c = LoadExperiment(child);
  EXPECT_EQ(c.name, "child");
  EXPECT_EQ(c.seed, 4u);
  EXPECT_EQ(c.actors.count, 1);
  EXPECT_EQ(c.actors.envs_per_actor, 8);  // from the base: sections merge, not replace
  EXPECT_EQ(c.policy.hidden, (std::vector<int>{8, 8}));
}

TEST_F(ExtendsTest, ChainsResolvePathsFromEachFilesFolder) {
  Write("root.yaml", "seed: 9\nlearner:\n  batch_size: 256\n");
  Write("sub/middle.yaml", "extends: ../root.yaml\nseed: 10\n");
  const std::string leaf = Write("sub/leaf.yaml", "extends: middle.yaml\nname: leaf\n");
  const ExperimentConfig c = LoadExperiment(leaf, {"actors.count=5"});
  EXPECT_EQ(c.name, "leaf");
  EXPECT_EQ(c.seed, 10u);
  EXPECT_EQ(c.learner.batch_size, 256);
  EXPECT_EQ(c.actors.count, 5);
}

TEST_F(ExtendsTest, OnlyTheFinalConfigIsValidated) {
  // the base alone is invalid; the child completes it
  Write("base.yaml", "env:\n  id: mjcf\n");
  const std::string child =
      Write("child.yaml", "extends: base.yaml\nenv:\n  mjcf:\n    path: m.xml\n");
  // a relative model path is taken from the folder of the file that sets it
  EXPECT_EQ(LoadExperiment(child).env.mjcf.path, (fs::absolute(dir_) / "m.xml").string());
}

TEST_F(ExtendsTest, CyclesAreRejectedNamingTheChain) {
  Write("a.yaml", "extends: b.yaml\n");
  Write("b.yaml", "name: b\nextends: a.yaml\n");
  const std::string err = ErrorOf((dir_ / "a.yaml").string());
  EXPECT_NE(err.find("b.yaml:2"), std::string::npos) << err;
  EXPECT_NE(err.find("cycle"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  const std::string self = Write("self.yaml", "extends: self.yaml\n");
  EXPECT_NE(ErrorOf(self).find("cycle"), std::string::npos) << ErrorOf(self);
}

TEST_F(ExtendsTest, MissingOrMalformedBaseIsAUserError) {
  const std::string missing = Write("m.yaml", "name: x\nextends: nowhere.yaml\n");
  std::string err = ErrorOf(missing);
  EXPECT_NE(err.find("m.yaml:2"), std::string::npos) << err;
  EXPECT_NE(err.find("nowhere.yaml"), std::string::npos) << err;
  const std::string list = Write("l.yaml", "extends: [a.yaml, b.yaml]\n");
  EXPECT_NE(ErrorOf(list).find("one experiment file"), std::string::npos) << ErrorOf(list);
}

TEST_F(ExtendsTest, ErrorsInTheBaseNameTheBaseFileAndLine) {
  Write("base.yaml", "name: b\nactors:\n  cuont: 2\n");
  const std::string child = Write("child.yaml", "extends: base.yaml\n");
  const std::string err = ErrorOf(child);
  EXPECT_NE(err.find("base.yaml:3"), std::string::npos) << err;
  EXPECT_NE(err.find("actors.count"), std::string::npos) << err;
}

TEST_F(ExtendsTest, TypoOfAFileKeyIsSuggested) {
  const std::string path = Write("t.yaml", "extend: base.yaml\n");
  EXPECT_NE(ErrorOf(path).find("did you mean 'extends'"), std::string::npos) << ErrorOf(path);
}

TEST_F(ExtendsTest, SweepBlockIsIgnoredByTheLoaderAndReportedOnRequest) {
  Write("base.yaml", "name: b\nsweep:\n  seeds: [1, 2]\n");
  const std::string plain = Write("plain.yaml", "extends: base.yaml\nseed: 3\n");
  const std::string own = Write("own.yaml", "extends: base.yaml\nsweep:\n  seeds: [5]\n");
  EXPECT_EQ(LoadExperiment(plain).seed, 3u);

  SweepSource sweep;
  LoadExperiment(plain, {}, &sweep);
  EXPECT_EQ(sweep.path, (dir_ / "base.yaml").string());  // inherited from the base
  EXPECT_NE(sweep.text.find("seeds: [1, 2]"), std::string::npos);
  LoadExperiment(own, {}, &sweep);
  EXPECT_EQ(sweep.path, own);  // the nearest file's block wins
  const std::string none = Write("none.yaml", "name: n\n");
  LoadExperiment(none, {}, &sweep);
  EXPECT_TRUE(sweep.path.empty());
}

TEST(ConfigKeyTypesTest, ListsDottedKeysWithTypes) {
  const auto keys = ConfigKeyTypes();
  auto type_of = [&](const std::string& key) {
    for (const auto& [k, t] : keys) {
      if (k == key) return t;
    }
    return std::string();
  };
  EXPECT_EQ(type_of("seed"), "integer");
  EXPECT_EQ(type_of("algorithm.learning_rate"), "number");
  EXPECT_EQ(type_of("policy.hidden"), "list of int");
  EXPECT_EQ(type_of("policy.activation"), "string");
  EXPECT_EQ(type_of("normalizer.enabled"), "bool");
  EXPECT_EQ(type_of("env.randomize.obs_noise"), "number");
  EXPECT_EQ(type_of("env"), "");
}

}  // namespace
}  // namespace robofleet

// Export, evaluation and the deployment examples, on a real (tiny) run.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/integration/subprocess.h"

namespace robofleet::testing {
namespace {

namespace fs = std::filesystem;

class DeployTest : public ::testing::Test {
 protected:
  // one tiny training run shared by every test here
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("deploy"));
    std::ofstream(*dir_ + "/exp.yaml") << "name: tiny\nenv:\n  max_episode_steps: 40\n"
                                          "actors:\n  count: 1\n  envs_per_actor: 4\n"
                                          "  rollout_length: 16\npolicy:\n  hidden: [16, 16]\n"
                                          "learner:\n  batch_size: 64\ntrain:\n"
                                          "  total_env_steps: 320\n  checkpoint_every: 2\n"
                                          "  record_video: true\n";
    Child train({ROBOFLEET_BINARY, "train", *dir_ + "/exp.yaml", "--run-dir", *dir_ + "/run"},
                *dir_ + "/train");
    ASSERT_TRUE(train.Wait(120)) << train.err();
    ASSERT_EQ(train.exit_code(), 0) << train.err();
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string Run() { return *dir_ + "/run"; }

  // Runs robofleet with `args`; returns the child after it finished.
  static std::unique_ptr<Child> Robofleet(std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), ROBOFLEET_BINARY);
    auto child = std::make_unique<Child>(args, *dir_ + "/" + log);
    EXPECT_TRUE(child->Wait(120)) << log << " did not finish";
    return child;
  }

  static std::string* dir_;
};
std::string* DeployTest::dir_ = nullptr;

TEST_F(DeployTest, ExportFromAnyCheckpointThenEval) {
  const std::string out = *dir_ + "/early.pt";
  auto exported = Robofleet(
      {"export", Run(), "--checkpoint", Run() + "/checkpoints/ckpt-2.pt", "--out", out}, "export");
  ASSERT_EQ(exported->exit_code(), 0) << exported->err();
  ASSERT_TRUE(fs::exists(out));
  auto eval = Robofleet({"eval", out, "--episodes", "3", "--json"}, "eval_early");
  ASSERT_EQ(eval->exit_code(), 0) << eval->err();
  EXPECT_DOUBLE_EQ(JsonNumber(eval->out(), "length_mean"), 40.0) << eval->out();
  EXPECT_EQ(JsonNumber(eval->out(), "episodes"), 3);
  // a different checkpoint is a different policy
  auto final_eval = Robofleet({"eval", Run() + "/policy.pt", "--episodes", "3", "--json"}, "eval");
  ASSERT_EQ(final_eval->exit_code(), 0) << final_eval->err();
  EXPECT_NE(JsonNumber(eval->out(), "return_mean"), JsonNumber(final_eval->out(), "return_mean"));
}

TEST_F(DeployTest, EveryPpoOptionTrainsAndItsExportRuns) {
  const std::string run = *dir_ + "/options";
  auto train = Robofleet(
      {"train", *dir_ + "/exp.yaml", "--run-dir", run, "--set", "train.record_video=false", "--set",
       "policy.shared_trunk=true", "--set", "policy.state_dependent_std=true", "--set",
       "policy.tanh_squash=true", "--set", "policy.normalize_value=true", "--set",
       "algorithm.value_clip=0.2", "--set", "algorithm.target_kl=0.05"},
      "train_options");
  ASSERT_EQ(train->exit_code(), 0) << train->err();
  for (const char* column : {"policy_loss", "value_loss", "entropy", "approx_kl"}) {
    std::vector<double> values = CsvColumn(run + "/metrics.csv", column);
    ASSERT_FALSE(values.empty()) << column;
    for (double v : values) EXPECT_TRUE(std::isfinite(v)) << column;
  }
  EXPECT_EQ(CsvColumn(run + "/metrics.csv", "nonfinite_steps").back(), 0.0);
  auto eval = Robofleet({"eval", run + "/policy.pt", "--episodes", "2", "--json"}, "eval_options");
  ASSERT_EQ(eval->exit_code(), 0) << eval->err();
  EXPECT_DOUBLE_EQ(JsonNumber(eval->out(), "length_mean"), 40.0) << eval->out();
  EXPECT_FALSE(std::isnan(JsonNumber(eval->out(), "return_mean"))) << eval->out();
}

TEST_F(DeployTest, PrivilegedCriticTrainsAndItsPolicyRunsOnTheRobotsObservations) {
  // masses and observation noise randomised: the critic also sees the mass
  // factors and the noise-free observation, the actor and the export do not
  const std::string run = *dir_ + "/privileged";
  auto train =
      Robofleet({"train", *dir_ + "/exp.yaml", "--run-dir", run, "--set",
                 "train.record_video=false", "--set", "env.randomize.body_mass_scale=[0.5, 1.5]",
                 "--set", "env.randomize.obs_noise=0.05", "--set", "env.privileged_obs=true"},
                "train_privileged");
  ASSERT_EQ(train->exit_code(), 0) << train->err();
  for (double v : CsvColumn(run + "/metrics.csv", "value_loss")) EXPECT_TRUE(std::isfinite(v));
  // cart-pole's 5 observations, then 2 mass factors (cart, pole) and the 5 noise-free ones
  std::ifstream config(run + "/config.yaml");
  EXPECT_NE(std::string(std::istreambuf_iterator<char>(config), {}).find("privileged_obs: true"),
            std::string::npos);
  // eval checks that the policy takes the robot's 5 observations and feeds it those
  auto eval =
      Robofleet({"eval", run + "/policy.pt", "--episodes", "2", "--json"}, "eval_privileged");
  ASSERT_EQ(eval->exit_code(), 0) << eval->err();
  EXPECT_DOUBLE_EQ(JsonNumber(eval->out(), "length_mean"), 40.0) << eval->out();
}

TEST_F(DeployTest, HistoryPolicyKeepsItsOwnStackInEvalAndTheExamples) {
  // the actor reads the last 3 observations; the exported policy takes one
  // step's 5 and keeps the other 10 as its state
  const std::string run = *dir_ + "/history";
  auto train =
      Robofleet({"train", *dir_ + "/exp.yaml", "--run-dir", run, "--set",
                 "train.record_video=false", "--set", "env.obs_history=3", "--set",
                 "env.randomize.body_mass_scale=[0.5, 1.5]", "--set", "env.privileged_obs=true"},
                "train_history");
  ASSERT_EQ(train->exit_code(), 0) << train->err();
  auto eval = Robofleet({"eval", run + "/policy.pt", "--episodes", "2", "--json"}, "eval_history");
  ASSERT_EQ(eval->exit_code(), 0) << eval->err();
  EXPECT_DOUBLE_EQ(JsonNumber(eval->out(), "length_mean"), 40.0) << eval->out();
  auto again =
      Robofleet({"eval", run + "/policy.pt", "--episodes", "2", "--json"}, "eval_history_again");
  EXPECT_EQ(again->out(), eval->out()) << "each episode starts from the initial state";

  Child python(
      {"/usr/bin/python3", std::string(ROBOFLEET_SOURCE_DIR) + "/examples/deploy_python.py",
       run + "/policy.pt"},
      *dir_ + "/python_history");
  ASSERT_TRUE(python.Wait(60));
  EXPECT_EQ(python.exit_code(), 0) << python.out() << python.err();
  EXPECT_NE(python.out().find("cartpole_swingup: obs 5 (cart_position,"), std::string::npos)
      << python.out();
  EXPECT_NE(python.out().find("state 15"), std::string::npos) << python.out();
}

TEST_F(DeployTest, EvalIsRepeatableForOneSeed) {
  auto a =
      Robofleet({"eval", Run() + "/policy.pt", "--episodes", "2", "--seed", "9", "--json"}, "a");
  auto b =
      Robofleet({"eval", Run() + "/policy.pt", "--episodes", "2", "--seed", "9", "--json"}, "b");
  ASSERT_EQ(a->exit_code(), 0) << a->err();
  EXPECT_EQ(a->out(), b->out());
  EXPECT_FALSE(std::isnan(JsonNumber(a->out(), "return_mean"))) << a->out();
}

TEST_F(DeployTest, BadInputIsOneLineAndExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"eval", *dir_ + "/missing.pt"},
           {"eval", *dir_ + "/exp.yaml"},
           {"eval", Run() + "/policy.pt", "--env", "nosuch"},
           {"export", *dir_},
           {"export", Run(), "--checkpoint", *dir_ + "/nope.pt"}}) {
    auto child = Robofleet(args, "bad");
    EXPECT_EQ(child->exit_code(), 2) << args[0] << " " << args[1] << ": " << child->err();
    std::string err = child->err();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST_F(DeployTest, CppExampleBuildsAgainstLibTorchAloneAndRuns) {
  const std::string build = *dir_ + "/deploy_cpp";
  Child configure({"/usr/bin/cmake", "-S",
                   std::string(ROBOFLEET_SOURCE_DIR) + "/examples/deploy_cpp", "-B", build},
                  *dir_ + "/configure");
  ASSERT_TRUE(configure.Wait(120));
  ASSERT_EQ(configure.exit_code(), 0) << configure.err();
  Child make({"/usr/bin/cmake", "--build", build}, *dir_ + "/make");
  ASSERT_TRUE(make.Wait(300));
  ASSERT_EQ(make.exit_code(), 0) << make.out() << make.err();
  Child run({build + "/deploy_policy", Run() + "/policy.pt", "--hz", "1000", "--steps", "300"},
            *dir_ + "/deploy");
  ASSERT_TRUE(run.Wait(60));
  EXPECT_EQ(run.exit_code(), 0) << run.err();
  EXPECT_NE(run.out().find("p50"), std::string::npos) << run.out();
  EXPECT_NE(run.out().find("p99"), std::string::npos) << run.out();
}

TEST_F(DeployTest, TensorBoardEventsMatchMetricsCsv) {
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

TEST_F(DeployTest, RunEndsWithLearningCurves) {
  const std::string png = Run() + "/curves.png";
  ASSERT_TRUE(fs::exists(png)) << "no curves.png: install python3-matplotlib (setup.sh does)";
  std::ifstream in(png, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  EXPECT_GT(fs::file_size(png), 10000u);
}

// Frame count, width and height of a video, read by ffprobe.
std::string Probe(const std::string& video, const std::string& log) {
  Child probe({"/usr/bin/ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
               "-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0", video},
              log);
  EXPECT_TRUE(probe.Wait(60));
  EXPECT_EQ(probe.exit_code(), 0) << "ffprobe failed (install ffmpeg): " << probe.err();
  return probe.out();
}

TEST_F(DeployTest, EvalRendersEpisodesToVideo) {
  ASSERT_TRUE(fs::exists("/usr/bin/ffprobe")) << "install ffmpeg (scripts/setup.sh does)";
  const std::string video = *dir_ + "/eval.mp4";
  auto eval = Robofleet({"eval", Run() + "/policy.pt", "--episodes", "2", "--video", video,
                         "--width", "320", "--height", "240"},
                        "video");
  ASSERT_EQ(eval->exit_code(), 0) << eval->err();
  // two episodes of 40 steps, each with its first frame: 82 frames
  EXPECT_EQ(Probe(video, *dir_ + "/probe"), "320,240,82\n");
  auto bad = Robofleet({"eval", Run() + "/policy.pt", "--video", video, "--camera", "nosuch"},
                       "bad_camera");
  EXPECT_EQ(bad->exit_code(), 2);
  EXPECT_NE(bad->err().find("no camera 'nosuch'"), std::string::npos) << bad->err();
}

TEST_F(DeployTest, TrainRecordsTheFinalPolicy) {
  ASSERT_TRUE(fs::exists(Run() + "/final.mp4")) << "train.record_video left no final.mp4";
  EXPECT_EQ(Probe(Run() + "/final.mp4", *dir_ + "/probe_final"), "640,480,41\n");
}

TEST_F(DeployTest, PythonExampleLoadsWithTorchAlone) {
  ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "install python3 (scripts/setup.sh does)";
  Child check({"/usr/bin/python3", "-c", "import torch"}, *dir_ + "/torch_check");
  ASSERT_TRUE(check.Wait(60));
  ASSERT_EQ(check.exit_code(), 0) << "Python cannot import torch: install python3-torch "
                                     "(scripts/setup.sh does)\n"
                                  << check.err();
  Child run({"/usr/bin/python3", std::string(ROBOFLEET_SOURCE_DIR) + "/examples/deploy_python.py",
             Run() + "/policy.pt"},
            *dir_ + "/python");
  ASSERT_TRUE(run.Wait(60));
  EXPECT_EQ(run.exit_code(), 0) << run.out() << run.err();
  EXPECT_NE(run.out().find("cartpole_swingup: obs 5"), std::string::npos) << run.out();
}

}  // namespace
}  // namespace robofleet::testing

// `robofleet export` and `robofleet eval`: the policy file a robot runs, and
// the proof that the file on disk is the policy that was trained.
#include <torch/script.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>

#include "envs/mjcf_env.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "launcher/cli.h"
#include "launcher/commands.h"
#include "launcher/video.h"
#include "learner/checkpoint.h"

namespace robofleet::launcher {
namespace fs = std::filesystem;

namespace {

// An exported policy and the metadata saved beside it.
struct LoadedPolicy {
  torch::jit::Module module;
  YAML::Node metadata;
};

LoadedPolicy LoadPolicy(const std::string& path) {
  if (!fs::exists(path)) throw UserError(path + ": no such policy file");
  torch::jit::ExtraFilesMap extra{{"metadata.json", ""}};
  LoadedPolicy p;
  try {
    p.module = torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw UserError(path + ": not a TorchScript file (" + what.substr(0, what.find('\n')) + ")");
  }
  // JSON is YAML: one parser for both
  try {
    p.metadata = YAML::Load(extra["metadata.json"]);
  } catch (const YAML::Exception&) {
  }
  if (!p.metadata || !p.metadata["format"] ||
      p.metadata["format"].as<std::string>() != "robofleet-policy") {
    throw UserError(path + ": no RoboFleet metadata.json inside; export it with robofleet export");
  }
  return p;
}

// The options of `robofleet eval`.
cxxopts::Options EvalOptions() {
  cxxopts::Options options("robofleet eval",
                           "Run an exported policy in MuJoCo and report its return and fall "
                           "rate; on a task with velocity commands also the RMS tracking "
                           "errors (the commands drawn from the training ranges).");
  options.positional_help("POLICY.pt");
  options.add_options()("policy", "exported policy file", cxxopts::value<std::string>())(
      "env", "task to run (default: the one in the policy's metadata)",
      cxxopts::value<std::string>())("episodes", "episodes to run",
                                     cxxopts::value<int>()->default_value("10"))(
      "seed", "seed of the first episode; episode i uses seed + i",
      cxxopts::value<uint64_t>()->default_value("0"))("stochastic",
                                                      "sample actions instead of taking the mean")(
      "video", "render the episodes offscreen into this .mp4", cxxopts::value<std::string>())(
      "camera", "camera of the model for --video (default: track the root body)",
      cxxopts::value<std::string>()->default_value(""))(
      "width", "video width in pixels", cxxopts::value<int>()->default_value("640"))(
      "height", "video height in pixels", cxxopts::value<int>()->default_value("480"))(
      "json", "print one JSON object")(
      "record",
      "write every step's sensor readings, observation, action and actuator targets to this "
      "file (a robot task with an observation list), for examples/deploy_cpp --replay",
      cxxopts::value<std::string>())("h,help", "show this help");
  options.parse_positional({"policy"});
  return options;
}

// Returns and lengths of the episodes eval ran.
struct Episodes {
  std::vector<double> returns, lengths;
  int falls = 0;  // episodes that ended for real (terminated), not at the time limit
  // on a task with velocity commands: squared tracking errors summed over
  // every step, and the steps counted; the squared commands themselves are
  // the errors of a robot that stands still, the baseline
  bool tracks = false;
  double lin_sq = 0.0, yaw_sq = 0.0;
  double still_lin_sq = 0.0, still_yaw_sq = 0.0;
  int64_t steps = 0;
};

// One line of a recording: `label` and n values in hex floats (exact).
template <class T>
void WriteHex(std::FILE* out, const char* label, const T* values, int n) {
  std::fputs(label, out);
  for (int i = 0; i < n; ++i) std::fprintf(out, " %a", static_cast<double>(values[i]));
  std::fputc('\n', out);
}

// "vx 0.50  vy -0.20  yaw 0.30" of a command or a measured velocity.
std::string VelocityText(const envs::VelocityCommand& v) {
  char text[96];
  std::snprintf(text, sizeof(text), "vx %+.2f m/s  vy %+.2f m/s  yaw %+.2f rad/s", v.lin_vel_x,
                v.lin_vel_y, v.yaw_rate);
  return text;
}

// Steps an exported policy, keeping its state (export.h) when it has one.
class PolicyStepper {
 public:
  PolicyStepper(torch::jit::Module& module, bool stochastic)
      : act_(module.get_method(stochastic ? "stochastic_action" : "forward")),
        initial_state_(module.find_method("initial_state")) {}

  // An episode starts.
  void Reset() {
    if (initial_state_) state_ = (*initial_state_)({int64_t{1}}).toTensor();
  }
  // The action for obs [1, obs_dim].
  torch::Tensor Act(const torch::Tensor& obs) {
    if (!initial_state_) return act_({obs}).toTensor().contiguous();
    const auto out = act_({obs, state_}).toTuple();
    state_ = out->elements()[1].toTensor();
    return out->elements()[0].toTensor().contiguous();
  }

 private:
  torch::jit::Method act_;
  c10::optional<torch::jit::Method> initial_state_;
  torch::Tensor state_;
};

// Runs `episodes` episodes of `env` with `policy`, episode
// e from seed + e; with `video`, one frame per control step of `mujoco_env`,
// showing the command and the velocity on a task with commands.
//   With `record`, every step as examples/deploy_cpp --replay reads it:
//   "step EPISODE T", the readings (MjcfEnv::Readings), then "obs", "action"
//   and "ctrl" lines of hex floats: the observation, the policy's output and
//   the actuator targets the env wrote.
Episodes RunEpisodes(envs::Env& env, PolicyStepper& policy, int policy_obs_dim, int episodes,
                     uint64_t seed, VideoRecorder* video, const envs::MujocoEnv* mujoco_env,
                     std::FILE* record) {
  const envs::EnvSpec& spec = env.spec();
  const auto* robot = dynamic_cast<const envs::MjcfEnv*>(&env);
  torch::Tensor obs = torch::zeros({1, spec.obs_dim});
  Episodes result;
  result.tracks = robot != nullptr && robot->commands().enabled();
  // the command of the step about to be taken, and the velocity the last one left
  const auto frame = [&](const envs::VelocityCommand& command) {
    if (!video) return;
    if (result.tracks) {
      video->AddFrame(mujoco_env->data(), "command\nvelocity",
                      VelocityText(command) + "\n" + VelocityText(robot->velocity()));
    } else {
      video->AddFrame(mujoco_env->data());
    }
  };
  for (int e = 0; e < episodes; ++e) {
    env.Reset(seed + static_cast<uint64_t>(e), obs.data_ptr<float>());
    policy.Reset();
    frame(result.tracks ? robot->command() : envs::VelocityCommand{});
    double ret = 0.0;
    int length = 0;
    for (;;) {
      torch::Tensor action = policy.Act(obs.narrow(1, 0, policy_obs_dim));
      if (record != nullptr) {
        std::fprintf(record, "step %d %d\n%s", e, length, robot->Readings().c_str());
        WriteHex(record, "obs", obs.data_ptr<float>(), policy_obs_dim);
        WriteHex(record, "action", action.data_ptr<float>(), spec.act_dim);
      }
      // the command the policy saw, against the velocity the step reached
      const envs::VelocityCommand command =
          result.tracks ? robot->command() : envs::VelocityCommand{};
      envs::StepResult r = env.Step(action.data_ptr<float>(), obs.data_ptr<float>());
      if (record != nullptr) WriteHex(record, "ctrl", mujoco_env->data()->ctrl, spec.act_dim);
      if (result.tracks) {
        const envs::VelocityCommand v = robot->velocity();
        const double ex = command.lin_vel_x - v.lin_vel_x, ey = command.lin_vel_y - v.lin_vel_y;
        result.lin_sq += ex * ex + ey * ey;
        result.yaw_sq += (command.yaw_rate - v.yaw_rate) * (command.yaw_rate - v.yaw_rate);
        result.still_lin_sq +=
            command.lin_vel_x * command.lin_vel_x + command.lin_vel_y * command.lin_vel_y;
        result.still_yaw_sq += command.yaw_rate * command.yaw_rate;
        ++result.steps;
      }
      frame(result.tracks ? robot->command() : envs::VelocityCommand{});
      ret += r.reward;
      ++length;
      if (r.terminated) ++result.falls;
      if (r.terminated || r.truncated) break;
    }
    result.returns.push_back(ret);
    result.lengths.push_back(length);
  }
  return result;
}

// Mean and standard deviation of `v`.
std::pair<double, double> MeanStd(const std::vector<double>& v) {
  double mean = 0.0, var = 0.0;
  for (double x : v) mean += x / v.size();
  for (double x : v) var += (x - mean) * (x - mean) / v.size();
  return std::pair{mean, std::sqrt(var)};
}

}  // namespace

int ExportCommand(int argc, char** argv) {
  cxxopts::Options options("robofleet export",
                           "Export a run's policy as TorchScript from any of its checkpoints.");
  options.positional_help("RUN_DIR");
  options.add_options()("run-dir", "run directory", cxxopts::value<std::string>())(
      "checkpoint", "checkpoint file (default: the run's latest)", cxxopts::value<std::string>())(
      "out", "output file (default: RUN_DIR/policy.pt)", cxxopts::value<std::string>())(
      "h,help", "show this help");
  options.parse_positional({"run-dir"});
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (!args.count("run-dir")) throw UserError("no run directory; usage: robofleet export RUN_DIR");
  const std::string run_dir = args["run-dir"].as<std::string>();
  if (!fs::exists(run_dir + "/config.yaml")) {
    throw UserError(run_dir + ": not a run directory (no config.yaml)");
  }
  std::string checkpoint = args.count("checkpoint")
                               ? args["checkpoint"].as<std::string>()
                               : learner::LatestCheckpoint(run_dir + "/checkpoints");
  if (checkpoint.empty()) throw UserError(run_dir + ": the run has no checkpoint yet");
  if (!fs::is_regular_file(checkpoint)) throw UserError(checkpoint + ": no such checkpoint file");
  std::string problem;
  if (!learner::VerifyCheckpoint(checkpoint, &problem)) {
    throw UserError(checkpoint + ": not a sound checkpoint (" + problem +
                    "); name a ckpt-N.pt of the run's checkpoints folder");
  }
  const std::string out =
      args.count("out") ? args["out"].as<std::string>() : run_dir + "/policy.pt";
  CheckOutputFile(out, "--out");

  // the checkpoint must be this run's, with the shapes of its config
  const ExperimentConfig config = LoadRunConfig(run_dir);
  const learner::TaskInfo task = TaskInfoFor(config);
  learner::CheckCheckpointOwner(
      checkpoint, {learner::ReadRunId(run_dir), learner::RunShapes(config, task)}, run_dir);
  learner::ExportCheckpoint(config, task, checkpoint, out);
  std::printf("exported %s -> %s\n", checkpoint.c_str(), out.c_str());
  return 0;
}

int EvalCommand(int argc, char** argv) {
  cxxopts::Options options = EvalOptions();
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  if (!args.count("policy")) throw UserError("no policy file; usage: robofleet eval POLICY.pt");
  const std::string path = args["policy"].as<std::string>();
  const int episodes = args["episodes"].as<int>();
  if (episodes <= 0) throw UserError("--episodes must be >= 1");
  const uint64_t seed = args["seed"].as<uint64_t>();

  LoadedPolicy policy = LoadPolicy(path);
  // the env and its config come from the metadata unless --env names another
  ExperimentConfig trained =
      ParseExperiment(policy.metadata["config"].as<std::string>(""), path + ":metadata.json");
  EnvConfig other;  // the defaults of the env --env names
  if (args.count("env")) other.id = args["env"].as<std::string>();
  EnvConfig env_config = args.count("env") ? other : trained.env;
  // a policy with an observation history keeps it itself: the env gives one step
  env_config.obs_history = 1;
  std::unique_ptr<envs::Env> env = envs::MakeEnv(env_config);
  const envs::EnvSpec& spec = env->spec();
  const int obs_dim = policy.metadata["obs_dim"].as<int>(-1);
  const int act_dim = policy.metadata["act_dim"].as<int>(-1);
  // the policy reads what the robot observes, never a privileged critic's entries
  const int policy_obs_dim = spec.obs_dim - spec.privileged_dim;
  if (obs_dim != policy_obs_dim || act_dim != spec.act_dim) {
    throw UserError(path + " takes " + std::to_string(obs_dim) + " observations and gives " +
                    std::to_string(act_dim) + " actions, but env '" + spec.id + "' has " +
                    std::to_string(policy_obs_dim) + " and " + std::to_string(spec.act_dim) +
                    "; choose the env it was trained on");
  }

  // offscreen video of every episode, one frame per control step
  std::unique_ptr<VideoRecorder> video;
  const envs::MujocoEnv* mujoco_env = dynamic_cast<const envs::MujocoEnv*>(env.get());
  if (args.count("video")) {
    if (mujoco_env == nullptr) throw UserError("env '" + spec.id + "' cannot be rendered");
    VideoOptions video_options;
    video_options.path = args["video"].as<std::string>();
    CheckOutputFile(video_options.path, "--video");
    video_options.width = args["width"].as<int>();
    video_options.height = args["height"].as<int>();
    video_options.camera = args["camera"].as<std::string>();
    video_options.fps = 1.0 / spec.control_dt;
    video = std::make_unique<VideoRecorder>(mujoco_env->model(), video_options);
  }

  torch::NoGradGuard no_grad;
  PolicyStepper stepper(policy.module, args.count("stochastic") > 0);
  // a recording for the controller example, written whole or not at all
  std::string record_path, record_temp;
  std::FILE* record = nullptr;
  if (args.count("record")) {
    record_path = args["record"].as<std::string>();
    CheckOutputFile(record_path, "--record");
    if (spec.controller_json.empty() || dynamic_cast<const envs::MjcfEnv*>(env.get()) == nullptr) {
      throw UserError("--record: env '" + spec.id +
                      "' does not describe how a controller builds its observation; record a "
                      "robot task (env.mjcf with env.mjcf.observations)");
    }
    record_temp = record_path + ".tmp";
    record = std::fopen(record_temp.c_str(), "w");
    if (record == nullptr) throw UserError("--record: cannot write " + record_temp);
  }
  const Episodes result =
      RunEpisodes(*env, stepper, policy_obs_dim, episodes, seed, video.get(), mujoco_env, record);
  if (record != nullptr) {
    const bool written = std::fflush(record) == 0 && std::fclose(record) == 0;
    if (!written || std::rename(record_temp.c_str(), record_path.c_str()) != 0) {
      throw UserError("--record: cannot write " + record_path);
    }
  }

  int frames = 0;
  if (video) frames = video->Finish();

  auto [ret_mean, ret_std] = MeanStd(result.returns);
  auto [len_mean, len_std] = MeanStd(result.lengths);
  const double fall_rate = static_cast<double>(result.falls) / episodes;
  const double steps = static_cast<double>(std::max<int64_t>(result.steps, 1));
  const double lin_rms = std::sqrt(result.lin_sq / steps),
               yaw_rms = std::sqrt(result.yaw_sq / steps);
  const double still_lin_rms = std::sqrt(result.still_lin_sq / steps),
               still_yaw_rms = std::sqrt(result.still_yaw_sq / steps);
  if (args.count("json")) {
    std::string tracking;
    if (result.tracks) {
      char text[256];
      std::snprintf(text, sizeof(text),
                    ", \"lin_vel_rms_error\": %.4f, \"yaw_rate_rms_error\": %.4f, "
                    "\"still_lin_vel_rms_error\": %.4f, \"still_yaw_rate_rms_error\": %.4f",
                    lin_rms, yaw_rms, still_lin_rms, still_yaw_rms);
      tracking = text;
    }
    std::printf(
        "{\"policy\": \"%s\", \"env\": \"%s\", \"episodes\": %d, \"seed\": %llu, "
        "\"return_mean\": %.4f, \"return_std\": %.4f, \"length_mean\": %.2f, "
        "\"length_std\": %.2f, \"fall_rate\": %.4f%s}\n",
        path.c_str(), spec.id.c_str(), episodes, static_cast<unsigned long long>(seed), ret_mean,
        ret_std, len_mean, len_std, fall_rate, tracking.c_str());
  } else {
    std::printf(
        "%s on %s, %d episodes from seed %llu: return %.1f ± %.1f, length %.0f ± %.0f, "
        "falls %.0f%%\n",
        path.c_str(), spec.id.c_str(), episodes, static_cast<unsigned long long>(seed), ret_mean,
        ret_std, len_mean, len_std, 100.0 * fall_rate);
    if (result.tracks) {
      std::printf(
          "tracking over commands from the training ranges: RMS error %.3f m/s linear, "
          "%.3f rad/s yaw (standing still: %.3f m/s, %.3f rad/s)\n",
          lin_rms, yaw_rms, still_lin_rms, still_yaw_rms);
    }
  }
  if (video) {
    std::fprintf(args.count("json") ? stderr : stdout, "video: %d frames -> %s\n", frames,
                 args["video"].as<std::string>().c_str());
  }
  return 0;
}

}  // namespace robofleet::launcher

// `robofleet bench system`: end-to-end env steps/s of real actor processes
// streaming to a learner over real sockets, beside the simulator's ceiling
// measured in the same run: raw mj_step x frame_skip on as many processes as
// there are actors, with no policy, no learning and no transport.
//
//   --learner null  this process is the learner: it receives, validates and
//                   decodes every fragment into learner tensors
//                   (FragmentBatcher), then discards it. The ratio to the
//                   ceiling is what the framework costs.
//   --learner ALGO  a real `robofleet learner` child trains ALGO, an
//                   on-policy algorithm of the registry (algorithm.name is
//                   set to it); its SPS comes from metrics.csv, and the
//                   update's own time, measured here afterwards on a batch of
//                   the same shape, says what bounds it.
//
// The actors report where each microsecond of their env steps went
// (actors/rollout_times.h); peak resident memory comes from /proc (VmHWM).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/rollout_times.h"
#include "algorithms/algorithm.h"
#include "algorithms/registry.h"
#include "core/compute_threads.h"
#include "core/seeds.h"
#include "core/signals.h"
#include "core/transport.h"
#include "core/wire.h"
#include "envs/mujoco_env.h"
#include "envs/registry.h"
#include "launcher/bench/env_loops.h"
#include "launcher/cli.h"
#include "launcher/commands.h"
#include "launcher/process.h"
#include "learner/learner.h"

namespace robofleet::launcher {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Nothing arrives from the actors for this long: the run is broken.
constexpr double kStartTimeoutS = 60.0;

// The simulator's ceiling on `processes` processes at once: each is a
// forked copy of this one (ForkCall) that builds its model and raw loop,
// waits for the others, then steps for `seconds` under
// RandomAction(action_std). Returns the sum of their env steps/s.
double MeasureCeiling(const EnvConfig& config, int processes, int num_datas, double seconds,
                      uint64_t seed, double action_std) {
  int ready[2], go[2], result[2];
  if (pipe(ready) != 0 || pipe(go) != 0 || pipe(result) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<Child> children;
  for (int i = 0; i < processes; ++i) {
    children.push_back(ForkCall([&, i] {
      double rate = std::nan("");
      try {
        rate = RawStepsPerSecond(config, num_datas, seconds, DeriveSeed(seed, i), action_std, [&] {
          // every process is built and warm before any is timed
          char byte = 'r';
          if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1) _exit(1);
        });
      } catch (const std::exception& e) {
        std::fprintf(stderr, "robofleet bench: ceiling process: %s\n", e.what());
      }
      const ssize_t written = write(result[1], &rate, sizeof(rate));
      return written == sizeof(rate) ? 0 : 1;
    }));
  }
  close(ready[1]);
  close(go[0]);
  close(result[1]);
  for (int i = 0; i < processes; ++i) {
    char byte = 0;
    if (read(ready[0], &byte, 1) != 1) break;  // a child failed before timing
  }
  const std::string start(processes, 'g');
  if (write(go[1], start.data(), start.size()) != static_cast<ssize_t>(start.size())) {
    throw std::runtime_error("cannot start the ceiling processes");
  }
  double total = 0.0;
  for (int i = 0; i < processes; ++i) {
    double rate = std::nan("");
    if (read(result[0], &rate, sizeof(rate)) != sizeof(rate)) rate = std::nan("");
    total += rate;
  }
  for (Child& child : children) child.Wait();
  for (int fd : {ready[0], go[1], result[0]}) close(fd);
  if (!std::isfinite(total)) throw std::runtime_error("a ceiling process failed (see above)");
  return total;
}

// Where a learner was at one row of its metrics.csv.
struct ProgressPoint {
  double env_steps = 0.0;
  double wall_s = 0.0;
};

// Every row of metrics.csv so far (env_steps and wall_s are its first two columns).
std::vector<ProgressPoint> ReadMetrics(const std::string& path) {
  std::vector<ProgressPoint> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    ProgressPoint row;
    if (std::sscanf(line.c_str(), "%lf,%lf", &row.env_steps, &row.wall_s) == 2) {
      rows.push_back(row);
    }
  }
  return rows;
}

// The PPO update of `config` on a synthetic batch of `batch` samples, timed
// over whole updates for at least `seconds` on the learner's thread count.
// Returns seconds per update.
double TimeUpdate(const ExperimentConfig& config, const learner::TaskInfo& task, int64_t batch,
                  double seconds) {
  SetComputeThreads(config.learner.threads, "learner");
  SeedTorch(config.seed);
  ActorCritic policy(task.obs_dim, task.act_dim, config.policy, task.privileged_dim);
  std::unique_ptr<algorithms::OnPolicyAlgorithm> algorithm =
      algorithms::CreateOnPolicyAlgorithm(config.algorithm, policy);
  algorithms::RolloutBatch data;
  data.obs = torch::randn({batch, task.obs_dim});
  data.actions = torch::randn({batch, task.act_dim});
  data.advantages = torch::randn({batch});
  data.returns = torch::randn({batch});
  {
    torch::NoGradGuard no_grad;
    data.log_probs = policy->LogProb(policy->Distribution(data.obs), data.actions);
  }
  algorithm->Update(data, {});  // warm-up
  int updates = 0;
  const Clock::time_point start = Clock::now();
  while (SecondsSince(start) < seconds || updates < 2) {
    algorithm->Update(data, {});
    ++updates;
  }
  return SecondsSince(start) / updates;
}

// What the learner side measured.
struct LearnerSide {
  double sps = 0.0;             // env steps/s reaching the learner after the warm-up
  double window_s = 0.0;        // length of the measured window
  int64_t window_steps = 0;     // env steps in it
  int64_t fragments = 0;        // fragments received in all (null learner)
  int64_t dropped = 0;          // fragments that failed validation (null learner)
  double bytes_per_step = 0.0;  // on the wire, every frame (null learner: as received)
  int64_t peak_rss = -1;        // learner's VmHWM, bytes
  double cpu_s = 0.0;           // CPU seconds the learner process used in the window
  double cpu_wall_s = 0.0;      // wall seconds over which cpu_s was taken
};

// The actors: spawned with --stats, stopped, their counters read back.
class ActorGroup {
 public:
  ActorGroup(const std::string& exe, const std::string& run_dir, const Endpoints& endpoints,
             int count)
      : run_dir_(run_dir) {
    for (int i = 0; i < count; ++i) {
      pids_.push_back(
          Spawn({exe, "actor", "--run-dir", run_dir, "--index", std::to_string(i), "--traj",
                 endpoints.trajectories, "--weights", endpoints.weights, "--stats", StatsPath(i)}));
    }
  }
  ~ActorGroup() { Stop(); }

  // Throws when an actor has exited before being told to.
  void CheckAlive() {
    for (pid_t pid : pids_) {
      if (const std::optional<int> status = TryReap(pid)) {
        pids_.erase(std::find(pids_.begin(), pids_.end(), pid));
        throw std::runtime_error("an actor exited early (" + DescribeStatus(*status) +
                                 "); its error is above");
      }
    }
  }

  // Largest VmHWM among the live actors, bytes.
  int64_t PeakRss() const {
    int64_t peak = -1;
    for (pid_t pid : pids_) peak = std::max(peak, PeakRssBytes(pid));
    return peak;
  }

  void Stop() {
    if (pids_.empty()) return;
    SignalAndReap(SignalAndReap(pids_, SIGTERM, 10.0), SIGKILL, 5.0);
    pids_.clear();
  }

  // The counters of every actor summed (call after Stop).
  actors::RolloutTimes Times(int count) const {
    actors::RolloutTimes sum;
    for (int i = 0; i < count; ++i) {
      std::ifstream in(StatsPath(i));
      std::stringstream text;
      text << in.rdbuf();
      actors::RolloutTimes t;
      if (!actors::RolloutTimes::FromJson(text.str(), &t)) {
        throw std::runtime_error("actor " + std::to_string(i) + " wrote no counters to " +
                                 StatsPath(i));
      }
      sum.simulate_s += t.simulate_s;
      sum.inference_s += t.inference_s;
      sum.serialise_s += t.serialise_s;
      sum.send_s += t.send_s;
      sum.wait_s += t.wait_s;
      sum.weights_s += t.weights_s;
      sum.fragments += t.fragments;
      sum.env_steps += t.env_steps;
      sum.bytes += t.bytes;
    }
    return sum;
  }

 private:
  std::string StatsPath(int i) const { return run_dir_ + "/actor" + std::to_string(i) + ".json"; }

  std::string run_dir_;
  std::vector<pid_t> pids_;
};

// The learner's trajectory socket, bound at `endpoint` with the learner's
// options: a high-water mark for every actor's sends, and no message larger
// than a fragment can be.
zmq::socket_t BindTrajectories(zmq::context_t& context, const ExperimentConfig& config,
                               const learner::TaskInfo& task, const std::string& endpoint) {
  const int T = config.actors.rollout_length, K = config.actors.envs_per_actor;
  const int M = config.actors.count;
  zmq::socket_t pull(context, zmq::socket_type::pull);
  pull.set(zmq::sockopt::rcvhwm, std::max(2, M * config.actors.send_hwm));
  pull.set(zmq::sockopt::linger, 0);
  const int64_t widest = std::max({task.obs_dim, task.act_dim, 1});
  pull.set(zmq::sockopt::maxmsgsize,
           static_cast<int64_t>(sizeof(float)) * (T + 1) * K * widest + 4096);
  pull.bind(endpoint);
  return pull;
}

// This process as the learner: receive, validate, batch, discard. Publishes
// the weights until every actor has sent a fragment (PUB drops messages sent
// before a subscriber joins), then measures `seconds` after `warmup_s`.
LearnerSide RunNullLearner(const ExperimentConfig& config, const learner::TaskInfo& task,
                           const Endpoints& endpoints, ActorGroup& actors, double warmup_s,
                           double seconds, int64_t* actor_peak_rss) {
  const int T = config.actors.rollout_length, K = config.actors.envs_per_actor;
  const int M = config.actors.count;
  const int64_t steps_per_fragment = StepsPerFragment(config);
  const int num_fragments = static_cast<int>(FragmentsPerBatch(config));

  SetComputeThreads(config.learner.threads, "learner");
  ActorCritic policy(task.obs_dim, task.act_dim, config.policy, task.privileged_dim);
  RunningNormalizer normalizer(task.obs_dim, config.normalizer.clip, config.normalizer.enabled);
  learner::FragmentBatcher batcher(T, K, task.obs_dim, task.act_dim, num_fragments);

  // the sockets exactly as the learner sets them up
  zmq::context_t context(1);
  zmq::socket_t pull = BindTrajectories(context, config, task, endpoints.trajectories);
  zmq::socket_t pub(context, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind(endpoints.weights);
  learner::WeightsPublisher publisher(pub);
  publisher.Publish(policy, normalizer, 0);

  LearnerSide out;
  std::vector<bool> heard(M, false);
  int heard_count = 0;
  std::vector<zmq::message_t> parts;
  const Clock::time_point launched = Clock::now();
  Clock::time_point all_heard, window_start;
  bool warming = true, measuring = false;
  int64_t window_bytes = 0;
  while (!StopRequested()) {
    if (heard_count < M) {
      if (SecondsSince(launched) > kStartTimeoutS) {
        throw std::runtime_error("the actors sent nothing for " +
                                 std::to_string(static_cast<int>(kStartTimeoutS)) +
                                 " s; run `robofleet train` on the same settings to see why");
      }
      publisher.RepublishIfDue(policy, normalizer, 0);
    }
    if (warming && heard_count == M && SecondsSince(all_heard) >= warmup_s) {
      warming = false;
      measuring = true;
      window_start = Clock::now();
      out.cpu_s = -CpuSeconds(0);
    }
    if (measuring && SecondsSince(window_start) >= seconds) break;
    if (!RecvMultipart(pull, &parts, 50)) {
      actors.CheckAlive();
      continue;
    }
    std::vector<wire::Frame> frames = FramesOf(parts);
    wire::FragmentView fragment;
    wire::DecodeStatus status =
        wire::DecodeFragment(frames.data(), frames.size(), task.obs_dim, task.act_dim,
                             static_cast<int>(task.episode_info_names.size()), &fragment);
    if (status.ok() && (fragment.T != T || fragment.K != K)) status.error = "unexpected shape";
    ++out.fragments;
    if (!status.ok()) {
      ++out.dropped;
      continue;
    }
    batcher.Add(fragment);
    if (batcher.full()) batcher.Clear();
    if (fragment.sender_id < static_cast<uint32_t>(M) && !heard[fragment.sender_id]) {
      heard[fragment.sender_id] = true;
      if (++heard_count == M) all_heard = Clock::now();
    }
    if (measuring) {
      out.window_steps += steps_per_fragment;
      for (const wire::Frame& f : frames) window_bytes += static_cast<int64_t>(f.size);
    }
  }
  out.window_s = measuring ? SecondsSince(window_start) : 0.0;
  out.cpu_s += CpuSeconds(0);
  out.cpu_wall_s = out.window_s;
  out.sps = out.window_s > 0 ? out.window_steps / out.window_s : 0.0;
  out.bytes_per_step =
      out.window_steps > 0 ? static_cast<double>(window_bytes) / out.window_steps : 0.0;
  *actor_peak_rss = actors.PeakRss();
  // the actors see the stop request within one send timeout, full queue or not
  actors.Stop();
  out.peak_rss = PeakRssBytes(0);
  return out;
}

// A real `robofleet learner` child trains; SPS from its metrics.csv rows,
// between the first row after `warmup_s` and the last one `seconds` later.
LearnerSide RunPpoLearner(const std::string& run_dir, pid_t learner_pid, ActorGroup& actors,
                          double warmup_s, double seconds, int64_t* actor_peak_rss) {
  const std::string metrics = run_dir + "/metrics.csv";
  auto check_learner = [&] {
    if (const std::optional<int> status = TryReap(learner_pid)) {
      throw std::runtime_error("the learner exited early (" + DescribeStatus(*status) +
                               "); its error is above");
    }
  };
  LearnerSide out;
  const Clock::time_point launched = Clock::now();
  Clock::time_point first_row, window_start;
  bool have_first = false, measuring = false;
  ProgressPoint start_row, end_row;
  size_t start_index = 0;
  while (!StopRequested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    check_learner();
    actors.CheckAlive();
    const std::vector<ProgressPoint> rows = ReadMetrics(metrics);
    if (!have_first) {
      if (!rows.empty()) {
        have_first = true;
        first_row = Clock::now();
      } else if (SecondsSince(launched) > kStartTimeoutS) {
        throw std::runtime_error("the learner finished no update in " +
                                 std::to_string(static_cast<int>(kStartTimeoutS)) +
                                 " s; run `robofleet train` on the same settings to see why");
      }
      continue;
    }
    if (!measuring) {
      if (SecondsSince(first_row) >= warmup_s) {
        measuring = true;
        window_start = Clock::now();
        out.cpu_s = -CpuSeconds(learner_pid);
        start_index = rows.size() - 1;
        start_row = rows.back();
      }
      continue;
    }
    // at least `seconds`, and at least one update inside the window
    if (SecondsSince(window_start) >= seconds && rows.size() > start_index + 1) {
      end_row = rows.back();
      out.cpu_s += CpuSeconds(learner_pid);
      out.cpu_wall_s = SecondsSince(window_start);
      break;
    }
    if (SecondsSince(window_start) > seconds + kStartTimeoutS) {
      throw std::runtime_error("the learner finished no update in " +
                               std::to_string(static_cast<int>(kStartTimeoutS)) + " s");
    }
  }
  out.window_s = end_row.wall_s - start_row.wall_s;
  out.window_steps = static_cast<int64_t>(end_row.env_steps - start_row.env_steps);
  out.sps = out.window_s > 0 ? out.window_steps / out.window_s : 0.0;
  out.peak_rss = PeakRssBytes(learner_pid);
  *actor_peak_rss = actors.PeakRss();
  actors.Stop();
  // the learner ends as a run does: final checkpoint and export
  SignalAndReap(SignalAndReap({learner_pid}, SIGTERM, 30.0), SIGKILL, 5.0);
  return out;
}

// A fresh directory under /tmp, removed with everything in it on scope exit.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/robofleet-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("cannot create a directory in /tmp");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

double Mb(int64_t bytes) { return bytes < 0 ? -1.0 : bytes / (1024.0 * 1024.0); }

// "ppo, appo": the registry's on-policy algorithms, which --learner may name.
std::string OnPolicyNames() {
  std::string names;
  for (const std::string& name : algorithms::AlgorithmNames()) {
    if (!algorithms::IsOffPolicy(name)) names += (names.empty() ? "" : ", ") + name;
  }
  return names;
}

// The options of `robofleet bench system`.
cxxopts::Options BenchSystemOptions() {
  cxxopts::Options options(
      "robofleet bench system",
      "End-to-end env steps/s of real actor processes and a learner over real sockets, beside "
      "raw mj_step x frame_skip on as many processes (the simulator's ceiling), measured in the "
      "same run.");
  options.add_options()("env", "task name (default: the experiment's, else cartpole_swingup)",
                        cxxopts::value<std::string>())(
      "experiment", "experiment file for everything else (default: built-in defaults)",
      cxxopts::value<std::string>())(
      "actors", "actor processes (default: the experiment's actors.count)", cxxopts::value<int>())(
      "envs-per-actor", "envs per actor (default: the experiment's actors.envs_per_actor)",
      cxxopts::value<int>())(
      "seconds", "measured seconds, after the warm-up; also the ceiling's timed seconds",
      cxxopts::value<double>()->default_value("10"))(
      "warmup", "seconds of steady running before the measurement starts",
      cxxopts::value<double>()->default_value("2"))(
      "learner",
      "null: this process receives, decodes and discards; or an on-policy "
      "algorithm (" +
          OnPolicyNames() + "): a real learner trains it",
      cxxopts::value<std::string>()->default_value("null"))(
      "set", "experiment key=value, repeatable (e.g. policy.hidden=[256,256])",
      cxxopts::value<std::string>())("json", "print one JSON object")("h,help", "show this help");
  return options;
}

// The experiment the bench runs: the file's (or the defaults), with the
// flags as overrides on top, and a learner that trains until it is stopped.
ExperimentConfig BenchSystemConfig(const cxxopts::ParseResult& args,
                                   const std::string& learner_kind) {
  const bool real_learner = learner_kind != "null";
  if (args.count("actors") && args["actors"].as<int>() < 1) {
    throw UserError("--actors must be at least 1, e.g. --actors 2");
  }
  if (args.count("envs-per-actor") && args["envs-per-actor"].as<int>() < 1) {
    throw UserError("--envs-per-actor must be at least 1, e.g. --envs-per-actor 16");
  }
  // the flags are overrides on top of the experiment, so they are checked as --set values are
  std::vector<std::string> overrides = SetOverrides(args);
  if (args.count("env")) overrides.push_back("env.id=" + args["env"].as<std::string>());
  if (real_learner) overrides.push_back("algorithm.name=" + learner_kind);
  if (args.count("actors")) {
    overrides.push_back("actors.count=" + std::to_string(args["actors"].as<int>()));
  }
  if (args.count("envs-per-actor")) {
    overrides.push_back("actors.envs_per_actor=" +
                        std::to_string(args["envs-per-actor"].as<int>()));
  }
  ExperimentConfig config;
  if (args.count("experiment")) {
    config = LoadCheckedExperiment(args["experiment"].as<std::string>(), overrides);
  } else {
    ApplyOverrides(config, overrides);
    algorithms::ValidateAlgorithm(config);
  }
  // the learner trains until it is stopped
  config.train.total_env_steps = int64_t{1} << 50;
  config.train.record_video = false;
  return config;
}

// What an actor's env step costs in one phase, in microseconds.
struct Phase {
  const char* name;
  double us;
};

// Everything the system bench prints: the measurement and what follows from it.
struct SystemReport {
  LearnerSide side;
  int64_t actor_peak_rss = -1;
  actors::RolloutTimes times;
  double ceiling_before = 0.0, ceiling_after = 0.0;  // env steps/s
  double ceiling_sps = 0.0, ratio = 0.0;
  std::vector<Phase> phases;  // where an actor's env step goes
  double total_us = 0.0;      // an actor's env step, in all
  double busy_s = 0.0;        // actor seconds not blocked on the learner
  double actor_capacity = 0.0, learner_cores = 0.0, learner_cpu_us = 0.0;
  int64_t batch = 0;
  double learner_capacity = 0.0, update_s = 0.0, serial_estimate = 0.0;
  const char* bound = "";
  unsigned cores = 0;
};

// The measurement: the ceiling for half the time before the system runs and
// half after, so that a load that comes or goes shows in both, and between
// them the actors and the learner over real sockets. Returns false when
// Ctrl-C stopped it.
bool MeasureSystem(const ExperimentConfig& config, const learner::TaskInfo& task,
                   const std::string& learner_kind, double warmup_s, double seconds,
                   SystemReport* report) {
  const int M = config.actors.count, K = config.actors.envs_per_actor;
  // the physics under the actions a fresh policy sends: contacts, and so the
  // cost of mj_step, depend on them
  const double action_std = std::exp(config.policy.init_log_std);
  report->ceiling_before = MeasureCeiling(config.env, M, K, seconds / 2, config.seed, action_std);

  const TempDir dir;
  {
    std::ofstream out(dir.path() + "/config.yaml");
    out << ToYaml(config);
  }
  const Endpoints endpoints = IpcEndpoints(dir.path(), 0);
  const std::string exe = SelfExe();
  LearnerSide& side = report->side;
  int64_t& actor_peak_rss = report->actor_peak_rss;
  actors::RolloutTimes& times = report->times;
  if (learner_kind == "null") {
    ActorGroup actor_group(exe, dir.path(), endpoints, M);
    side = RunNullLearner(config, task, endpoints, actor_group, warmup_s, seconds, &actor_peak_rss);
    if (!StopRequested()) times = actor_group.Times(M);
  } else {
    const pid_t learner_pid =
        Spawn({exe, "learner", "--run-dir", dir.path(), "--traj", endpoints.trajectories,
               "--weights", endpoints.weights, "--quiet"});
    ActorGroup actor_group(exe, dir.path(), endpoints, M);
    try {
      side =
          RunPpoLearner(dir.path(), learner_pid, actor_group, warmup_s, seconds, &actor_peak_rss);
    } catch (...) {
      actor_group.Stop();
      SignalAndReap({learner_pid}, SIGKILL, 5.0);
      throw;
    }
    if (!StopRequested()) times = actor_group.Times(M);
    side.bytes_per_step =
        times.env_steps > 0 ? static_cast<double>(times.bytes) / times.env_steps : 0.0;
  }
  if (StopRequested()) return false;
  report->ceiling_after = MeasureCeiling(config.env, M, K, seconds / 2, config.seed, action_std);
  return true;
}

// The figures that follow from the measurement (and, with a real learner,
// the update alone, timed here afterwards).
void DeriveFigures(const ExperimentConfig& config, const learner::TaskInfo& task,
                   const std::string& learner_kind, double seconds, SystemReport* report) {
  const int M = config.actors.count;
  const bool real_learner = learner_kind != "null";
  const LearnerSide& side = report->side;
  const actors::RolloutTimes& times = report->times;
  report->ceiling_sps = 0.5 * (report->ceiling_before + report->ceiling_after);
  report->ratio = side.sps / report->ceiling_sps;

  // where an actor's env step goes, in microseconds
  const double per_step = times.env_steps > 0 ? 1e6 / times.env_steps : 0.0;
  report->phases = {
      {"simulate", times.simulate_s * per_step},   {"inference", times.inference_s * per_step},
      {"serialise", times.serialise_s * per_step}, {"send", times.send_s * per_step},
      {"wait", times.wait_s * per_step},           {"weights", times.weights_s * per_step}};
  report->total_us = times.total_s() * per_step;
  // env steps/s the actors make while not blocked on the learner, all together:
  // M processes, each stepping at its env steps over its unblocked time
  report->busy_s = times.total_s() - times.wait_s;
  report->actor_capacity = report->busy_s > 0 ? M * times.env_steps / report->busy_s : 0.0;

  // the learner process's CPU per env step, and the cores it kept busy
  report->learner_cores = side.cpu_wall_s > 0 ? side.cpu_s / side.cpu_wall_s : 0.0;
  report->learner_cpu_us = side.sps > 0 ? 1e6 * report->learner_cores / side.sps : 0.0;
  // the learner's side of the arithmetic: what it absorbs when never idle, from
  // its CPU in the run (receiving, GAE, the update, metrics), and the PPO
  // update alone on a batch this shape, timed here afterwards as a cross-check
  report->batch = FragmentsPerBatch(config) * StepsPerFragment(config);
  report->learner_capacity = report->learner_cpu_us > 0 ? 1e6 / report->learner_cpu_us : 0.0;
  if (real_learner) {
    report->update_s = TimeUpdate(config, task, report->batch, std::clamp(seconds / 2, 1.0, 5.0));
  }
  // PPO is close to synchronous (small queues, bounded policy lag): collecting
  // and updating mostly take turns, so their times per env step add up
  report->serial_estimate = 1.0 / (1.0 / report->learner_capacity + 1.0 / report->actor_capacity);
  report->bound = report->learner_capacity < report->actor_capacity ? "update" : "simulation";
  report->cores = std::thread::hardware_concurrency();
}

// The report as one JSON object (--json).
void PrintSystemJson(const ExperimentConfig& config, const envs::EnvSpec& spec,
                     const std::string& learner_kind, double warmup_s, const SystemReport& report) {
  const bool real_learner = learner_kind != "null";
  const int M = config.actors.count, K = config.actors.envs_per_actor;
  const int T = config.actors.rollout_length;
  std::string phases_json;
  for (const Phase& p : report.phases) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "\"%s\": %.3f, ", p.name, p.us);
    phases_json += buf;
  }
  std::printf(
      "{\"bench\": \"system\", \"env\": \"%s\", \"learner\": \"%s\", \"actors\": %d, "
      "\"envs_per_actor\": %d, \"rollout_length\": %d, \"frame_skip\": %d, \"cores\": %u, "
      "\"seconds\": %.3f, \"warmup_s\": %.3f, \"sps\": %.1f, \"ceiling_sps\": %.1f, "
      "\"ceiling_before_sps\": %.1f, \"ceiling_after_sps\": %.1f, "
      "\"ratio\": %.4f, \"window_env_steps\": %lld, \"bytes_per_env_step\": %.2f, "
      "\"learner_peak_rss_mb\": %.1f, \"actor_peak_rss_mb\": %.1f, "
      "\"actor_us_per_env_step\": {%s\"total\": %.3f}, \"actor_capacity_sps\": %.1f, "
      "\"actor_fragments\": %lld, \"learner_cores\": %.3f, "
      "\"learner_cpu_us_per_env_step\": %.3f",
      spec.id.c_str(), learner_kind.c_str(), M, K, T, spec.frame_skip, report.cores,
      report.side.window_s, warmup_s, report.side.sps, report.ceiling_sps, report.ceiling_before,
      report.ceiling_after, report.ratio, static_cast<long long>(report.side.window_steps),
      report.side.bytes_per_step, Mb(report.side.peak_rss), Mb(report.actor_peak_rss),
      phases_json.c_str(), report.total_us, report.actor_capacity,
      static_cast<long long>(report.times.fragments), report.learner_cores, report.learner_cpu_us);
  if (learner_kind == "null") {
    std::printf(", \"received_fragments\": %lld, \"dropped_fragments\": %lld",
                static_cast<long long>(report.side.fragments),
                static_cast<long long>(report.side.dropped));
  }
  if (real_learner) {
    std::printf(
        ", \"batch\": %lld, \"epochs\": %d, \"learner_capacity_sps\": %.1f, "
        "\"actors_busy\": %.4f, \"serial_estimate_sps\": %.1f, \"bound\": \"%s\", "
        "\"update_s\": %.6f, \"update_samples_per_s\": %.1f, \"update_capacity_sps\": %.1f",
        static_cast<long long>(report.batch), config.algorithm.epochs, report.learner_capacity,
        report.busy_s / std::max(report.times.total_s(), 1e-9), report.serial_estimate,
        report.bound, report.update_s, report.batch * config.algorithm.epochs / report.update_s,
        report.batch / report.update_s);
  }
  std::printf("}\n");
}

// The report for people.
void PrintSystemText(const ExperimentConfig& config, const envs::EnvSpec& spec,
                     const std::string& learner_kind, double warmup_s, const SystemReport& report) {
  const int M = config.actors.count, K = config.actors.envs_per_actor;
  const int T = config.actors.rollout_length;
  std::printf("system bench: %s, %d actors x %d envs, %d-step fragments, %s learner, %u cores\n",
              spec.id.c_str(), M, K, T, learner_kind.c_str(), report.cores);
  std::printf("  reaching the learner   %10.0f env steps/s (%.1f s after %.1f s warm-up)\n",
              report.side.sps, report.side.window_s, warmup_s);
  std::printf(
      "  ceiling                %10.0f env steps/s (raw mj_step x %d on %d processes; "
      "%.0f before, %.0f after)\n",
      report.ceiling_sps, spec.frame_skip, M, report.ceiling_before, report.ceiling_after);
  std::printf("  ratio                  %10.3f\n", report.ratio);
  std::printf("  on the wire            %10.1f bytes per env step (%.2f MB/s)\n",
              report.side.bytes_per_step, report.side.bytes_per_step * report.side.sps / 1e6);
  std::printf("  peak RSS               %10.1f MB learner, %.1f MB largest actor\n",
              Mb(report.side.peak_rss), Mb(report.actor_peak_rss));
  std::printf("  an actor's env step    %10.2f us:", report.total_us);
  for (const Phase& p : report.phases) {
    std::printf(" %s %.2f (%.0f%%)", p.name, p.us,
                report.total_us > 0 ? 100.0 * p.us / report.total_us : 0.0);
  }
  std::printf("\n  actors unblocked       %10.0f env steps/s (all %d, time not waiting)\n",
              report.actor_capacity, M);
  std::printf("  learner CPU            %10.2f us per env step (%.2f cores busy)\n",
              report.learner_cpu_us, report.learner_cores);
  if (learner_kind == "null") {
    std::printf("  fragments              %10lld received, %lld dropped as invalid\n",
                static_cast<long long>(report.side.fragments),
                static_cast<long long>(report.side.dropped));
  } else {
    std::printf("  learner never idle     %10.0f env steps/s (1 / its CPU per env step)\n",
                report.learner_capacity);
    std::printf("  actors busy            %10.3f of their time (the rest waiting on the learner)\n",
                report.busy_s / std::max(report.times.total_s(), 1e-9));
    std::printf("  serial estimate        %10.0f env steps/s = 1 / (1/%.0f + 1/%.0f): %s-bound\n",
                report.serial_estimate, report.learner_capacity, report.actor_capacity,
                report.bound);
    std::printf(
        "  PPO update alone       %10.4f s per %lld-step batch x %d epochs: %.0f samples/s, "
        "%.0f env steps/s (timed afterwards)\n",
        report.update_s, static_cast<long long>(report.batch), config.algorithm.epochs,
        report.batch * config.algorithm.epochs / report.update_s, report.batch / report.update_s);
  }
}

}  // namespace

int BenchSystem(int argc, char** argv) {
  cxxopts::Options options = BenchSystemOptions();
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const double seconds = args["seconds"].as<double>();
  const double warmup_s = args["warmup"].as<double>();
  const std::string learner_kind = args["learner"].as<std::string>();
  if (!(seconds > 0)) throw UserError("--seconds must be > 0, e.g. --seconds 10");
  if (!(warmup_s >= 0)) throw UserError("--warmup must be >= 0, e.g. --warmup 2");
  const bool real_learner = learner_kind != "null";
  if (real_learner) {
    const algorithms::AlgorithmEntry* entry = algorithms::FindAlgorithm(learner_kind);
    if (entry == nullptr || entry->off_policy()) {
      throw UserError("--learner " + learner_kind + ": expected null or " + OnPolicyNames() +
                      " (an on-policy algorithm, for a real learner to train)");
    }
  }

  const ExperimentConfig config = BenchSystemConfig(args, learner_kind);
  const learner::TaskInfo task = TaskInfoFor(config);
  const envs::EnvSpec spec = envs::GetEnvSpec(config.env);
  {
    const std::unique_ptr<envs::Env> probe = envs::MakeEnv(config.env);
    if (dynamic_cast<const envs::MujocoEnv*>(probe.get()) == nullptr) {
      throw UserError("env '" + config.env.id + "' is not a MuJoCo env; the ceiling needs mj_step");
    }
  }
  InstallStopHandlers();

  SystemReport report;
  if (!MeasureSystem(config, task, learner_kind, warmup_s, seconds, &report)) {
    std::fprintf(stderr, "robofleet bench: interrupted\n");
    return 130;
  }
  DeriveFigures(config, task, learner_kind, seconds, &report);
  if (args.count("json")) {
    PrintSystemJson(config, spec, learner_kind, warmup_s, report);
  } else {
    PrintSystemText(config, spec, learner_kind, warmup_s, report);
  }
  return 0;
}

}  // namespace robofleet::launcher

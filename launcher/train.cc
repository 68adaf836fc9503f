// `robofleet train`: resolve the config, make the run directory, start the
// learner and the actors as children of this same binary, supervise them.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <cxxopts.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/security.h"
#include "core/signals.h"
#include "envs/registry.h"
#include "launcher/cli.h"
#include "launcher/commands.h"
#include "launcher/process.h"
#include "learner/checkpoint.h"
#include "learner/device.h"
#include "learner/replay_buffer.h"

namespace robofleet::launcher {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// Nodes of one run: far more than any cluster a run spans, and small enough
// that ranks (nodes x learner.count) fit an int.
constexpr int kMaxNodes = 4096;

// An actor that ran this long before dying was not crash-looping.
constexpr auto kHealthyActorLife = std::chrono::seconds(3);

// How long the learners have to write their final checkpoint once asked to
// stop, before they are killed.
constexpr int kStopTimeoutS = 30;

std::string UtcTimestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return buf;
}

// Draws RUN_DIR/curves.png with scripts/plot_runs.py; a missing Python or
// matplotlib costs the picture, never the run.
void PlotCurves(const std::string& run_dir) {
  const std::string script = std::string(ROBOFLEET_SOURCE_DIR) + "/scripts/plot_runs.py";
  const std::string out = run_dir + "/curves.png";
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    if (RunQuietly({python, script, run_dir, "-o", out}).exit_code() == 0) return;
  }
  std::fprintf(stderr,
               "robofleet: no curves.png (needs python3 with matplotlib: "
               "apt-get install python3-matplotlib)\n");
}

// Socket files live in the run directory unless its path is too long for
// an ipc:// endpoint (about 100 bytes); then in a fresh /tmp directory.
std::string SocketDir(const std::string& run_dir, bool* is_temp) {
  std::string abs = fs::absolute(run_dir).string();
  *is_temp = abs.size() + 20 > 100;
  if (!*is_temp) return abs;
  char tmpl[] = "/tmp/robofleet-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("cannot create a socket directory");
  return tmpl;
}

// Where the learner binds and where actors connect: ipc sockets in the run
// directory, or tcp ports on transport.bind with the run's CURVE keys.
struct RunSockets {
  std::vector<Endpoints> learner;  // bind side, one per learner rank
  std::vector<Endpoints> actors;   // connect side, one per learner rank
  std::string temp_dir;            // a socket directory to remove at the end, if any
};

// Two tcp ports (trajectories, weights) per learner rank on transport.bind:
// with transport.port, global rank g gets transport.port + 2g and + 2g + 1
// (`first_rank` is this node's first). Throws UserError when the address is
// not this host's.
std::vector<int> TcpPorts(const TransportConfig& transport, int ranks, int first_rank) {
  try {
    std::vector<int> ports;
    FreePort(transport.bind);  // the address must be ours even when the ports are given
    for (int i = 0; i < 2 * ranks; ++i) {
      ports.push_back(transport.port > 0 ? transport.port + 2 * first_rank + i
                                         : FreePort(transport.bind));
    }
    return ports;
  } catch (const UserError& e) {
    throw UserError(std::string("transport.bind: ") + e.what() +
                    "; use an IPv4 address of this host, 127.0.0.1 or 0.0.0.0");
  }
}

// `keys_dir`: where the run's CURVE keys are (made there when missing).
RunSockets MakeRunSockets(const TransportConfig& transport, int ranks,
                          const std::vector<int>& ports, const std::string& run_dir,
                          const std::string& keys_dir_in) {
  RunSockets sockets;
  if (transport.bind == "ipc") {
    bool temp = false;
    const std::string socket_dir = SocketDir(run_dir, &temp);
    if (temp) sockets.temp_dir = socket_dir;
    for (int r = 0; r < ranks; ++r) sockets.learner.push_back(IpcEndpoints(socket_dir, r));
    sockets.actors = sockets.learner;
  } else {
    // actors on this machine reach a wildcard bind through loopback
    const std::string host = transport.bind == "0.0.0.0" ? "127.0.0.1" : transport.bind;
    auto tcp = [](const std::string& h, int port) {
      return "tcp://" + h + ":" + std::to_string(port);
    };
    std::string keys_dir;
    if (transport.curve) {
      keys_dir = fs::absolute(keys_dir_in).string();
      LoadOrCreateRunKeys(keys_dir);
    } else {
      std::fprintf(stderr,
                   "robofleet: transport.curve is off: anyone who can reach %s may "
                   "feed this run and read its weights\n",
                   transport.bind.c_str());
    }
    for (int r = 0; r < ranks; ++r) {
      const int traj = ports[2 * r], weights = ports[2 * r + 1];
      sockets.learner.push_back(
          {tcp(transport.bind, traj), tcp(transport.bind, weights), keys_dir});
      sockets.actors.push_back({tcp(host, traj), tcp(host, weights), keys_dir});
    }
  }
  // for people and for actors started by hand on other machines: rank 0's
  // sockets first (its weights are every actor's), then the other ranks'
  std::string endpoints;
  for (size_t r = 0; r < sockets.actors.size(); ++r) {
    const std::string suffix = r == 0 ? "" : std::to_string(r);
    endpoints += "trajectories" + suffix + " " + sockets.actors[r].trajectories + "\n";
    if (r == 0) endpoints += "weights " + sockets.actors[r].weights + "\n";
  }
  endpoints += "keys " + sockets.actors[0].keys_dir + "\n";
  WriteFileAtomically(run_dir + "/endpoints", endpoints);
  return sockets;
}

// The options of `robofleet train`.
cxxopts::Options TrainOptions() {
  cxxopts::Options options("robofleet train", "Train a policy from an experiment file.");
  options.positional_help("EXP.yaml");
  options.add_options()("experiment", "experiment file", cxxopts::value<std::string>())(
      "set", "override a config key: --set section.key=value (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "run-dir", "run directory (default runs/<name>-<UTC timestamp>)",
      cxxopts::value<std::string>())(
      "resume", "continue the run in this directory from its newest checkpoint",
      cxxopts::value<std::string>())(
      "nnodes", "nodes in the run; each starts learner.count ranks and actors.count actors",
      cxxopts::value<int>()->default_value("1"))(
      "node-rank", "this node's index in [0, --nnodes); node 0 hosts rank 0",
      cxxopts::value<int>()->default_value("0"))(
      "master",
      "HOST:PORT where rank 0 (on node 0) hosts the ranks' rendezvous; needed "
      "with --nnodes > 1",
      cxxopts::value<std::string>())(
      "keys",
      "the run's CURVE key folder (default RUN_DIR/keys); nodes other than 0 "
      "need node 0's (a copy, or its run directory on a shared filesystem)",
      cxxopts::value<std::string>())("h,help", "show this help");
  options.parse_positional({"experiment"});
  return options;
}

// Everything `train` resolves from its arguments before it makes anything.
struct TrainPlan {
  ExperimentConfig config;
  envs::EnvSpec spec;
  std::string experiment;  // the file the config came from, for messages
  std::string run_dir;
  bool resume = false;
  int nnodes = 1, node_rank = 0;
  // this node's ranks: global ranks first_rank .. first_rank + ranks - 1 of world
  int ranks = 1, world = 1, first_rank = 0;
  std::string master;          // HOST:PORT of the ranks' rendezvous; "" for one rank
  std::string remote_weights;  // nodes other than 0: rank 0's weights on the master host
  std::vector<int> ports;      // this node's tcp ports (TcpPorts); none with ipc
};

// The config (the experiment's, or the resumed run's) and the run directory;
// then the checks of the env, the replay memory and the learner device.
void ResolveConfigAndRunDir(const cxxopts::ParseResult& args, TrainPlan* plan) {
  const std::vector<std::string> overrides = SetOverrides(args);
  if (plan->resume) {
    plan->run_dir = args["resume"].as<std::string>();
    plan->experiment = plan->run_dir + "/config.yaml";
    if (!fs::exists(plan->experiment))
      throw UserError(plan->run_dir + ": not a run directory (no config.yaml)");
    if (learner::LatestCheckpoint(plan->run_dir + "/checkpoints").empty()) {
      throw UserError(plan->run_dir + ": no valid checkpoint to resume from");
    }
    if (args.count("experiment")) {
      throw UserError("--resume continues " + plan->run_dir + " with its own config.yaml, so " +
                      args["experiment"].as<std::string>() +
                      " would be ignored; drop it (change keys with --set)");
    }
    if (args.count("run-dir")) {
      throw UserError("--resume RUN and --run-dir both name the run folder; keep --resume");
    }
    // the run's own config, plus overrides (a longer run, say) that keep its shapes
    const ExperimentConfig run_config = LoadCheckedExperiment(plan->experiment);
    plan->config = LoadCheckedExperiment(plan->experiment, overrides);
    CheckResumeChanges(run_config, plan->config);
  } else {
    plan->experiment = args["experiment"].as<std::string>();
    plan->config = LoadCheckedExperiment(plan->experiment, overrides);
    plan->run_dir = args.count("run-dir") ? args["run-dir"].as<std::string>()
                                          : "runs/" + plan->config.name + "-" + UtcTimestamp();
    if (fs::exists(plan->run_dir) && !fs::is_empty(plan->run_dir)) {
      throw UserError("run directory " + plan->run_dir +
                      " exists and is not empty; choose another, "
                      "or continue it with --resume " +
                      plan->run_dir);
    }
  }
  try {
    plan->spec = envs::GetEnvSpec(plan->config.env);
  } catch (const UserError& e) {
    throw UserError(plan->experiment + ": " + e.what());
  }
  try {
    learner::CheckReplayMemory(plan->config.algorithm, plan->spec.obs_dim, plan->spec.act_dim,
                               plan->spec.id);
  } catch (const UserError& e) {
    throw UserError(plan->experiment + ": " + e.what());
  }
  learner::CheckLearnerDevice(plan->config.learner);
}

// This node's share of the learner ranks, where they meet, and the checks of
// a run across several nodes (--nnodes, --master, --keys).
void ResolveNodes(const cxxopts::ParseResult& args, TrainPlan* plan) {
  const ExperimentConfig& config = plan->config;
  const int nnodes = plan->nnodes, node_rank = plan->node_rank;
  plan->ranks = config.learner.count;
  plan->world = nnodes * plan->ranks;
  plan->first_rank = node_rank * plan->ranks;
  std::string master_host;
  if (nnodes > 1) {
    if (!args.count("master")) {
      throw UserError("--nnodes " + std::to_string(nnodes) +
                      " needs --master HOST:PORT: node "
                      "0's address and a free port for the ranks' rendezvous");
    }
    if (plan->resume) {
      throw UserError(
          "--resume with --nnodes > 1 is not supported: only node 0 has the "
          "checkpoints; resume on one node, or start a new run");
    }
    if (config.transport.bind == "ipc" || config.transport.port <= 0) {
      throw UserError("--nnodes " + std::to_string(nnodes) +
                      " needs transport.bind (this "
                      "node's address or 0.0.0.0) and transport.port: rank g listens on "
                      "transport.port + 2g, and every node's actors take rank 0's weights "
                      "from transport.port + 1 on the --master host");
    }
    if (config.transport.curve && node_rank > 0 && !args.count("keys")) {
      throw UserError("--node-rank " + std::to_string(node_rank) +
                      " with transport.curve "
                      "needs --keys DIR: node 0's RUN_DIR/keys (copied here, or on a shared "
                      "filesystem); or set transport.curve: false on a trusted network");
    }
  }
  if (args.count("master")) {
    const std::string given = args["master"].as<std::string>();
    const size_t colon = given.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == given.size()) {
      throw UserError("--master is '" + given + "'; use HOST:PORT, such as 10.0.0.1:29500");
    }
    master_host = given.substr(0, colon);
  }
  if (config.transport.bind != "ipc") {
    plan->ports = TcpPorts(config.transport, plan->ranks, plan->first_rank);
  }
  // learner ranks meet at a c10d store that rank 0 hosts (on loopback when
  // every rank is on this machine)
  if (args.count("master"))
    plan->master = args["master"].as<std::string>();
  else if (plan->world > 1)
    plan->master = "127.0.0.1:" + std::to_string(FreePort("127.0.0.1"));
  // actors on other nodes than 0 take the weights from rank 0's port on the master host
  if (node_rank > 0) {
    plan->remote_weights = "tcp://" + master_host + ":" + std::to_string(config.transport.port + 1);
  }
  // the keys of node 0 must already be there: nodes never make their own
  if (nnodes > 1 && node_rank > 0 && config.transport.curve) {
    try {
      ReadRunKeys(args["keys"].as<std::string>());
    } catch (const UserError& e) {
      throw UserError(std::string("--keys: ") + e.what() +
                      "; point --keys at node 0's "
                      "RUN_DIR/keys once node 0 has started");
    }
  }
}

// Reads and checks `train`'s arguments: everything that can be wrong with
// the input is found before anything is made.
TrainPlan ResolveTrainPlan(const cxxopts::ParseResult& args) {
  TrainPlan plan;
  plan.resume = args.count("resume") > 0;
  plan.nnodes = args["nnodes"].as<int>();
  plan.node_rank = args["node-rank"].as<int>();
  if (plan.nnodes < 1 || plan.nnodes > kMaxNodes) {
    throw UserError("--nnodes must be in [1, " + std::to_string(kMaxNodes) + "]");
  }
  if (plan.node_rank < 0 || plan.node_rank >= plan.nnodes) {
    throw UserError("--node-rank must be in [0, --nnodes)");
  }
  if (!args.count("experiment") && !plan.resume) {
    throw UserError("no experiment file; usage: robofleet train EXP.yaml (or --resume RUN_DIR)");
  }
  ResolveConfigAndRunDir(args, &plan);
  ResolveNodes(args, &plan);
  return plan;
}

// Makes the run directory with its config.yaml, the sockets (and keys, and
// the endpoints file), and says what is about to run.
RunSockets PrepareRunDir(const TrainPlan& plan, const std::string& keys_dir) {
  fs::create_directories(plan.run_dir);
  // the id every checkpoint of the run carries (kept when resuming)
  learner::MakeRunId(plan.run_dir);
  WriteFileAtomically(plan.run_dir + "/config.yaml", ToYaml(plan.config));
  RunSockets sockets =
      MakeRunSockets(plan.config.transport, plan.ranks, plan.ports, plan.run_dir, keys_dir);
  std::printf(
      "robofleet: training %s on %s (obs %d, act %d) with %d actors x %d envs; run dir %s\n",
      plan.config.name.c_str(), plan.spec.id.c_str(), plan.spec.obs_dim, plan.spec.act_dim,
      plan.config.actors.count, plan.config.actors.envs_per_actor, plan.run_dir.c_str());
  if (plan.nnodes > 1) {
    std::printf("robofleet: node %d of %d: learner ranks %d..%d of %d, rendezvous at %s\n",
                plan.node_rank, plan.nnodes, plan.first_rank, plan.first_rank + plan.ranks - 1,
                plan.world, plan.master.c_str());
  }
  std::fflush(stdout);
  return sockets;
}

// How the learners' part of a run ended.
enum class RunEnd {
  kFinished,  // every rank reached train.total_env_steps
  kStopped,   // a stop ended it first; the learners wrote their final checkpoint
  kKilled,    // a second Ctrl-C: every child was killed at once
  kFailed,    // a learner failed, or could not go on
};

// Starts this node's learner ranks and actors and keeps them going: restarts
// dead actors (with backoff) and dead learners (all ranks, from the last
// checkpoint); Run() returns when every learner rank has ended.
//
// Stopping: on the first SIGINT or SIGTERM the learners get SIGTERM (the
// children ignore the terminal's SIGINT: Spawn) and Run() waits for them to
// write their final checkpoint, up to kStopTimeoutS. A second SIGINT kills every child
// from the signal handler (KillAllChildren); Run() then reaps them all before
// it returns, so that no process of the run outlives the launcher.
class RunSupervisor {
 public:
  RunSupervisor(const TrainPlan& plan, const RunSockets& sockets, const std::string& exe)
      : plan_(plan), sockets_(sockets), exe_(exe) {}

  // Spawns everyone, supervises, and says how the learners ended.
  RunEnd Run() {
    SpawnLearners(plan_.resume);
    for (int i = 0; i < plan_.config.actors.count; ++i) actors_[SpawnActor(i)] = {i, Clock::now()};
    while (!end_) {
      if (SecondInterrupt()) {
        KillAndReapEveryone();
        end_ = RunEnd::kKilled;
        break;
      }
      if (StopRequested() && !stopping_) StopRun(nullptr);
      if (stopping_ && !stop_overdue_ && Clock::now() > stop_deadline_) {
        std::fprintf(stderr, "robofleet: the learner did not stop within %d s; killing it\n",
                     kStopTimeoutS);
        stop_overdue_ = true;
        SignalLearners(SIGKILL);
      }
      RestartDueActors();
      const std::optional<ExitedChild> exited = ReapAnyChild();
      const pid_t pid = exited ? exited->pid : -1;
      const int status = exited ? exited->status : 0;
      if (pid > 0 && learners_.count(pid)) {
        OnLearnerExit(pid, status);
      } else if (pid > 0 && actors_.count(pid)) {
        OnActorExit(pid, status);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return *end_;
  }

  // The wait status of the learner that failed the run (RunEnd::kFailed).
  int learner_status() const { return learner_status_; }
  // Why the launcher itself stopped the run, "" when it was asked to.
  const std::string& stop_reason() const { return stop_reason_; }

  // Ends the actors still running.
  void StopActors() {
    std::vector<pid_t> remaining;
    for (const auto& [pid, actor] : actors_) remaining.push_back(pid);
    remaining = SignalAndReap(remaining, SIGTERM, 5.0);
    SignalAndReap(remaining, SIGKILL, 5.0);
  }

 private:
  struct LiveActor {
    int index;
    Clock::time_point started;
  };

  pid_t SpawnLearner(int rank, bool from_checkpoint) {
    std::vector<std::string> child_argv = {exe_, "learner", "--run-dir", plan_.run_dir};
    AppendEndpointArgs(sockets_.learner[rank], &child_argv);
    if (plan_.world > 1) {
      child_argv.insert(child_argv.end(),
                        {"--rank", std::to_string(plan_.first_rank + rank), "--world-size",
                         std::to_string(plan_.world), "--master", plan_.master});
    }
    if (from_checkpoint) child_argv.push_back("--resume");
    return Spawn(child_argv);
  }

  pid_t SpawnActor(int i) {
    // actors of every node have their own index (and so their own seeds)
    std::vector<std::string> child_argv = {
        exe_,          "actor",   "--run-dir",
        plan_.run_dir, "--index", std::to_string(plan_.node_rank * plan_.config.actors.count + i)};
    // actor i feeds this node's rank i mod ranks; everyone's weights come from rank 0
    Endpoints endpoints = sockets_.actors[i % plan_.ranks];
    endpoints.weights = plan_.node_rank == 0 ? sockets_.actors[0].weights : plan_.remote_weights;
    AppendEndpointArgs(endpoints, &child_argv);
    return Spawn(child_argv);
  }

  void SpawnLearners(bool from_checkpoint) {
    for (int r = 0; r < plan_.ranks; ++r) learners_[SpawnLearner(r, from_checkpoint)] = r;
  }

  void SignalLearners(int sig) {
    std::vector<pid_t> pids;
    for (const auto& [pid, rank] : learners_) pids.push_back(pid);
    ForwardSignal(pids, sig);
  }

  void StopRun(const char* why) {
    if (why != nullptr) {
      std::fprintf(stderr, "robofleet: %s; stopping the run\n", why);
      stop_reason_ = why;
    } else {
      std::fprintf(stderr,
                   "robofleet: stopping; waiting for the final checkpoint (Ctrl-C again to end "
                   "every process of the run at once)\n");
    }
    stopping_ = true;
    SignalLearners(SIGTERM);
    stop_deadline_ = Clock::now() + std::chrono::seconds(kStopTimeoutS);
  }

  // A second Ctrl-C: the signal handler has sent SIGKILL to every child;
  // this reaches one started since, and reaps them all.
  void KillAndReapEveryone() {
    std::fprintf(stderr, "robofleet: interrupted again; ending every process of the run now\n");
    std::vector<pid_t> pids;
    for (const auto& [pid, rank] : learners_) pids.push_back(pid);
    for (const auto& [pid, actor] : actors_) pids.push_back(pid);
    for (pid_t pid : SignalAndReap(pids, SIGKILL, 10.0)) {
      std::fprintf(stderr, "robofleet: process %d did not end within 10 s of SIGKILL\n", pid);
    }
    learners_.clear();
    actors_.clear();
    pending_.clear();
  }

  // Starts the actors whose backoff is over.
  void RestartDueActors() {
    while (!stopping_ && !StopRequested() && !pending_.empty() &&
           pending_.begin()->first <= Clock::now()) {
      const int index = pending_.begin()->second;
      pending_.erase(pending_.begin());
      actors_[SpawnActor(index)] = {index, Clock::now()};
    }
  }

  void OnLearnerExit(pid_t pid, int status) {
    const int rank = learners_[pid];
    learners_.erase(pid);
    const bool crashed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 1);
    const bool finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // a stop ended it after its final checkpoint (core/signals.h); or our
    // SIGTERM came before it could take one (it was still starting), or our
    // SIGKILL when it took too long: the newest whole checkpoint still counts
    const bool stopped = (WIFEXITED(status) && IsStoppedExitCode(WEXITSTATUS(status))) ||
                         (stopping_ && WIFSIGNALED(status) &&
                          (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL));
    const std::string who =
        plan_.world > 1 ? "learner rank " + std::to_string(plan_.first_rank + rank) : "the learner";
    if (finished || stopped) {
      any_rank_stopped_ = any_rank_stopped_ || stopped;
      if (++ended_ranks_ == plan_.ranks) {
        end_ = any_rank_stopped_ ? RunEnd::kStopped : RunEnd::kFinished;
      }
    } else if (!stopping_ && !StopRequested() && crashed && plan_.nnodes == 1 &&
               learner_restarts_ < plan_.config.launcher.max_restarts &&
               !learner::LatestCheckpoint(plan_.run_dir + "/checkpoints").empty()) {
      // ranks only work together: the others go too, and all restart
      ++learner_restarts_;
      std::fprintf(stderr,
                   "robofleet: %s ended (%s); restarting %s from its last "
                   "checkpoint (%d of %d)\n",
                   who.c_str(), DescribeStatus(status).c_str(),
                   plan_.ranks > 1 ? "every rank" : "it", learner_restarts_,
                   plan_.config.launcher.max_restarts);
      std::vector<pid_t> others;
      for (const auto& [other, r] : learners_) others.push_back(other);
      SignalAndReap(others, SIGKILL, 10.0);
      learners_.clear();
      ended_ranks_ = 0;
      any_rank_stopped_ = false;
      SpawnLearners(true);
    } else {
      // a failed rank fails the run; the others cannot go on without it (a
      // node with one rank has none here: the other nodes' fail on their own)
      std::vector<pid_t> others;
      for (const auto& [other, r] : learners_) others.push_back(other);
      if (plan_.world > 1) {
        std::fprintf(stderr, "robofleet: %s ended (%s)%s\n", who.c_str(),
                     DescribeStatus(status).c_str(),
                     others.empty() ? "" : "; stopping the other ranks");
      }
      SignalAndReap(SignalAndReap(others, SIGTERM, 10.0), SIGKILL, 5.0);
      learners_.clear();
      learner_status_ = status;
      end_ = RunEnd::kFailed;
    }
  }

  void OnActorExit(pid_t pid, int status) {
    const auto [index, started] = actors_[pid];
    actors_.erase(pid);
    // a crash loop is an actor that dies soon after it starts; one that ran
    // a while was healthy, and starts its backoff afresh
    if (Clock::now() - started > kHealthyActorLife) consecutive_failures_[index] = 0;
    if (stopping_ || StopRequested()) return;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
      // exit 2 is bad input (its line is above): a restart would meet it again
      StopRun(("actor " + std::to_string(index) + " cannot run (see its error above)").c_str());
      return;
    }
    actor_restarts_.push_back(Clock::now());
    while (actor_restarts_.front() < Clock::now() - std::chrono::minutes(1)) {
      actor_restarts_.pop_front();
    }
    if (static_cast<int>(actor_restarts_.size()) >
        plan_.config.launcher.actor_restarts_per_minute) {
      StopRun("actors keep failing (launcher.actor_restarts_per_minute)");
    } else {
      // backoff doubles with each quick death in a row: 0.25 s, 0.5 s, ... up to 8 s
      const int failures = consecutive_failures_[index]++;
      const auto delay = std::chrono::milliseconds(250 << std::min(failures, 5));
      std::fprintf(stderr, "robofleet: actor %d ended (%s); restarting it in %.2f s\n", index,
                   DescribeStatus(status).c_str(), delay.count() / 1000.0);
      pending_.emplace(Clock::now() + delay, index);
    }
  }

  const TrainPlan& plan_;
  const RunSockets& sockets_;
  const std::string exe_;
  std::map<pid_t, int> learners_;  // pid -> rank
  std::map<pid_t, LiveActor> actors_;
  std::optional<RunEnd> end_;  // set once every rank has ended
  int learner_status_ = 0;     // of the rank that failed the run
  int ended_ranks_ = 0;        // finished or stopped
  bool any_rank_stopped_ = false;
  std::string stop_reason_;
  int learner_restarts_ = 0;
  std::deque<Clock::time_point> actor_restarts_;   // within the last minute
  std::map<int, int> consecutive_failures_;        // actor index -> recent failures
  std::multimap<Clock::time_point, int> pending_;  // actor restarts waiting out their backoff
  bool stopping_ = false;
  bool stop_overdue_ = false;  // the learners got SIGKILL at the deadline
  Clock::time_point stop_deadline_;
};

// A stopped run's last word: where it stopped, by its newest checkpoint (the
// one --resume takes), and how to go on.
void ReportStopped(const TrainPlan& plan) {
  if (plan.node_rank > 0) {
    std::printf("robofleet: node %d stopped; the checkpoints are on node 0\n", plan.node_rank);
    return;
  }
  const std::string dir = plan.run_dir + "/checkpoints";
  const std::string checkpoint = learner::LatestCheckpoint(
      dir, learner::ResumableCheckpoints(dir, plan.config.train.deterministic));
  const int64_t steps = checkpoint.empty() ? -1 : learner::CheckpointEnvSteps(checkpoint);
  if (steps < 0) {
    std::printf("robofleet: stopped before the first checkpoint; nothing to resume\n");
    return;
  }
  std::printf("robofleet: stopped at %lld env steps; resume with robofleet train --resume %s\n",
              static_cast<long long>(steps), plan.run_dir.c_str());
}

// After the learners: the curves, the video, and the last word; returns the
// exit status of `train`: 0 finished; 130 (SIGINT) or 143 (SIGTERM) stopped
// by that signal, whether once (after the final checkpoint) or twice (at
// once); 1 failed, or stopped by the launcher itself.
int FinishRun(const TrainPlan& plan, const RunSupervisor& supervisor, RunEnd end,
              const std::string& exe) {
  if (end == RunEnd::kStopped || end == RunEnd::kKilled) {
    ReportStopped(plan);
    return supervisor.stop_reason().empty() ? StoppedExitCode() : 1;
  }
  if (end == RunEnd::kFailed) {
    std::fprintf(stderr, "robofleet: the learner failed (%s); see the output above\n",
                 DescribeStatus(supervisor.learner_status()).c_str());
    return 1;
  }
  if (plan.node_rank > 0) {
    std::printf("robofleet: node %d done; the policy is on node 0\n", plan.node_rank);
    return 0;
  }
  const std::string& run_dir = plan.run_dir;
  PlotCurves(run_dir);
  // a Ctrl-C after the learners finished: the policy is whole; skip the video
  if (plan.config.train.record_video && !StopRequested()) {
    const std::string video = run_dir + "/final.mp4";
    if (RunQuietly({exe, "eval", run_dir + "/policy.pt", "--episodes", "1", "--video", video})
            .exit_code() == 0) {
      std::printf("robofleet: video of the final policy at %s\n", video.c_str());
    } else if (!StopRequested()) {
      std::fprintf(stderr,
                   "robofleet: could not record %s; try robofleet eval %s/policy.pt "
                   "--video out.mp4 to see why\n",
                   video.c_str(), run_dir.c_str());
    }
  }
  std::printf("robofleet: done; policy at %s/policy.pt\n", run_dir.c_str());
  return 0;
}

}  // namespace

int TrainCommand(int argc, char** argv) {
  cxxopts::Options options = TrainOptions();
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const TrainPlan plan = ResolveTrainPlan(args);
  const RunSockets sockets = PrepareRunDir(
      plan, args.count("keys") ? args["keys"].as<std::string>() : plan.run_dir + "/keys");

  // a second Ctrl-C kills every child from the handler at once; the
  // supervisor reaps them before anything else happens
  StopHandling handling;
  handling.on_second_interrupt = [] { KillAllChildren(); };
  InstallStopHandlers(handling);
  const std::string exe = SelfExe();
  RunSupervisor supervisor(plan, sockets, exe);
  const RunEnd end = supervisor.Run();
  supervisor.StopActors();
  if (!sockets.temp_dir.empty()) fs::remove_all(sockets.temp_dir);
  return FinishRun(plan, supervisor, end, exe);
}

}  // namespace robofleet::launcher

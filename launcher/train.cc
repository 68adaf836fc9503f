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

// An actor that ran this long before dying was not crash-looping.
constexpr auto kHealthyActorLife = std::chrono::seconds(3);

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
  std::ofstream endpoints(run_dir + "/endpoints");
  for (size_t r = 0; r < sockets.actors.size(); ++r) {
    const std::string suffix = r == 0 ? "" : std::to_string(r);
    endpoints << "trajectories" << suffix << " " << sockets.actors[r].trajectories << "\n";
    if (r == 0) endpoints << "weights " << sockets.actors[r].weights << "\n";
  }
  endpoints << "keys " << sockets.actors[0].keys_dir << "\n";
  return sockets;
}

}  // namespace

int TrainCommand(int argc, char** argv) {
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
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const bool resume = args.count("resume") > 0;
  const int nnodes = args["nnodes"].as<int>();
  const int node_rank = args["node-rank"].as<int>();
  if (nnodes < 1) throw UserError("--nnodes must be >= 1");
  if (node_rank < 0 || node_rank >= nnodes) throw UserError("--node-rank must be in [0, --nnodes)");
  if (!args.count("experiment") && !resume) {
    throw UserError("no experiment file; usage: robofleet train EXP.yaml (or --resume RUN_DIR)");
  }

  // everything that can be wrong with the input is found before anything is made
  const std::vector<std::string> overrides = SetOverrides(args);
  std::string run_dir;
  ExperimentConfig config;
  std::string experiment;
  if (resume) {
    run_dir = args["resume"].as<std::string>();
    experiment = run_dir + "/config.yaml";
    if (!fs::exists(experiment))
      throw UserError(run_dir + ": not a run directory (no config.yaml)");
    if (learner::LatestCheckpoint(run_dir + "/checkpoints").empty()) {
      throw UserError(run_dir + ": no valid checkpoint to resume from");
    }
    // the run's own config, plus overrides (a longer run, say)
    config = LoadCheckedExperiment(experiment, overrides);
  } else {
    experiment = args["experiment"].as<std::string>();
    config = LoadCheckedExperiment(experiment, overrides);
    run_dir = args.count("run-dir") ? args["run-dir"].as<std::string>()
                                    : "runs/" + config.name + "-" + UtcTimestamp();
    if (fs::exists(run_dir) && !fs::is_empty(run_dir)) {
      throw UserError("run directory " + run_dir +
                      " exists and is not empty; choose another, "
                      "or continue it with --resume " +
                      run_dir);
    }
  }
  envs::EnvSpec spec;
  try {
    spec = envs::GetEnvSpec(config.env);
  } catch (const UserError& e) {
    throw UserError(experiment + ": env.id: " + e.what());
  }
  try {
    learner::CheckReplayMemory(config.algorithm, spec.obs_dim, spec.act_dim, spec.id);
  } catch (const UserError& e) {
    throw UserError(experiment + ": " + e.what());
  }
  learner::CheckLearnerDevice(config.learner);
  // this node's ranks: global ranks first_rank .. first_rank + ranks - 1 of world
  const int ranks = config.learner.count;
  const int world = nnodes * ranks, first_rank = node_rank * ranks;
  std::string master_host;
  if (nnodes > 1) {
    if (!args.count("master")) {
      throw UserError("--nnodes " + std::to_string(nnodes) +
                      " needs --master HOST:PORT: node "
                      "0's address and a free port for the ranks' rendezvous");
    }
    if (resume) {
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
  const std::vector<int> ports = config.transport.bind == "ipc"
                                     ? std::vector<int>()
                                     : TcpPorts(config.transport, ranks, first_rank);
  // learner ranks meet at a c10d store that rank 0 hosts (on loopback when
  // every rank is on this machine)
  std::string master;
  if (args.count("master"))
    master = args["master"].as<std::string>();
  else if (world > 1)
    master = "127.0.0.1:" + std::to_string(FreePort("127.0.0.1"));
  // actors on other nodes than 0 take the weights from rank 0's port on the master host
  const std::string remote_weights =
      node_rank > 0 ? "tcp://" + master_host + ":" + std::to_string(config.transport.port + 1)
                    : std::string();
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
  fs::create_directories(run_dir);
  {
    std::ofstream out(run_dir + "/config.yaml");
    out << ToYaml(config);
  }
  const RunSockets sockets =
      MakeRunSockets(config.transport, ranks, ports, run_dir,
                     args.count("keys") ? args["keys"].as<std::string>() : run_dir + "/keys");

  std::printf(
      "robofleet: training %s on %s (obs %d, act %d) with %d actors x %d envs; run dir %s\n",
      config.name.c_str(), spec.id.c_str(), spec.obs_dim, spec.act_dim, config.actors.count,
      config.actors.envs_per_actor, run_dir.c_str());
  if (nnodes > 1) {
    std::printf("robofleet: node %d of %d: learner ranks %d..%d of %d, rendezvous at %s\n",
                node_rank, nnodes, first_rank, first_rank + ranks - 1, world, master.c_str());
  }
  std::fflush(stdout);

  InstallStopHandlers();
  const std::string exe = SelfExe();
  auto spawn_learner = [&](int rank, bool from_checkpoint) {
    std::vector<std::string> child_argv = {exe, "learner", "--run-dir", run_dir};
    AppendEndpointArgs(sockets.learner[rank], &child_argv);
    if (world > 1) {
      child_argv.insert(child_argv.end(),
                        {"--rank", std::to_string(first_rank + rank), "--world-size",
                         std::to_string(world), "--master", master});
    }
    if (from_checkpoint) child_argv.push_back("--resume");
    return Spawn(child_argv);
  };
  auto spawn_actor = [&](int i) {
    // actors of every node have their own index (and so their own seeds)
    std::vector<std::string> child_argv = {
        exe,     "actor",   "--run-dir",
        run_dir, "--index", std::to_string(node_rank * config.actors.count + i)};
    // actor i feeds this node's rank i mod ranks; everyone's weights come from rank 0
    Endpoints endpoints = sockets.actors[i % ranks];
    endpoints.weights = node_rank == 0 ? sockets.actors[0].weights : remote_weights;
    AppendEndpointArgs(endpoints, &child_argv);
    return Spawn(child_argv);
  };
  std::map<pid_t, int> learners;  // pid -> rank
  auto spawn_learners = [&](bool from_checkpoint) {
    for (int r = 0; r < ranks; ++r) learners[spawn_learner(r, from_checkpoint)] = r;
  };
  auto signal_learners = [&](int sig) {
    std::vector<pid_t> pids;
    for (const auto& [pid, rank] : learners) pids.push_back(pid);
    ForwardSignal(pids, sig);
  };
  spawn_learners(resume);
  struct LiveActor {
    int index;
    Clock::time_point started;
  };
  std::map<pid_t, LiveActor> actors;
  for (int i = 0; i < config.actors.count; ++i) actors[spawn_actor(i)] = {i, Clock::now()};

  // supervise: restart dead actors (with backoff) and dead learners (all ranks,
  // from the last checkpoint); finish when every learner rank has finished
  int learner_status = -1;
  int finished_ranks = 0;
  int learner_restarts = 0;
  std::deque<Clock::time_point> actor_restarts;   // within the last minute
  std::map<int, int> consecutive_failures;        // actor index -> recent failures
  std::multimap<Clock::time_point, int> pending;  // actor restarts waiting out their backoff
  bool stopping = false;
  Clock::time_point stop_deadline;
  auto stop_run = [&](const char* why) {
    if (why != nullptr) std::fprintf(stderr, "robofleet: %s; stopping the run\n", why);
    stopping = true;
    signal_learners(SIGTERM);
    stop_deadline = Clock::now() + std::chrono::seconds(30);
  };
  while (learner_status == -1) {
    if (StopRequested() && !stopping) stop_run(nullptr);
    if (stopping && Clock::now() > stop_deadline) signal_learners(SIGKILL);
    while (!stopping && !pending.empty() && pending.begin()->first <= Clock::now()) {
      const int index = pending.begin()->second;
      pending.erase(pending.begin());
      actors[spawn_actor(index)] = {index, Clock::now()};
    }
    const std::optional<ExitedChild> exited = ReapAnyChild();
    const pid_t pid = exited ? exited->pid : -1;
    const int status = exited ? exited->status : 0;
    if (pid > 0 && learners.count(pid)) {
      const int rank = learners[pid];
      learners.erase(pid);
      const bool crashed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 1);
      const std::string who =
          world > 1 ? "learner rank " + std::to_string(first_rank + rank) : "the learner";
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (++finished_ranks == ranks) learner_status = status;
      } else if (!stopping && crashed && nnodes == 1 &&
                 learner_restarts < config.launcher.max_restarts &&
                 !learner::LatestCheckpoint(run_dir + "/checkpoints").empty()) {
        // ranks only work together: the others go too, and all restart
        ++learner_restarts;
        std::fprintf(stderr,
                     "robofleet: %s ended (%s); restarting %s from its last "
                     "checkpoint (%d of %d)\n",
                     who.c_str(), DescribeStatus(status).c_str(), ranks > 1 ? "every rank" : "it",
                     learner_restarts, config.launcher.max_restarts);
        std::vector<pid_t> others;
        for (const auto& [other, r] : learners) others.push_back(other);
        SignalAndReap(others, SIGKILL, 10.0);
        learners.clear();
        finished_ranks = 0;
        spawn_learners(true);
      } else {
        // a failed rank fails the run; the others cannot go on without it
        if (world > 1) {
          std::fprintf(stderr, "robofleet: %s ended (%s); stopping the other ranks\n", who.c_str(),
                       DescribeStatus(status).c_str());
        }
        std::vector<pid_t> others;
        for (const auto& [other, r] : learners) others.push_back(other);
        SignalAndReap(SignalAndReap(others, SIGTERM, 10.0), SIGKILL, 5.0);
        learners.clear();
        learner_status = status;
      }
    } else if (pid > 0 && actors.count(pid)) {
      const auto [index, started] = actors[pid];
      actors.erase(pid);
      // a crash loop is an actor that dies soon after it starts; one that ran
      // a while was healthy, and starts its backoff afresh
      if (Clock::now() - started > kHealthyActorLife) consecutive_failures[index] = 0;
      if (!stopping) {
        actor_restarts.push_back(Clock::now());
        while (actor_restarts.front() < Clock::now() - std::chrono::minutes(1)) {
          actor_restarts.pop_front();
        }
        if (static_cast<int>(actor_restarts.size()) > config.launcher.actor_restarts_per_minute) {
          stop_run("actors keep failing (launcher.actor_restarts_per_minute)");
        } else {
          // backoff doubles with each quick death in a row: 0.25 s, 0.5 s, ... up to 8 s
          const int failures = consecutive_failures[index]++;
          const auto delay = std::chrono::milliseconds(250 << std::min(failures, 5));
          std::fprintf(stderr, "robofleet: actor %d ended (%s); restarting it in %.2f s\n", index,
                       DescribeStatus(status).c_str(), delay.count() / 1000.0);
          pending.emplace(Clock::now() + delay, index);
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::vector<pid_t> remaining;
  for (const auto& [pid, actor] : actors) remaining.push_back(pid);
  remaining = SignalAndReap(remaining, SIGTERM, 5.0);
  SignalAndReap(remaining, SIGKILL, 5.0);
  if (!sockets.temp_dir.empty()) fs::remove_all(sockets.temp_dir);

  if (WIFEXITED(learner_status) && WEXITSTATUS(learner_status) == 0 && node_rank > 0) {
    std::printf("robofleet: node %d done; the policy is on node 0\n", node_rank);
    return 0;
  }
  if (WIFEXITED(learner_status) && WEXITSTATUS(learner_status) == 0) {
    PlotCurves(run_dir);
    if (config.train.record_video) {
      const std::string video = run_dir + "/final.mp4";
      if (RunQuietly({exe, "eval", run_dir + "/policy.pt", "--episodes", "1", "--video", video})
              .exit_code() == 0) {
        std::printf("robofleet: video of the final policy at %s\n", video.c_str());
      } else {
        std::fprintf(stderr,
                     "robofleet: could not record %s; try robofleet eval %s/policy.pt "
                     "--video out.mp4 to see why\n",
                     video.c_str(), run_dir.c_str());
      }
    }
    std::printf("robofleet: done; policy at %s/policy.pt\n", run_dir.c_str());
    return 0;
  }
  std::fprintf(stderr, "robofleet: the learner failed (%s); see the output above\n",
               DescribeStatus(learner_status).c_str());
  return 1;
}
}  // namespace robofleet::launcher

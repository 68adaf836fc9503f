// `robofleet sweep`: expands an experiment file's sweep block into runs under
// one sweep directory, runs them (K at a time on this machine, or as a SLURM
// job array), resumes whatever did not finish when run again, and ranks the
// configurations by a metric.
//
// The sweep directory:
//   plan.yaml        the runs and their overrides (a rerun must match it)
//   base.yaml        the resolved config every run starts from
//   <run id>/        one `robofleet train --run-dir` per run, plus exit_status
//   logs/<id>.log    each run's output, appended over reruns
//   locks/<id>.lock  held (flock) by every process of a run while it runs
//   summary.csv      the ranking, rewritten by each summary
//   sweep.sbatch, slurm_jobs, logs/slurm-*.out   with --backend slurm
//
// A run is finished when robofleet train exited 0 (its exit_status file says
// so), policy.pt is there and metrics.csv reached train.total_env_steps. A
// run that a signal stopped (Ctrl-C, scancel) exits 130 or 143 with a
// checkpoint: stopped, not failed.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cxxopts.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "algorithms/registry.h"
#include "core/atomic_file.h"
#include "core/signals.h"
#include "core/sweep_plan.h"
#include "envs/registry.h"
#include "launcher/cli.h"
#include "launcher/commands.h"
#include "launcher/process.h"

namespace robofleet::launcher {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

const char* kDefaultMetric = "episode_return_mean";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces a file of the sweep directory atomically (core/atomic_file.h); a
// failure is the user's folder, so it reads as bad input.
void WriteAtomically(const std::string& path, const std::string& text) {
  try {
    WriteFileAtomically(path, text);
  } catch (const std::runtime_error& e) {
    throw UserError(std::string(e.what()) + "; check the folder's permissions");
  }
}

// ---- one sweep directory ----

struct Sweep {
  std::string dir;  // as given
  SweepPlan plan;
  ExperimentConfig base;
  std::string metric = kDefaultMetric;
  bool minimize = false;

  std::string RunDir(const SweepRun& run) const { return dir + "/" + run.id; }
  std::string LockPath(const SweepRun& run) const { return dir + "/locks/" + run.id + ".lock"; }
  std::string LogPath(const SweepRun& run) const { return dir + "/logs/" + run.id + ".log"; }
};

Sweep OpenSweepDir(const std::string& dir) {
  if (!fs::exists(dir + "/plan.yaml")) {
    throw UserError(dir +
                    ": not a sweep directory (no plan.yaml); robofleet sweep EXP.yaml "
                    "makes one");
  }
  Sweep sweep;
  sweep.dir = dir;
  sweep.plan = ParseSweepPlan(ReadText(dir + "/plan.yaml"), dir + "/plan.yaml");
  sweep.base = LoadExperiment(dir + "/base.yaml");
  return sweep;
}

// Whether some process holds the run's lock (it is running, here or on a
// node that shares this file system).
bool RunLocked(const Sweep& sweep, const SweepRun& run) {
  const int fd = open(sweep.LockPath(run).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // closing drops the lock if we took it
  return locked;
}

enum class State { kPending, kRunning, kStopped, kFailed, kDone };

const char* StateName(State s) {
  switch (s) {
    case State::kPending:
      return "pending";
    case State::kRunning:
      return "running";
    case State::kStopped:
      return "stopped";
    case State::kFailed:
      return "failed";
    case State::kDone:
      return "done";
  }
  return "?";
}

struct RunStatus {
  State state = State::kPending;
  int exit_status = -1;   // robofleet train's, when it ended under the sweep
  double progress = 0.0;  // fraction of train.total_env_steps
};

// What a run's directory says about it. `probe_lock` tells running runs from
// stopped ones; the parent of a run that just exited skips it, since a child
// of that run may still be on its way out.
RunStatus Inspect(const Sweep& sweep, const SweepRun& run, bool probe_lock = true) {
  RunStatus s;
  const std::string run_dir = sweep.RunDir(run);
  const bool locked = probe_lock && RunLocked(sweep, run);
  if (!fs::exists(run_dir)) {
    s.state = locked ? State::kRunning : State::kPending;
    return s;
  }
  // progress from the run's own config and its metrics
  bool reached = false;
  try {
    const ExperimentConfig config = LoadExperiment(run_dir + "/config.yaml");
    const std::optional<double> steps =
        FinalMetric(ReadText(run_dir + "/metrics.csv"), "env_steps");
    if (steps) {
      s.progress = std::min(1.0, *steps / static_cast<double>(config.train.total_env_steps));
      reached = *steps >= static_cast<double>(config.train.total_env_steps);
    }
  } catch (const UserError&) {
    // not written yet, or cut short: no progress to report
  }
  if (locked) {
    s.state = State::kRunning;
    return s;
  }
  const std::string status_text = ReadText(run_dir + "/exit_status");
  if (status_text.empty()) {
    s.state = State::kStopped;  // killed, or its sweep was
    return s;
  }
  s.exit_status = std::atoi(status_text.c_str());
  std::error_code ec;
  const bool policy = fs::file_size(run_dir + "/policy.pt", ec) > 0 && !ec;
  // exit 0 without the whole run behind it is not done either
  const State ok = policy && reached ? State::kDone : State::kStopped;
  if (IsStoppedExitCode(s.exit_status)) {
    s.state = State::kStopped;
  } else {
    s.state = s.exit_status != 0 ? State::kFailed : ok;
  }
  return s;
}

std::string Describe(const RunStatus& s) {
  char buf[96];
  switch (s.state) {
    case State::kPending:
      return s.exit_status > 0 ? "failed before making its run directory (exit status " +
                                     std::to_string(s.exit_status) + ")"
                               : "pending";
    case State::kFailed:
      std::snprintf(buf, sizeof(buf), "failed: exit status %d, at %.0f%%", s.exit_status,
                    100 * s.progress);
      return buf;
    case State::kStopped:
    case State::kRunning:
      std::snprintf(buf, sizeof(buf), "%s at %.0f%%", StateName(s.state), 100 * s.progress);
      return buf;
    case State::kDone:
      return "done";
  }
  return "?";
}

std::string JoinOverrides(const std::vector<std::string>& overrides) {
  std::string text;
  for (const auto& item : overrides) text += (text.empty() ? "" : " ") + item;
  return text;
}

// Waits up to `timeout_s` for a run's lock to be free (a run from an earlier
// sweep that is still shutting down); throws UserError if it stays held.
void WaitForUnlocked(const Sweep& sweep, const SweepRun& run, double timeout_s) {
  if (!RunLocked(sweep, run)) return;
  std::printf("robofleet: waiting for an earlier %s to stop\n", run.id.c_str());
  std::fflush(stdout);
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int>(timeout_s * 1000));
  while (RunLocked(sweep, run)) {
    if (Clock::now() > deadline) {
      throw UserError("run " + run.id + " is still running (a process holds " +
                      sweep.LockPath(run) + "); stop it or wait for it, then rerun");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// ---- summary ----

// Ranks the finished runs, writes summary.csv and prints the table.
void Summarize(const Sweep& sweep) {
  std::map<std::string, double> finals;
  for (const SweepRun& run : sweep.plan.runs) {
    if (Inspect(sweep, run).state != State::kDone) continue;
    const std::string csv = sweep.RunDir(run) + "/metrics.csv";
    try {
      const std::optional<double> value = FinalMetric(ReadText(csv), sweep.metric);
      if (value) finals[run.id] = *value;
    } catch (const UserError& e) {
      throw UserError(csv + ": " + e.what() + " (choose one with --metric)");
    }
  }
  const std::vector<ConfigResult> ranked = RankConfigs(sweep.plan, finals, sweep.minimize);
  WriteAtomically(sweep.dir + "/summary.csv", SummaryCsv(ranked, sweep.metric));
  std::printf("%s", SummaryTable(ranked, sweep.metric, sweep.minimize).c_str());
  std::printf("robofleet: summary in %s/summary.csv\n", sweep.dir.c_str());
}

// ---- making or reopening a sweep from an experiment file ----

struct SweepOptions {
  std::string experiment;
  std::vector<std::string> overrides;
  std::string dir;
};

// Loads and checks everything, and checks that an existing sweep directory
// holds this same sweep; writes nothing (MakeSweepDir does, once every check
// has passed).
Sweep PlanSweep(const SweepOptions& options, int* max_actors) {
  SweepSource source;
  Sweep sweep;
  sweep.base = LoadCheckedExperiment(options.experiment, options.overrides, &source);
  if (source.path.empty()) {
    throw UserError(options.experiment + ": no sweep: block; add one (docs/sweeps.md), or " +
                    "train it once with robofleet train");
  }
  const SweepSpec spec = ParseSweepSpec(source.text, source.path);
  sweep.plan = ExpandSweep(spec, sweep.base);
  // an unknown task (say, a swept env.id) or algorithm fails now, not in the first run
  *max_actors = 1;
  for (size_t c = 0; c < sweep.plan.configs.size(); ++c) {
    ExperimentConfig config = sweep.base;
    ApplyOverrides(config, sweep.plan.configs[c]);
    *max_actors = std::max(*max_actors, config.actors.count);
    try {
      envs::GetEnvSpec(config.env);
    } catch (const UserError& e) {
      throw UserError(spec.where + ": sweep configuration " + std::to_string(c) +
                      ": env: " + e.what());
    }
    try {
      algorithms::ValidateAlgorithm(config);
    } catch (const UserError& e) {
      throw UserError(spec.where + ": sweep configuration " + std::to_string(c) + ": " + e.what());
    }
  }
  sweep.dir = options.dir.empty() ? "sweeps/" + sweep.base.name : options.dir;

  const std::string plan_yaml = SweepPlanToYaml(sweep.plan);
  const std::string base_yaml = ToYaml(sweep.base);
  if (fs::exists(sweep.dir + "/plan.yaml")) {
    if (ReadText(sweep.dir + "/plan.yaml") != plan_yaml ||
        ReadText(sweep.dir + "/base.yaml") != base_yaml) {
      throw UserError(sweep.dir + " holds a different sweep (its plan.yaml or base.yaml " +
                      "differ from what " + options.experiment + " gives now); choose " +
                      "another --sweep-dir, or delete " + sweep.dir + " to start over");
    }
  } else if (fs::exists(sweep.dir) && !fs::is_empty(sweep.dir)) {
    throw UserError(sweep.dir + " exists and is not a sweep directory; choose another --sweep-dir");
  }
  return sweep;
}

// Makes the directory of a sweep that PlanSweep checked, or leaves the one
// that holds it already.
void MakeSweepDir(const Sweep& sweep) {
  fs::create_directories(sweep.dir + "/logs");
  fs::create_directories(sweep.dir + "/locks");
  if (!fs::exists(sweep.dir + "/plan.yaml")) {
    WriteAtomically(sweep.dir + "/base.yaml", ToYaml(sweep.base));
    WriteAtomically(sweep.dir + "/plan.yaml", SweepPlanToYaml(sweep.plan));
  }
}

// Holds the sweep's own lock (one robofleet sweep per directory at a time)
// for as long as it lives. The descriptor is close-on-exec: runs do not
// inherit it.
class SweepLock {
 public:
  explicit SweepLock(const std::string& dir) {
    fd_ = open((dir + "/locks/sweep.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0 || flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      throw UserError("another robofleet sweep is working on " + dir + "; wait for it to end");
    }
  }
  ~SweepLock() { close(fd_); }
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  int fd_ = -1;
};

// The runs still to do; broken ones lose their directory, so that they start
// afresh. Prints one line per run that reruns.
std::vector<size_t> RunsToDo(const Sweep& sweep) {
  std::vector<size_t> todo;
  for (size_t i = 0; i < sweep.plan.runs.size(); ++i) {
    const SweepRun& run = sweep.plan.runs[i];
    WaitForUnlocked(sweep, run, 60.0);
    const RunStatus status = Inspect(sweep, run);
    if (status.state == State::kDone) continue;
    if (status.state != State::kPending) {
      std::printf("robofleet: %s will run again (it %s)\n", run.id.c_str(),
                  Describe(status).c_str());
      fs::remove_all(sweep.RunDir(run));
    }
    todo.push_back(i);
  }
  return todo;
}

// ---- local backend ----

// Starts `robofleet train` for one run: output appended to its log, its lock
// taken before exec so that the train process and its children hold it.
// The child dies with the sweep (SIGTERM, which stops a run cleanly).
// Returns the pid, for the caller to reap; a run that could not start has
// exited already (kLockBusyExitCode when it runs elsewhere), with the reason
// in its log.
pid_t StartRun(const Sweep& sweep, size_t i, const std::string& exe) {
  const SweepRun& run = sweep.plan.runs[i];
  std::vector<std::string> args = {exe, "train", sweep.dir + "/base.yaml", "--run-dir",
                                   sweep.RunDir(run)};
  for (const auto& item : sweep.plan.Overrides(i)) {
    args.push_back("--set");
    args.push_back(item);
  }
  SpawnOptions options;
  options.stdout_to = Redirect::File(sweep.LogPath(run), /*append=*/true);
  options.stderr_to = Redirect::ToStdout();
  options.death_signal = SIGTERM;
  options.lock_path = sweep.LockPath(run);
  Child child = Start(args, options);
  if (child.start_errno() == EWOULDBLOCK) {
    std::ofstream(sweep.LogPath(run), std::ios::app)
        << "robofleet sweep: " << run.id << " is already running elsewhere\n";
  } else if (!child.started()) {
    // the log itself may be what failed: say it here too
    std::fprintf(stderr, "robofleet: %s: %s\n", run.id.c_str(), child.start_error().c_str());
    std::ofstream(sweep.LogPath(run), std::ios::app)
        << "robofleet sweep: " << child.start_error() << "\n";
  }
  return child.Release();
}

int RunLocally(const Sweep& sweep, int parallel) {
  SweepLock lock(sweep.dir);
  const std::vector<size_t> todo_list = RunsToDo(sweep);
  std::deque<size_t> todo(todo_list.begin(), todo_list.end());
  const size_t total = sweep.plan.runs.size();
  size_t done = total - todo.size();
  std::printf(
      "robofleet: sweep %s: %zu runs in %s; %zu finished before, %zu to run, %d at a "
      "time\n",
      sweep.base.name.c_str(), total, sweep.dir.c_str(), done, todo.size(), parallel);
  std::fflush(stdout);

  InstallStopHandlers();
  const std::string exe = SelfExe();
  struct Active {
    size_t index;
    Clock::time_point start;
  };
  std::map<pid_t, Active> active;
  int failed = 0;
  bool stopping = false;
  while (!todo.empty() || !active.empty()) {
    if (StopRequested() && !stopping) {
      // each run stops cleanly; none is marked, so the next sweep reruns them
      stopping = true;
      todo.clear();
      std::vector<pid_t> pids;
      for (const auto& [pid, run] : active) pids.push_back(pid);
      ForwardSignal(pids, SIGTERM);
    }
    while (!stopping && static_cast<int>(active.size()) < parallel && !todo.empty()) {
      const size_t i = todo.front();
      todo.pop_front();
      active[StartRun(sweep, i, exe)] = {i, Clock::now()};
      std::printf("robofleet: started %s: %s\n", sweep.plan.runs[i].id.c_str(),
                  JoinOverrides(sweep.plan.Overrides(i)).c_str());
      std::fflush(stdout);
    }
    const std::optional<ExitedChild> exited = ReapAnyChild();
    if (!exited || !active.count(exited->pid)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const pid_t pid = exited->pid;
    const int wait_status = exited->status;
    const Active finished = active[pid];
    active.erase(pid);
    const SweepRun& run = sweep.plan.runs[finished.index];
    const int code = ExitCode(wait_status);
    const double seconds = std::chrono::duration<double>(Clock::now() - finished.start).count();
    if (stopping) continue;
    if (fs::exists(sweep.RunDir(run))) {
      WriteAtomically(sweep.RunDir(run) + "/exit_status", std::to_string(code) + "\n");
    }
    RunStatus status = Inspect(sweep, run, /*probe_lock=*/false);
    if (status.state == State::kPending) status.exit_status = code;
    if (status.state == State::kDone) {
      ++done;
      std::printf("robofleet: [%zu/%zu] %s finished in %.0f s\n", done, total, run.id.c_str(),
                  seconds);
    } else {
      ++failed;
      std::fprintf(stderr, "robofleet: %s %s after %.0f s; its log: %s\n", run.id.c_str(),
                   Describe(status).c_str(), seconds, sweep.LogPath(run).c_str());
    }
    std::fflush(stdout);
  }
  if (stopping) {
    std::fprintf(stderr, "robofleet: sweep stopped; run the same command again to resume it\n");
    return 1;
  }
  Summarize(sweep);
  if (failed > 0) {
    std::fprintf(stderr,
                 "robofleet: %d run%s did not finish; run the same command again to "
                 "retry %s\n",
                 failed, failed == 1 ? "" : "s", failed == 1 ? "it" : "them");
    return 1;
  }
  return 0;
}

// ---- SLURM backend ----

// Runs a SLURM client tool (looked up in PATH) and returns its exit status,
// -1 when it could not start or was killed, with its standard output in *out.
int Capture(const std::vector<std::string>& args, std::string* out) {
  SpawnOptions options;
  options.search_path = true;
  const RunResult result = RunAndCapture(args, options);
  *out = result.output;
  if (!result.started() || !WIFEXITED(result.status)) return -1;
  return WEXITSTATUS(result.status);
}

// The one place a string is quoted for a shell: the job array script is a
// bash script by nature (SLURM runs it), so the values written into it are
// quoted here. Nothing on this machine runs through a shell.
std::string ShellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

struct SlurmOptions {
  std::string partition;
  std::string time;
  int gpus_per_run = 0;
  int cpus_per_run = 0;
  int parallel = 0;  // 0: as many at a time as SLURM allows
};

// The body of the job array script, after its #SBATCH lines: each task runs
// robofleet train for its run, under the same lock and exit_status marker as
// a local run. %RUNS% becomes one `case` arm per run.
constexpr const char* kArrayTaskScript = R"sh(set -u
robofleet=%ROBOFLEET%
sweep_dir=%SWEEP_DIR%
case "$SLURM_ARRAY_TASK_ID" in
%RUNS%  *) echo "task $SLURM_ARRAY_TASK_ID: no such run in this sweep" >&2; exit 2 ;;
esac
run_dir="$sweep_dir/$run"
# one process per run at a time, as for local sweeps: train and its children
# inherit this lock and hold it while they live
exec 9>>"$sweep_dir/locks/$run.lock"
flock -n 9 || { echo "$run is already running elsewhere" >&2; exit 1; }
if [[ "$(cat "$run_dir/exit_status" 2>/dev/null)" == 0 && -s "$run_dir/policy.pt" ]]; then
  echo "$run finished before"
  exit 0
fi
rm -rf "$run_dir"
"$robofleet" train "$sweep_dir/base.yaml" --run-dir "$run_dir" "${sets[@]}" \
  >>"$sweep_dir/logs/$run.log" 2>&1
status=$?
if [[ -d "$run_dir" ]]; then
  echo "$status" >"$run_dir/exit_status.tmp" && mv "$run_dir/exit_status.tmp" "$run_dir/exit_status"
fi
exit "$status"
)sh";

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// The job array script: one task per run still to do (`todo`, indices into
// the plan), each running robofleet train with that run's overrides.
std::string SbatchScript(const Sweep& sweep, const std::vector<size_t>& todo,
                         const SlurmOptions& options, const std::string& exe) {
  const std::string dir = fs::absolute(sweep.dir).lexically_normal().string();
  std::string array;
  for (size_t i : todo) array += (array.empty() ? "" : ",") + std::to_string(i);
  if (options.parallel > 0) array += "%" + std::to_string(options.parallel);
  // a job name is one word: anything else in the experiment's name becomes '_'
  std::string job_name = "rf-" + sweep.base.name;
  for (char& c : job_name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }

  std::string s = "#!/bin/bash\n# The runs of sweep " + sweep.base.name +
                  " as a SLURM job array, written by robofleet sweep.\n"
                  "# One array task per run; the task number is the run's place in plan.yaml.\n";
  s += "#SBATCH --job-name=" + job_name + "\n";
  s += "#SBATCH --array=" + array + "\n";
  s += "#SBATCH --ntasks=1\n";
  s += "#SBATCH --cpus-per-task=" + std::to_string(options.cpus_per_run) + "\n";
  if (options.gpus_per_run > 0) {
    s += "#SBATCH --gres=gpu:" + std::to_string(options.gpus_per_run) + "\n";
  }
  if (!options.partition.empty()) s += "#SBATCH --partition=" + options.partition + "\n";
  if (!options.time.empty()) s += "#SBATCH --time=" + options.time + "\n";
  s += "#SBATCH --output=" + dir + "/logs/slurm-%A_%a.out\n";

  std::string runs;
  for (size_t i = 0; i < sweep.plan.runs.size(); ++i) {
    runs += "  " + std::to_string(i) + ") run=" + sweep.plan.runs[i].id + "; sets=(";
    for (const auto& item : sweep.plan.Overrides(i)) runs += " --set " + ShellQuote(item);
    runs += " ) ;;\n";
  }
  std::string body = kArrayTaskScript;
  ReplaceAll(body, "%ROBOFLEET%", ShellQuote(exe));
  ReplaceAll(body, "%SWEEP_DIR%", ShellQuote(dir));
  ReplaceAll(body, "%RUNS%", runs);
  return s + body;
}

// A partition by the CPUs of its largest node.
struct PartitionSize {
  std::string name;
  int largest_node_cpus = 0;
};

// The partition `partition` ("": the default one) and the CPU count of its
// largest node, as sinfo reports them. Throws UserError when sinfo cannot
// run or fails, or the partition has no nodes (or does not exist).
PartitionSize LargestNode(const std::string& partition) {
  // one line per node and partition ("debug* 4"; the default partition's
  // name has the '*'), so no count is a group's minimum with a '+'
  std::vector<std::string> args = {"sinfo", "-h", "-N", "-o", "%P %c"};
  if (!partition.empty()) args.insert(args.end(), {"-p", partition});
  SpawnOptions options;
  options.search_path = true;
  options.stderr_to = Redirect::ToStdout();  // its complaint goes into our one line
  const RunResult result = RunAndCapture(args, options);
  if (!result.started()) {
    throw UserError("sinfo not found; --backend slurm needs SLURM's client tools on this " +
                    std::string("machine (or use the local backend)"));
  }
  std::string output = result.output;
  if (result.exit_code() != 0) {
    for (char& c : output) c = c == '\n' ? ' ' : c;
    while (!output.empty() && output.back() == ' ') output.pop_back();
    throw UserError("sinfo failed (" + DescribeStatus(result.status) +
                    (output.empty() ? "" : ": " + output) +
                    "); check that the SLURM controller is up (scontrol ping)");
  }
  PartitionSize size;
  std::stringstream lines(output);
  std::string name, cpus;
  while (lines >> name >> cpus) {
    const bool is_default = name.back() == '*';
    if (is_default) name.pop_back();
    if (partition.empty() ? !is_default : name != partition) continue;
    size.name = name;
    size.largest_node_cpus = std::max(size.largest_node_cpus, std::atoi(cpus.c_str()));
  }
  if (size.largest_node_cpus > 0) return size;
  if (partition.empty()) {
    throw UserError("SLURM has no default partition; name one with --partition");
  }
  // the partitions there are, for the message
  std::string known;
  RunResult all = RunAndCapture({"sinfo", "-h", "-o", "%P"}, options);
  std::stringstream names(all.output);
  while (names >> name) {
    if (name.back() == '*') name.pop_back();
    known += (known.empty() ? "" : ", ") + name;
  }
  throw UserError("partition " + partition + " has no nodes in sinfo" +
                  (known.empty() ? "" : "; partitions: " + known) +
                  "; choose one with --partition");
}

// Refuses a sweep whose runs could never start: a run asks for
// --cpus-per-run CPUs on one node, and a partition without such a node keeps
// the array pending for ever. Before anything is written or submitted.
void CheckPartitionFits(const SlurmOptions& options, bool cpus_given) {
  const PartitionSize partition = LargestNode(options.partition);
  if (options.cpus_per_run <= partition.largest_node_cpus) return;
  throw UserError("--cpus-per-run " + std::to_string(options.cpus_per_run) +
                  (cpus_given ? "" : " (actors.count + 1)") +
                  " exceeds the largest node of partition " + partition.name + " (" +
                  std::to_string(partition.largest_node_cpus) +
                  " CPUs); lower --cpus-per-run or actors.count");
}

// The sweep's newest SLURM job if it is still queued or running, else "".
std::string LiveSlurmJob(const Sweep& sweep) {
  std::stringstream jobs(ReadText(sweep.dir + "/slurm_jobs"));
  std::string job, last;
  while (std::getline(jobs, job)) {
    if (!job.empty()) last = job;
  }
  if (last.empty()) return "";
  std::string out;
  if (Capture({"squeue", "-h", "-j", last, "-o", "%i"}, &out) != 0 || out.empty()) return "";
  return last;
}

// The checks of --backend slurm that need SLURM itself: its tools are here,
// and the partition has a node that fits a run. Before anything is written.
void CheckSlurm(const SlurmOptions& options, bool cpus_given) {
  std::string probe;
  if (Capture({"sbatch", "--version"}, &probe) < 0) {
    throw UserError("sbatch not found; --backend slurm needs SLURM's client tools on this " +
                    std::string("machine (or use the local backend)"));
  }
  CheckPartitionFits(options, cpus_given);
}

int SubmitToSlurm(const Sweep& sweep, SlurmOptions options) {
  SweepLock lock(sweep.dir);
  const std::string live = LiveSlurmJob(sweep);
  if (!live.empty()) {
    throw UserError("job " + live + " of this sweep is still queued or running; wait for it " +
                    "(robofleet sweep --status " + sweep.dir + ") or scancel " + live);
  }
  const std::vector<size_t> todo = RunsToDo(sweep);
  if (todo.empty()) {
    std::printf("robofleet: every run of %s has finished\n", sweep.dir.c_str());
    Summarize(sweep);
    return 0;
  }
  const std::string script = sweep.dir + "/sweep.sbatch";
  WriteAtomically(script, SbatchScript(sweep, todo, options, SelfExe()));
  std::string out;
  const int status = Capture({"sbatch", "--parsable", script}, &out);
  if (status != 0) {
    throw UserError("sbatch refused " + script + " (exit status " + std::to_string(status) +
                    "); its message is above");
  }
  const std::string job = out.substr(0, out.find_first_of(";\n"));
  std::ofstream(sweep.dir + "/slurm_jobs", std::ios::app) << job << "\n";
  std::printf(
      "robofleet: submitted %zu run%s of sweep %s as SLURM job array %s (script %s)\n"
      "robofleet: follow it with robofleet sweep --status %s\n",
      todo.size(), todo.size() == 1 ? "" : "s", sweep.base.name.c_str(), job.c_str(),
      script.c_str(), sweep.dir.c_str());
  return 0;
}

// ---- status ----

int ShowStatus(const Sweep& sweep) {
  std::map<State, int> counts;
  std::string lines;
  for (const SweepRun& run : sweep.plan.runs) {
    const RunStatus status = Inspect(sweep, run);
    ++counts[status.state];
    char line[256];
    std::snprintf(line, sizeof(line), "  %-12s %s\n", run.id.c_str(), Describe(status).c_str());
    lines += line;
  }
  const size_t total = sweep.plan.runs.size();
  std::printf(
      "sweep %s in %s: %zu runs: %d done, %d running, %d pending, %d stopped, %d failed\n%s",
      sweep.base.name.c_str(), sweep.dir.c_str(), total, counts[State::kDone],
      counts[State::kRunning], counts[State::kPending], counts[State::kStopped],
      counts[State::kFailed], lines.c_str());
  const std::string live = LiveSlurmJob(sweep);
  if (!live.empty()) {
    std::string out;
    Capture({"squeue", "-h", "-j", live, "-o", "%i %T"}, &out);
    std::printf("SLURM job %s:\n%s", live.c_str(), out.c_str());
  }
  if (counts[State::kDone] == static_cast<int>(total)) {
    Summarize(sweep);
  } else if (live.empty() && counts[State::kRunning] == 0) {
    std::printf("nothing is running; robofleet sweep EXP.yaml --sweep-dir %s resumes the rest\n",
                sweep.dir.c_str());
  }
  return 0;
}

void PrintPlan(const Sweep& sweep) {
  std::printf("sweep %s: %zu configurations, %zu runs, in %s\n", sweep.base.name.c_str(),
              sweep.plan.configs.size(), sweep.plan.runs.size(), sweep.dir.c_str());
  for (size_t i = 0; i < sweep.plan.runs.size(); ++i) {
    std::printf("  %-12s %s\n", sweep.plan.runs[i].id.c_str(),
                JoinOverrides(sweep.plan.Overrides(i)).c_str());
  }
}

// The options of `robofleet sweep`.
cxxopts::Options SweepCommandOptions() {
  cxxopts::Options options(
      "robofleet sweep",
      "Run the sweep block of an experiment file: a grid, random search and seeds, as runs "
      "under one sweep directory, here or on SLURM; rerun to resume. See docs/sweeps.md.");
  options.positional_help("EXP.yaml");
  // clang-format off
  options.add_options()
      ("experiment", "experiment file with a sweep: block", cxxopts::value<std::string>())
      ("set", "override a key of the base config (repeatable)",
       cxxopts::value<std::vector<std::string>>())
      ("sweep-dir", "sweep directory (default sweeps/<name>)", cxxopts::value<std::string>())
      ("parallel", "runs at a time (local default 1; SLURM default: as many as it schedules)",
       cxxopts::value<int>())
      ("metric", "metrics.csv column that ranks the configurations",
       cxxopts::value<std::string>()->default_value(kDefaultMetric))
      ("minimize", "rank lower values of --metric first")
      ("dry-run", "list the runs and their overrides; run nothing")
      ("backend", "local or slurm", cxxopts::value<std::string>()->default_value("local"))
      ("partition", "SLURM partition", cxxopts::value<std::string>())
      ("time", "SLURM time limit of each run, e.g. 4:00:00", cxxopts::value<std::string>())
      ("gpus-per-run", "GPUs for each run on SLURM (default 0)", cxxopts::value<int>())
      ("cpus-per-run", "CPUs for each run on SLURM (default actors.count + 1)",
       cxxopts::value<int>())
      ("status", "show the progress of the sweep in DIR (and its summary once all are done)",
       cxxopts::value<std::string>())
      ("summary", "rank the finished runs of the sweep in DIR, write DIR/summary.csv",
       cxxopts::value<std::string>())
      ("h,help", "show this help");
  // clang-format on
  options.parse_positional({"experiment"});
  return options;
}

}  // namespace

int SweepCommand(int argc, char** argv) {
  cxxopts::Options options = SweepCommandOptions();
  const std::optional<cxxopts::ParseResult> parsed = ParseOrHelp(options, argc, argv);
  if (!parsed) return 0;
  const cxxopts::ParseResult& args = *parsed;
  const std::string metric = args["metric"].as<std::string>();
  const bool minimize = args.count("minimize") > 0;
  if (args.count("status") || args.count("summary")) {
    if (args.count("experiment")) {
      throw UserError("--status and --summary take a sweep directory, not an experiment file");
    }
    Sweep sweep = OpenSweepDir(args[args.count("status") ? "status" : "summary"].as<std::string>());
    sweep.metric = metric;
    sweep.minimize = minimize;
    if (args.count("status")) return ShowStatus(sweep);
    Summarize(sweep);
    return 0;
  }
  if (!args.count("experiment")) {
    throw UserError("no experiment file; usage: robofleet sweep EXP.yaml (or --status DIR)");
  }

  const std::string backend = args["backend"].as<std::string>();
  if (backend != "local" && backend != "slurm") {
    throw UserError("--backend " + backend + ": valid backends: local, slurm");
  }
  if (backend == "local") {
    for (const char* slurm_only : {"partition", "time", "gpus-per-run", "cpus-per-run"}) {
      if (args.count(slurm_only)) {
        throw UserError(std::string("--") + slurm_only + " is for --backend slurm");
      }
    }
  }
  const int parallel = args.count("parallel") ? args["parallel"].as<int>() : 0;
  if (args.count("parallel") && parallel < 1) {
    throw UserError("--parallel must be >= 1");
  }
  SlurmOptions slurm;
  if (args.count("gpus-per-run")) slurm.gpus_per_run = args["gpus-per-run"].as<int>();
  if (slurm.gpus_per_run < 0) throw UserError("--gpus-per-run must be >= 0");
  if (args.count("cpus-per-run") && args["cpus-per-run"].as<int>() < 1) {
    throw UserError("--cpus-per-run must be >= 1");
  }
  if (args.count("partition")) slurm.partition = args["partition"].as<std::string>();
  if (args.count("time")) slurm.time = args["time"].as<std::string>();
  slurm.parallel = parallel;

  SweepOptions sweep_options;
  sweep_options.experiment = args["experiment"].as<std::string>();
  sweep_options.overrides = SetOverrides(args);
  if (args.count("sweep-dir")) sweep_options.dir = args["sweep-dir"].as<std::string>();
  int max_actors = 1;
  Sweep sweep = PlanSweep(sweep_options, &max_actors);
  sweep.metric = metric;
  sweep.minimize = minimize;
  if (args.count("dry-run")) {
    PrintPlan(sweep);
    return 0;
  }
  if (backend == "slurm") {
    const bool cpus_given = args.count("cpus-per-run") > 0;
    slurm.cpus_per_run = cpus_given ? args["cpus-per-run"].as<int>() : max_actors + 1;
    CheckSlurm(slurm, cpus_given);
    MakeSweepDir(sweep);
    return SubmitToSlurm(sweep, slurm);
  }
  MakeSweepDir(sweep);
  return RunLocally(sweep, std::max(parallel, 1));
}

}  // namespace robofleet::launcher

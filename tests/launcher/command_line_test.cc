// Thousands of malformed command lines at `robofleet`: unknown flags,
// missing values, huge numbers, odd bytes, folders and devices for files.
// Each runs the real dispatch (RobofleetMain) in a forked child, so one line
// costs a fork rather than an exec of a LibTorch binary. None may end in a
// signal, a hang, a stack trace or a status other than 0 (help) and 2; every
// exit 2 is one line; and no file is made or changed anywhere the commands
// could write.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "launcher/commands.h"
#include "tests/temp_folder.h"

namespace robofleet::launcher {
namespace {

namespace fs = std::filesystem;
using robofleet::testing::Slurp;
using robofleet::testing::TempFolder;

// How one command line ended.
struct Outcome {
  bool hung = false;
  int signal = 0;  // the signal that ended it, or 0
  int status = -1;
  std::string err;
};

// Runs `robofleet args...` in a forked child in `cwd` with stdin from
// /dev/null, stdout discarded and stderr kept; kills it after `timeout_s`.
Outcome RunRobofleet(const std::vector<std::string>& args, const std::string& cwd,
                     double timeout_s) {
  const std::string err_path = cwd + "/../stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(120);
    const int null = open("/dev/null", O_RDWR);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null, 0);
    dup2(null, 1);
    dup2(err, 2);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int status = RobofleetMain(static_cast<int>(argv.size()) - 1, argv.data());
    std::fflush(nullptr);
    _exit(status);
  }
  Outcome outcome;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int>(timeout_s * 1000));
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      outcome.hung = true;
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!outcome.hung && WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  if (WIFEXITED(status)) outcome.status = WEXITSTATUS(status);
  outcome.err = Slurp(err_path);
  return outcome;
}

// Every file and folder under `root`, with each file's bytes.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    files[entry.path().string()] = entry.is_regular_file() ? Slurp(entry.path().string()) : "/";
  }
  return files;
}

TEST(CommandLineTest, ThousandsOfMalformedLinesEndInOneLineAndExitTwo) {
  TempFolder folder("rf-command-lines");
  const std::string cwd = folder / "cwd";    // the children's working folder
  const std::string inputs = folder / "in";  // the paths they are given
  fs::create_directories(cwd);
  fs::create_directories(inputs + "/a_folder");
  std::ofstream(inputs + "/empty.yaml");
  std::ofstream(inputs + "/list.yaml") << "- 1\n- 2\n";
  std::ofstream(inputs + "/garbage.pt") << std::string("\x89PK\x03\x04\xff\x00garbage", 14);
  std::ofstream(inputs + "/deep.yaml") << std::string(3000, '[') << std::string(3000, ']');
  const std::string run_like = inputs + "/run_like";  // a config.yaml and nothing else
  fs::create_directories(run_like + "/checkpoints");
  std::ofstream(run_like + "/config.yaml") << "name: x\nactors:\n  count: 0\n";

  const std::vector<std::string> commands = {"train",   "config", "sweep", "export", "eval",
                                             "learner", "actor",  "bench", "trian",  "",
                                             "\xff",    "-x",     "--"};
  const std::vector<std::string> bench_next = {"nosuch", "--iters", "-1", "learner=1", ""};
  // paths: folders, missing, devices, files that are not what they should be
  const std::vector<std::string> paths = {"/",
                                          "/tmp",
                                          inputs + "/a_folder",
                                          inputs + "/missing.yaml",
                                          inputs + "/missing/x.pt",
                                          inputs + "/empty.yaml",
                                          inputs + "/list.yaml",
                                          inputs + "/garbage.pt",
                                          inputs + "/deep.yaml",
                                          run_like,
                                          "/dev/null",
                                          "/dev/zero",
                                          "/proc/self/mem"};
  std::vector<std::string> tokens = {
      // flags, known and not, with and without values
      "--set", "--set=", "--run-dir", "--resume", "--checkpoint", "--out", "--video", "--episodes",
      "--seed", "--nnodes", "--node-rank", "--master", "--keys", "--backend", "--parallel",
      "--status", "--summary", "--env", "--index", "--width", "--cpus-per-run", "--no-such-flag",
      "-x", "-", "--", "---", "--episodes=-1", "--width=0", "--height=999999999",
      "--nnodes=99999999999", "--seed=-1", "--parallel=0",
      // values
      "", "0", "-1", "99999999999999999999", "1e400", "nan", "x=y", "=1", "a.b.c.d=1",
      "actors.count=4294967297", "actors.count=100000", "seed=-1", "policy.hidden=[",
      "env.id=", "learner.batch_size=8589934592", "train.total_env_steps=-5",
      std::string("\xff\xfe", 2), std::string("\x01\x1b[2J", 5), "a\nb", "\xe6\x97\xa5",
      std::string(5000, 'a'), "%s%n%x", "../../../../etc/passwd", "host:", ":1", "127.0.0.1:99999"};
  tokens.insert(tokens.end(), paths.begin(), paths.end());

  std::mt19937 rng(20261207);
  auto pick = [&rng](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };
  const auto before = Snapshot(folder.path());
  constexpr int kLines = 2000;
  int exit_two = 0, exit_zero = 0;
  std::vector<std::string> defects;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kLines && defects.size() < 10; ++i) {
    std::vector<std::string> args = {"robofleet", pick(commands)};
    // a bench with a valid subcommand would run a benchmark: always a bad one
    if (args[1] == "bench") args.push_back(pick(bench_next));
    if (i % 4 == 0) {
      // one path alone, which the command reads rather than stopping at a flag
      args.push_back(pick(paths));
    } else {
      const int count = std::uniform_int_distribution<int>(0, 5)(rng);
      for (int k = 0; k < count; ++k) args.push_back(pick(tokens));
    }
    const Outcome outcome = RunRobofleet(args, cwd, 20.0);
    std::string shown;
    for (const auto& a : args) shown += " '" + a.substr(0, 40) + "'";
    const size_t lines = std::count(outcome.err.begin(), outcome.err.end(), '\n');
    std::string defect;
    if (outcome.hung) {
      defect = "hung";
    } else if (outcome.signal != 0) {
      defect = "signal " + std::to_string(outcome.signal);
    } else if (outcome.status == 2 && lines != 1) {
      defect = std::to_string(lines) + " lines";
    } else if (outcome.status != 2 && outcome.status != 0) {
      defect = "exit " + std::to_string(outcome.status);
    } else if (outcome.err.find("terminate called") != std::string::npos ||
               outcome.err.find("Exception raised from") != std::string::npos) {
      defect = "stack trace";
    }
    if (!defect.empty()) {
      defects.push_back(defect + ":" + shown + " -> " + outcome.err.substr(0, 300));
    }
    if (outcome.status == 2) ++exit_two;
    if (outcome.status == 0) ++exit_zero;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& d : defects) ADD_FAILURE() << d;
  std::printf("%d command lines in %.1f s: %d exit 2 with one line, %d exit 0, %zu defects\n",
              kLines, seconds, exit_two, exit_zero, defects.size());
  EXPECT_EQ(exit_two + exit_zero, kLines);
  // the bulk must be refusals, or the generator lost its teeth
  EXPECT_GT(exit_two, kLines * 9 / 10);

  // nothing made or changed: the inputs, and the folder the commands ran in
  fs::remove(folder / "stderr");
  const auto after = Snapshot(folder.path());
  for (const auto& [path, bytes] : after) {
    EXPECT_TRUE(before.count(path)) << "made " << path;
    if (before.count(path)) {
      EXPECT_EQ(before.at(path), bytes) << "changed " << path;
    }
  }
  EXPECT_EQ(before.size(), after.size());
}

}  // namespace
}  // namespace robofleet::launcher

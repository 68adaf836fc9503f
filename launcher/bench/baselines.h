// The yardsticks the learner benches print their figures beside (DESIGN.md:
// every figure next to a baseline measured in the same run): the same work
// in PyTorch, run by a child process, and this machine's matmul GFLOP/s.
#ifndef ROBOFLEET_LAUNCHER_BENCH_BASELINES_H_
#define ROBOFLEET_LAUNCHER_BENCH_BASELINES_H_

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/config.h"
#include "launcher/process.h"

namespace robofleet::launcher {

// GFLOP/s of an n x n float32 matrix product on the current thread count,
// timed for at least `seconds`.
double MatmulGflops(int64_t n, double seconds);

// The thread counts of a bench's --threads ("1,2": time at each, in turn).
// Throws UserError naming --threads unless each is an integer from 1 to 1024.
std::vector<int> ParseThreadCounts(const std::string& text);

// After one timing per count of --threads: "2 threads / 1 thread: 1.31x
// steps/s" lines, each count beside the first, for a user to pick learner.threads.
void PrintThreadComparison(const std::vector<int>& counts, const std::vector<double>& rates,
                           const char* unit);

// A baseline script of bench/ (ppo_update.py, sac_update.py) run with
// --serve as a child process: the same work in PyTorch, timed one unit at a
// time so that its units interleave with ours and both see the same machine.
class PythonBaseline {
 public:
  // Starts bench/`script_name` and waits for its warm-up; throws UserError
  // naming what is missing when it cannot run.
  PythonBaseline(const std::string& python, const std::string& script_name,
                 const std::vector<std::string>& args) {
    const std::string script = std::string(ROBOFLEET_SOURCE_DIR) + "/bench/" + script_name;
    command_ = python + " " + script;
    std::vector<std::string> argv = {python, script, "--serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions options;
    options.search_path = true;
    options.stdin_from = Redirect::Pipe();
    options.stdout_to = Redirect::Pipe();
    // a Python traceback arrives where the parent reads, as the failure's words
    options.stderr_to = Redirect::ToStdout();
    child_ = Start(argv, options);
    if (!child_.started()) Fail(child_.start_error());
    const std::string first = ReadLine();
    if (first != "ready") Fail(first);
  }
  PythonBaseline(const PythonBaseline&) = delete;
  PythonBaseline& operator=(const PythonBaseline&) = delete;
  // End of input: the script exits on its own.
  ~PythonBaseline() { child_.Wait(); }

  // Runs one unit (an update, or a round of gradient steps) in the child;
  // returns its seconds.
  double Update() {
    // a child that died mid-run reads as a failed update (no line), not a SIGPIPE
    child_.WriteStdin("update\n");
    const std::string line = ReadLine();
    char* end = nullptr;
    const double seconds = std::strtod(line.c_str(), &end);
    if (end == line.c_str() || !(seconds > 0)) Fail(line);
    return seconds;
  }

 private:
  std::string ReadLine() {
    std::string line;
    child_.ReadStdoutLine(&line);
    return line;
  }

  // Ends the child (end of input: the script exits) and throws.
  [[noreturn]] void Fail(const std::string& line) {
    child_.Wait();
    throw UserError("the Python baseline (" + command_ +
                    ") failed: " + (line.empty() ? std::string("no output") : line) +
                    "; it needs python3 with PyTorch (apt-get install python3-torch), or "
                    "--python=PATH to another interpreter");
  }

  std::string command_;
  Child child_;  // stdin and stdout are pipes to the script
};

}  // namespace robofleet::launcher

#endif  // ROBOFLEET_LAUNCHER_BENCH_BASELINES_H_

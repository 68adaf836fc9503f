// Test helpers: run the robofleet binary as a real child process and poll
// for conditions with a deadline.
#ifndef ROBOFLEET_TESTS_INTEGRATION_SUBPROCESS_H_
#define ROBOFLEET_TESTS_INTEGRATION_SUBPROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace robofleet::testing {

// A child process whose stdout and stderr go to files. With `new_session`
// it leads a session and process group of its own, as a shell starts a
// foreground job: kill(-pid(), SIGINT) is then a terminal's Ctrl-C, which
// reaches the job's every process.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& log_prefix,
        bool new_session = false)
      : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
    pid_ = fork();
    if (pid_ == 0) {
      if (new_session) setsid();
      int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Child() {
    if (!reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  // Waits up to `timeout_s` for the exit; returns false on timeout, true
  // again once it has exited.
  bool Wait(double timeout_s) {
    if (reaped_) return true;
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  int exit_code() const { return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
  std::string out() const { return Slurp(out_path_); }
  std::string err() const { return Slurp(err_path_); }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string out_path_, err_path_;
};

// Polls `condition` every 20 ms until it holds or `timeout_s` passes.
inline bool WaitFor(const std::function<bool()>& condition, double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

// Pids of live processes whose command line contains `needle`.
inline std::vector<pid_t> ProcessesMatching(const std::string& needle) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    // zombies have an empty cmdline and are no longer running
    if (cmdline.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

// Number of data rows (lines after the header) of a CSV file.
inline int CsvRows(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int rows = -1;
  while (std::getline(in, line)) {
    if (!line.empty()) ++rows;
  }
  return rows < 0 ? 0 : rows;
}

// Column `name` of a CSV file with a header row, empty cells skipped.
inline std::vector<double> CsvColumn(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  std::string line, cell;
  std::getline(in, line);
  std::stringstream header(line);
  int index = -1;
  for (int i = 0; std::getline(header, cell, ','); ++i) {
    if (cell == name) index = i;
  }
  std::vector<double> values;
  while (index >= 0 && std::getline(in, line)) {
    std::stringstream row(line);
    for (int j = 0; std::getline(row, cell, ','); ++j) {
      if (j == index && !cell.empty()) values.push_back(std::stod(cell));
    }
  }
  return values;
}

// The number after "key": in `json` (robofleet's --json output); NaN when
// the key is absent.
inline double JsonNumber(const std::string& json, const std::string& key) {
  const std::string quoted = "\"" + key + "\": ";
  const size_t at = json.find(quoted);
  if (at == std::string::npos) return std::nan("");
  return std::strtod(json.c_str() + at + quoted.size(), nullptr);
}

inline std::string MakeTempDir(const std::string& name) {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("rf-" + name + "-" + std::to_string(getpid())))
          .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace robofleet::testing

#endif  // ROBOFLEET_TESTS_INTEGRATION_SUBPROCESS_H_

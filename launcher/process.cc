#include "launcher/process.h"

#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/config.h"

namespace robofleet::launcher {

std::string SelfExe() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the robofleet binary (/proc/self/exe)");
  // a binary replaced on disk while running (a rebuild, an upgrade) reads as
  // "PATH (deleted)"; children then run the new file at the same path
  std::string path = exe.string();
  const std::string deleted = " (deleted)";
  if (path.size() > deleted.size() &&
      path.compare(path.size() - deleted.size(), deleted.size(), deleted) == 0) {
    path.resize(path.size() - deleted.size());
  }
  return path;
}

pid_t Spawn(const std::vector<std::string>& args) {
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // if the launcher dies, even by SIGKILL, the children go too
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::perror("robofleet: exec");
    _exit(127);
  }
  return pid;
}

std::vector<pid_t> SignalAndReap(std::vector<pid_t> pids, int sig, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  for (pid_t p : pids) kill(p, sig);
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (!pids.empty() && Clock::now() < deadline) {
    for (auto it = pids.begin(); it != pids.end();) {
      it = waitpid(*it, nullptr, WNOHANG) == *it ? pids.erase(it) : it + 1;
    }
    if (!pids.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pids;
}

int64_t PeakRssBytes(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    // "VmHWM:     123456 kB"
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/stat")
                            : "/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "pid (comm) state ..." where comm may hold spaces: fields count from the last ')'
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1.0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double utime = 0.0, stime = 0.0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int FreePort(const std::string& address) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(address.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    throw UserError("cannot resolve '" + address + "'");
  }
  sockaddr_in sa = *reinterpret_cast<sockaddr_in*>(found->ai_addr);
  freeaddrinfo(found);
  sa.sin_port = 0;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  socklen_t len = sizeof(sa);
  const bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0;
  if (fd >= 0) close(fd);
  if (!ok) {
    throw UserError("cannot listen on " + address + " (" + std::strerror(errno) + ")");
  }
  return ntohs(sa.sin_port);
}

}  // namespace robofleet::launcher

#include "launcher/process.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/check.h"
#include "core/config.h"

namespace robofleet::launcher {
namespace {

// The children started here and not reaped yet, for KillAllChildren(): a
// fixed table of lock-free atomics, which a signal handler may read. A slot
// holds a pid or 0. (A pid leaves the table just after waitpid reaps it; the
// kernel hands out pids in sequence, so no new process takes it in between.)
constexpr int kMaxListedChildren = 4096;
std::atomic<pid_t> g_listed_children[kMaxListedChildren];

void ListChild(pid_t pid) {
  for (std::atomic<pid_t>& slot : g_listed_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
  // thousands of live children of one process is far past any run's size
  const bool room_for_another_child = false;
  ROBOFLEET_CHECK(room_for_another_child);
}

void UnlistChild(pid_t pid) {
  for (std::atomic<pid_t>& slot : g_listed_children) {
    pid_t listed = pid;
    if (slot.compare_exchange_strong(listed, 0)) return;
  }
}

// waitpid that retries on EINTR and takes what it reaped off the table.
pid_t Reap(pid_t pid, int* status, int flags) {
  pid_t got;
  while ((got = waitpid(pid, status, flags)) < 0 && errno == EINTR) {
  }
  if (got > 0) UnlistChild(got);
  return got;
}

// The step of a child's set-up that failed, sent to the parent with its errno.
enum class Step : int { kGroup, kStdin, kStdout, kStderr, kLock, kExec };

struct StartFailure {
  Step step;
  int err;
};

// Everything the child needs between fork and exec, made before the fork:
// the child may not allocate.
struct ChildPlan {
  // per stream (0, 1, 2): what it becomes
  Redirect::Kind kind[3] = {};
  const char* file[3] = {nullptr, nullptr, nullptr};
  int file_flags[3] = {0, 0, 0};
  int pipe_end[3] = {-1, -1, -1};    // the child's end, for kPipe
  int parent_end[3] = {-1, -1, -1};  // the parent's end, closed in the child
  int death_signal = 0;
  pid_t parent = 0;
  bool new_process_group = false;
  bool ignore_interrupt = false;
  // Start: SIGINT and SIGTERM go back to their defaults before the program
  // runs (exec would reset their handlers anyway; this is for the moments
  // before it). ForkCall's function keeps this program's handlers.
  bool default_stop_handlers = false;
  sigset_t mask;  // the signal mask to run with (the parent's before the fork)
  const char* lock_path = nullptr;
  int report_fd = -1;       // write end of the close-on-exec failure pipe
  int report_read_fd = -1;  // its read end, the parent's
  // for Start: the paths to try in order, and argv
  std::vector<const char*> candidates;
  std::vector<char*> argv;
};

// Async-signal-safe: tells the parent which step failed, then exits.
[[noreturn]] void ChildFails(const ChildPlan& plan, Step step, int err, int exit_code) {
  const StartFailure failure{step, err};
  ssize_t ignored = write(plan.report_fd, &failure, sizeof(failure));
  (void)ignored;
  _exit(exit_code);
}

// Async-signal-safe: `fd` moved to a number above the standard streams, so
// that dup2 onto 0, 1, 2 never overwrites a source still to be used.
int AboveStdStreams(int fd, bool cloexec) {
  if (fd > 2) return fd;
  const int moved = fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, 3);
  close(fd);
  return moved;
}

// The child's side of a start, up to exec (Start) or up to running the
// function (ForkCall). Only async-signal-safe calls from here on.
void SetUpChild(ChildPlan& plan) {
  // the parent's children are not this process's to kill
  for (std::atomic<pid_t>& slot : g_listed_children) slot.store(0);
  // the stop signals were blocked over the fork; a pending one is delivered
  // with the dispositions the child will run with
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  if (plan.default_stop_handlers) {
    action.sa_handler = SIG_DFL;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
  }
  if (plan.ignore_interrupt) {
    action.sa_handler = SIG_IGN;
    sigaction(SIGINT, &action, nullptr);
  }
  sigprocmask(SIG_SETMASK, &plan.mask, nullptr);
  // the report pipe must survive the dup2s onto 0, 1, 2 below
  plan.report_fd = AboveStdStreams(plan.report_fd, true);
  if (plan.report_fd < 0) _exit(kCannotStartExitCode);
  // the parent's ends: a forked child that kept the write end of its own
  // stdin would never see EOF there
  close(plan.report_read_fd);
  for (int fd : plan.parent_end) {
    if (fd >= 0) close(fd);
  }
  if (plan.new_process_group && setpgid(0, 0) != 0) {
    ChildFails(plan, Step::kGroup, errno, kCannotStartExitCode);
  }
  if (plan.death_signal != 0) {
    prctl(PR_SET_PDEATHSIG, plan.death_signal);
    // the parent died before the line above: nobody is left to stop us
    if (getppid() != plan.parent) _exit(1);
  }
  int source[3] = {-1, -1, -1};
  for (int fd = 0; fd < 3; ++fd) {
    const Step step = static_cast<Step>(static_cast<int>(Step::kStdin) + fd);
    switch (plan.kind[fd]) {
      case Redirect::Kind::kNull:
      case Redirect::Kind::kFile:
        source[fd] = open(plan.file[fd], plan.file_flags[fd], 0644);
        if (source[fd] < 0) ChildFails(plan, step, errno, kCannotStartExitCode);
        source[fd] = AboveStdStreams(source[fd], true);
        if (source[fd] < 0) ChildFails(plan, step, errno, kCannotStartExitCode);
        break;
      case Redirect::Kind::kPipe:
        source[fd] = AboveStdStreams(plan.pipe_end[fd], true);
        if (source[fd] < 0) ChildFails(plan, step, errno, kCannotStartExitCode);
        break;
      case Redirect::Kind::kInherit:
      case Redirect::Kind::kToStdout:
        break;
    }
  }
  for (int fd = 0; fd < 3; ++fd) {
    const Step step = static_cast<Step>(static_cast<int>(Step::kStdin) + fd);
    // dup2 clears close-on-exec on the standard stream it makes
    if (source[fd] >= 0 && dup2(source[fd], fd) < 0) {
      ChildFails(plan, step, errno, kCannotStartExitCode);
    }
    if (plan.kind[fd] == Redirect::Kind::kToStdout && dup2(1, 2) < 0) {
      ChildFails(plan, step, errno, kCannotStartExitCode);
    }
  }
  for (int fd : source) {
    if (fd >= 0) close(fd);
  }
  if (plan.lock_path != nullptr) {
    // not close-on-exec: the program and its children hold the lock
    int held = open(plan.lock_path, O_RDWR | O_CREAT, 0644);
    if (held >= 0) held = AboveStdStreams(held, false);
    if (held < 0) ChildFails(plan, Step::kLock, errno, kLockBusyExitCode);
    if (flock(held, LOCK_EX | LOCK_NB) != 0) {
      ChildFails(plan, Step::kLock, errno, kLockBusyExitCode);
    }
  }
}

// Async-signal-safe: execv over the candidates as execvp walks PATH; a
// missing file tries the next, and EACCES is reported if nothing ran.
[[noreturn]] void ExecChild(const ChildPlan& plan) {
  int err = ENOENT;
  bool denied = false;
  for (const char* path : plan.candidates) {
    execv(path, plan.argv.data());
    err = errno;
    if (err == EACCES) {
      denied = true;
    } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
               err != ETIMEDOUT) {
      break;  // found, but it cannot run (not a binary, too many arguments, ...)
    }
  }
  ChildFails(plan, Step::kExec, denied && (err == ENOENT || err == ENOTDIR) ? EACCES : err,
             kCannotStartExitCode);
}

// The paths execvp would try for `program`: itself when it holds a '/',
// else each folder of PATH (glibc's default when unset).
std::vector<std::string> Candidates(const std::string& program, bool search_path) {
  if (!search_path || program.find('/') != std::string::npos) return {program};
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr ? env : "/bin:/usr/bin";
  std::vector<std::string> candidates;
  size_t start = 0;
  while (true) {
    const size_t end = path.find(':', start);
    std::string dir =
        path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    candidates.push_back((dir.empty() ? "." : dir) + "/" + program);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return candidates;
}

void ClosePair(int fds[2]) {
  for (int i = 0; i < 2; ++i) {
    if (fds[i] >= 0) close(fds[i]);
    fds[i] = -1;
  }
}

const char* StreamName(Step step) {
  switch (step) {
    case Step::kStdin:
      return "stdin";
    case Step::kStdout:
      return "stdout";
    default:
      return "stderr";
  }
}

const Redirect& RedirectOf(const SpawnOptions& options, Step step) {
  if (step == Step::kStdin) return options.stdin_from;
  return step == Step::kStdout ? options.stdout_to : options.stderr_to;
}

// The parent's words for a failed start of `program`.
std::string DescribeFailure(const StartFailure& failure, const std::string& program,
                            const SpawnOptions& options) {
  const std::string why = std::strerror(failure.err);
  switch (failure.step) {
    case Step::kGroup:
      return "cannot start " + program + " in a new process group: " + why;
    case Step::kStdin:
    case Step::kStdout:
    case Step::kStderr: {
      const Redirect& redirect = RedirectOf(options, failure.step);
      const std::string file =
          redirect.kind == Redirect::Kind::kFile ? redirect.path : std::string("/dev/null");
      return "cannot open " + file + " as the " + StreamName(failure.step) + " of " + program +
             ": " + why;
    }
    case Step::kLock:
      if (failure.err == EWOULDBLOCK) {
        return options.lock_path + " is locked by another process; " + program + " did not run";
      }
      return "cannot lock " + options.lock_path + " for " + program + ": " + why;
    case Step::kExec:
      return "cannot run " + program + ": " + why +
             (options.search_path && program.find('/') == std::string::npos ? " (searched PATH)"
                                                                            : "");
  }
  return "cannot start " + program;
}

// Forks a child set up by `plan` (completed here from `options`) that then
// calls `in_child`, which must not return. Leaves the parent's ends of the
// pipes asked for in `pipes` (-1 elsewhere) and a failed set-up in
// *start_error and *start_errno. Throws when pipe or fork fail.
template <class InChild>
pid_t ForkWithPlan(const SpawnOptions& options, ChildPlan& plan, const std::string& program,
                   int pipes[3][2], std::string* start_error, int* start_errno, InChild in_child) {
  ROBOFLEET_CHECK(options.stdin_from.kind != Redirect::Kind::kToStdout);
  ROBOFLEET_CHECK(options.stdout_to.kind != Redirect::Kind::kToStdout);
  const Redirect* redirects[3] = {&options.stdin_from, &options.stdout_to, &options.stderr_to};
  int report[2] = {-1, -1};
  auto close_all = [&] {
    ClosePair(report);
    for (int fd = 0; fd < 3; ++fd) ClosePair(pipes[fd]);
  };
  if (pipe2(report, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("cannot start ") + program +
                             ": pipe: " + std::strerror(errno));
  }
  for (int fd = 0; fd < 3; ++fd) {
    const Redirect& redirect = *redirects[fd];
    plan.kind[fd] = redirect.kind;
    const int write_flags = O_WRONLY | O_CREAT | O_CLOEXEC | (redirect.append ? O_APPEND : O_TRUNC);
    if (redirect.kind == Redirect::Kind::kNull) {
      plan.file[fd] = "/dev/null";
      plan.file_flags[fd] = (fd == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC;
    } else if (redirect.kind == Redirect::Kind::kFile) {
      plan.file[fd] = redirect.path.c_str();
      plan.file_flags[fd] = fd == 0 ? O_RDONLY | O_CLOEXEC : write_flags;
    } else if (redirect.kind == Redirect::Kind::kPipe) {
      // close-on-exec in the parent, so no other child inherits them
      if (pipe2(pipes[fd], O_CLOEXEC) != 0) {
        const int err = errno;
        close_all();
        throw std::runtime_error(std::string("cannot start ") + program +
                                 ": pipe: " + std::strerror(err));
      }
      plan.pipe_end[fd] = fd == 0 ? pipes[fd][0] : pipes[fd][1];
      plan.parent_end[fd] = fd == 0 ? pipes[fd][1] : pipes[fd][0];
    }
  }
  plan.death_signal = options.death_signal;
  plan.parent = getpid();
  plan.new_process_group = options.new_process_group;
  plan.ignore_interrupt = options.ignore_interrupt;
  plan.lock_path = options.lock_path.empty() ? nullptr : options.lock_path.c_str();
  plan.report_fd = report[1];
  plan.report_read_fd = report[0];

  // a stop signal's handler (KillAllChildren) must find the child listed:
  // SIGINT and SIGTERM wait until it is
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &plan.mask);
  const pid_t pid = fork();
  if (pid > 0) ListChild(pid);
  pthread_sigmask(SIG_SETMASK, &plan.mask, nullptr);
  if (pid < 0) {
    const int err = errno;
    close_all();
    throw std::runtime_error(std::string("cannot start ") + program +
                             ": fork: " + std::strerror(err));
  }
  if (pid == 0) {
    SetUpChild(plan);
    in_child();
    _exit(kCannotStartExitCode);  // not reached: in_child exits
  }
  // the child's ends are the child's now
  close(report[1]);
  report[1] = -1;
  for (int fd = 0; fd < 3; ++fd) {
    if (plan.pipe_end[fd] < 0) continue;
    close(plan.pipe_end[fd]);
    (fd == 0 ? pipes[fd][0] : pipes[fd][1]) = -1;
  }
  // both sides set the group, so it exists whichever runs first
  if (options.new_process_group) setpgid(pid, pid);
  // end of file: exec succeeded (the pipe closed on exec) or ForkCall's
  // function is running; a record: the step that failed
  StartFailure failure{};
  ssize_t n;
  while ((n = read(report[0], &failure, sizeof(failure))) < 0 && errno == EINTR) {
  }
  ClosePair(report);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    *start_error = DescribeFailure(failure, program, options);
    *start_errno = failure.err;
  }
  return pid;
}

// Blocking waitpid that retries on EINTR; the child must be ours and unreaped.
int WaitFor(pid_t pid) {
  int status = 0;
  const pid_t got = Reap(pid, &status, 0);
  ROBOFLEET_CHECK(got == pid);  // someone else reaped our child
  return status;
}

// Writes all of `bytes` to `fd` with SIGPIPE blocked in this thread; a
// SIGPIPE the write raised is taken back, so a closed reader is a return
// value, not the death of this process.
bool WriteAllNoSigpipe(int fd, std::string_view bytes) {
  sigset_t sigpipe, old_mask, pending;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask);
  bool ok = true;
  int err = 0;
  const char* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      err = errno;
      break;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (err == EPIPE && !was_pending) {
    const timespec no_wait{0, 0};
    while (sigtimedwait(&sigpipe, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return ok;
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

}  // namespace

// ---- Child ----

Child::Child(Child&& other) noexcept { *this = std::move(other); }

Child& Child::operator=(Child&& other) noexcept {
  if (this == &other) return *this;
  Reset();
  pid_ = other.pid_;
  reaped_ = other.reaped_;
  status_ = other.status_;
  start_error_ = std::move(other.start_error_);
  start_errno_ = other.start_errno_;
  stdin_fd_ = other.stdin_fd_;
  stdout_fd_ = other.stdout_fd_;
  stderr_fd_ = other.stderr_fd_;
  stdout_buffer_ = std::move(other.stdout_buffer_);
  other.pid_ = -1;
  other.stdin_fd_ = other.stdout_fd_ = other.stderr_fd_ = -1;
  return *this;
}

Child::~Child() { Reset(); }

void Child::Reset() {
  CloseAll();
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status = 0;
    Reap(pid_, &status, 0);
  }
  pid_ = -1;
  reaped_ = false;
}

void Child::CloseAll() {
  CloseFd(&stdin_fd_);
  CloseFd(&stdout_fd_);
  CloseFd(&stderr_fd_);
}

bool Child::WriteStdin(std::string_view bytes) {
  if (stdin_fd_ < 0) return false;
  return WriteAllNoSigpipe(stdin_fd_, bytes);
}

void Child::CloseStdin() { CloseFd(&stdin_fd_); }

bool Child::ReadStdoutLine(std::string* line) {
  line->clear();
  size_t newline;
  char buf[4096];
  while ((newline = stdout_buffer_.find('\n')) == std::string::npos && stdout_fd_ >= 0) {
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    stdout_buffer_.append(buf, static_cast<size_t>(n));
  }
  if (newline == std::string::npos) {
    if (stdout_buffer_.empty()) return false;
    line->swap(stdout_buffer_);
    stdout_buffer_.clear();
  } else {
    line->assign(stdout_buffer_, 0, newline);
    stdout_buffer_.erase(0, newline + 1);
  }
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

std::string Child::ReadStdoutToEnd() {
  std::string out;
  out.swap(stdout_buffer_);
  char buf[4096];
  while (stdout_fd_ >= 0) {
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool Child::Signal(int sig, bool group) const {
  if (pid_ <= 0 || reaped_) return false;
  return kill(group ? -pid_ : pid_, sig) == 0;
}

int Child::Wait() {
  ROBOFLEET_CHECK(pid_ > 0);
  CloseAll();
  if (!reaped_) {
    status_ = WaitFor(pid_);
    reaped_ = true;
  }
  return status_;
}

std::optional<int> Child::TryWait() {
  ROBOFLEET_CHECK(pid_ > 0);
  if (reaped_) return status_;
  int status = 0;
  const pid_t got = Reap(pid_, &status, WNOHANG);
  ROBOFLEET_CHECK(got >= 0);  // someone else reaped our child
  if (got == 0) return std::nullopt;
  reaped_ = true;
  status_ = status;
  return status_;
}

pid_t Child::Release() {
  const pid_t pid = pid_;
  pid_ = -1;
  return pid;
}

// ---- starting ----

Child Start(const std::vector<std::string>& argv, const SpawnOptions& options) {
  ROBOFLEET_CHECK(!argv.empty());
  const std::vector<std::string> candidates = Candidates(argv[0], options.search_path);
  ChildPlan plan;
  for (const std::string& c : candidates) plan.candidates.push_back(c.c_str());
  for (const std::string& a : argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  Child child;
  plan.default_stop_handlers = true;
  child.pid_ = ForkWithPlan(options, plan, "'" + argv[0] + "'", pipes, &child.start_error_,
                            &child.start_errno_, [&plan] { ExecChild(plan); });
  child.stdin_fd_ = pipes[0][1];
  child.stdout_fd_ = pipes[1][0];
  child.stderr_fd_ = pipes[2][0];
  return child;
}

Child ForkCall(const std::function<int()>& fn, const SpawnOptions& options) {
  ChildPlan plan;
  int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  // what is buffered now would otherwise be written by both processes
  std::fflush(nullptr);
  Child child;
  child.pid_ = ForkWithPlan(options, plan, "a forked child", pipes, &child.start_error_,
                            &child.start_errno_, [&plan, &fn] {
                              // end of file on the report pipe: set up and running
                              close(plan.report_fd);
                              int code = 1;
                              try {
                                code = fn();
                              } catch (const std::exception& e) {
                                std::fprintf(stderr, "robofleet: forked child: %s\n", e.what());
                              } catch (...) {
                                std::fprintf(stderr, "robofleet: forked child: unknown error\n");
                              }
                              std::fflush(nullptr);
                              _exit(code);
                            });
  child.stdin_fd_ = pipes[0][1];
  child.stdout_fd_ = pipes[1][0];
  child.stderr_fd_ = pipes[2][0];
  return child;
}

pid_t Spawn(const std::vector<std::string>& argv) {
  SpawnOptions options;
  options.death_signal = SIGTERM;
  options.ignore_interrupt = true;
  Child child = Start(argv, options);
  // the child has exited kCannotStartExitCode: the supervisor sees a failed
  // child, as for one that crashed (a binary mid-rebuild comes back)
  if (!child.started()) std::fprintf(stderr, "robofleet: %s\n", child.start_error().c_str());
  return child.Release();
}

int RunResult::exit_code() const { return ExitCode(status); }

RunResult RunAndCapture(const std::vector<std::string>& argv, SpawnOptions options) {
  ROBOFLEET_CHECK(options.stdin_from.kind != Redirect::Kind::kPipe);
  ROBOFLEET_CHECK(options.stderr_to.kind != Redirect::Kind::kPipe);
  options.stdout_to = Redirect::Pipe();
  Child child = Start(argv, options);
  RunResult result;
  result.start_error = child.start_error();
  if (child.started()) result.output = child.ReadStdoutToEnd();
  result.status = child.Wait();
  return result;
}

RunResult RunQuietly(const std::vector<std::string>& argv) {
  SpawnOptions options;
  options.search_path = true;
  options.stdout_to = Redirect::Null();
  options.stderr_to = Redirect::Null();
  Child child = Start(argv, options);
  RunResult result;
  result.start_error = child.start_error();
  result.status = child.Wait();
  return result;
}

// ---- reaping and signals ----

int ExitCode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

std::string DescribeStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return std::string("signal ") + strsignal(WTERMSIG(wait_status));
  return "status " + std::to_string(wait_status);
}

std::optional<ExitedChild> ReapAnyChild() {
  ExitedChild exited;
  const pid_t got = Reap(-1, &exited.status, WNOHANG);
  if (got <= 0) return std::nullopt;
  exited.pid = got;
  return exited;
}

std::optional<int> TryReap(pid_t pid) {
  int status = 0;
  const pid_t got = Reap(pid, &status, WNOHANG);
  if (got != pid) return std::nullopt;
  return status;
}

int ForwardSignal(const std::vector<pid_t>& pids, int sig) {
  int signalled = 0;
  for (pid_t pid : pids) signalled += pid > 0 && kill(pid, sig) == 0 ? 1 : 0;
  return signalled;
}

std::vector<pid_t> SignalAndReap(std::vector<pid_t> pids, int sig, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  ForwardSignal(pids, sig);
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (!pids.empty() && Clock::now() < deadline) {
    for (auto it = pids.begin(); it != pids.end();) {
      it = TryReap(*it) ? pids.erase(it) : it + 1;
    }
    if (!pids.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pids;
}

int KillAllChildren() {
  int killed = 0;
  for (const std::atomic<pid_t>& slot : g_listed_children) {
    const pid_t pid = slot.load();
    if (pid > 0 && kill(pid, SIGKILL) == 0) ++killed;
  }
  return killed;
}

// ---- this process and others ----

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

// Child processes: the one way RoboFleet starts, talks to, signals and
// reaps another process. Every start goes through Start() (a program, by
// argv, never through a shell) or ForkCall() (a function of this program in
// a forked copy); everything else here builds on those two.
//
// Between fork and exec a child calls only async-signal-safe functions
// (open, dup2, fcntl, flock, prctl, setpgid, execv, write, _exit): the
// parent may have other threads (LibTorch's pools), whose locks the child
// would inherit held. Whatever needs memory (argv, PATH candidates, paths)
// is prepared before the fork.
//
// Start() reports whether the program could start: the child sends the
// errno of a failed step back on a close-on-exec pipe, so the parent knows
// before Start() returns. A child that could not start has exited with
// kCannotStartExitCode (127, as a shell's "command not found") or, for a
// held lock, kLockBusyExitCode; it is left for the caller to reap like any
// other child.
//
// Thread-safety: Start() may be called from any thread; a Child is not safe
// to use from two threads at once. PR_SET_PDEATHSIG fires when the *thread*
// that started the child exits, so children that should die with the
// process are started from its main thread. A ForkCall() child runs no exec,
// so it keeps copies of every descriptor open at its fork, close-on-exec or
// not: start forked children from one thread, or a concurrent Start() waits
// until they exit. ReapAnyChild() reaps any child, so it is for processes
// whose children are all supervised by pid (train, sweep), not mixed with
// Child objects that are waiting at the same time.
//
// Every child started here is listed until it is reaped (by Child::Wait,
// TryWait or its destructor, ReapAnyChild, TryReap or SignalAndReap), so that
// KillAllChildren() can end them all from a signal handler: a second Ctrl-C
// ends a run at once without leaving a process behind. A child is listed
// before any signal handler of the parent can run after the fork.
#ifndef ROBOFLEET_LAUNCHER_PROCESS_H_
#define ROBOFLEET_LAUNCHER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace robofleet::launcher {

// Exit status of a child that could not run its program (exec failed, a
// redirect could not be opened).
constexpr int kCannotStartExitCode = 127;
// Exit status of a child whose SpawnOptions::lock_path another process holds
// (EX_TEMPFAIL: try again later).
constexpr int kLockBusyExitCode = 75;

// Where one standard stream of a child goes.
struct Redirect {
  enum class Kind {
    kInherit,   // the parent's own stream
    kNull,      // /dev/null
    kFile,      // `path` (stdin: read; stdout/stderr: created 0644 if missing)
    kPipe,      // a pipe whose other end the parent holds (Child::stdin_fd() ...)
    kToStdout,  // stderr only: wherever stdout goes (2>&1)
  };
  Kind kind = Kind::kInherit;
  std::string path;     // kFile: the file
  bool append = false;  // kFile, stdout/stderr: append instead of truncating

  static Redirect Inherit() { return {}; }
  static Redirect Null() { return {Kind::kNull, "", false}; }
  static Redirect File(std::string path, bool append) {
    return {Kind::kFile, std::move(path), append};
  }
  static Redirect Pipe() { return {Kind::kPipe, "", false}; }
  static Redirect ToStdout() { return {Kind::kToStdout, "", false}; }
};

// How to start a child. The defaults start argv[0] (a path) with this
// process's streams, in its process group, independent of its lifetime.
struct SpawnOptions {
  // Where the child reads its standard input. Default: this process's.
  Redirect stdin_from;
  // Where its standard output goes. Default: this process's.
  Redirect stdout_to;
  // Where its standard error goes (kToStdout: with stdout). Default: this
  // process's.
  Redirect stderr_to;
  // Look argv[0] up in PATH when it holds no '/', as execvp does (but a
  // file that is not a binary is not handed to a shell). Default false:
  // argv[0] is a path. Ignored by ForkCall, which runs no program.
  bool search_path = false;
  // Signal the child gets when the thread that started it dies, even by
  // SIGKILL (PR_SET_PDEATHSIG); a child whose parent is already gone by the
  // time it is set exits 1 at once. 0: none. Default 0.
  int death_signal = 0;
  // The child starts with SIGINT ignored (kept through exec), as a shell
  // starts background jobs: a terminal's Ctrl-C, which reaches the whole
  // foreground process group, then reaches only its supervisor, which passes
  // the stop on (core/signals.h: StopHandling::keep_ignored_interrupt).
  // Default false.
  bool ignore_interrupt = false;
  // The child leads a new process group (its pid is the group id): a signal
  // to the group (SignalGroup) reaches its own children too, and a Ctrl-C at
  // the terminal does not. Default false.
  bool new_process_group = false;
  // A file (created 0644 if missing) that the child takes an exclusive
  // flock on before it runs the program. The descriptor is inherited by the
  // program and everything it starts, so the lock is held as long as any of
  // them lives: one run of a thing at a time, even across machines on a
  // shared file system. When another process holds it, the child exits
  // kLockBusyExitCode without running the program. Default "": no lock.
  std::string lock_path;
};

// A started child process: its pid, the parent's ends of its pipes, and
// until it is reaped or released, the process itself. Destroying a Child
// that still owns an unreaped process kills it (SIGKILL) and reaps it, so no
// child outlives its owner by accident; Release() hands the pid over to a
// supervisor instead. Movable, not copyable.
class Child {
 public:
  Child() = default;
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  // The process id; -1 once released, or for an empty Child.
  pid_t pid() const { return pid_; }
  // True when the program (or ForkCall's function) is running or ran.
  bool started() const { return start_error_.empty(); }
  // Why it could not start ("cannot run 'ffmpeg': No such file or
  // directory"), or "" when it started. The child has then exited with
  // kCannotStartExitCode or kLockBusyExitCode; Wait() returns that.
  const std::string& start_error() const { return start_error_; }
  // errno of the failed start step (ENOENT, EACCES, EWOULDBLOCK for a held
  // lock), or 0 when it started.
  int start_errno() const { return start_errno_; }

  // The parent's ends of the pipes asked for, -1 otherwise. Owned by the
  // Child; valid until Close*() or Wait().
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }

  // Writes all of `bytes` to the child's stdin pipe. Never raises SIGPIPE:
  // a child that closed its input (or died) reads as false.
  bool WriteStdin(std::string_view bytes);
  // Ends the child's input (it reads EOF).
  void CloseStdin();
  // The next line of the child's stdout pipe, without its '\n' ("\r\n"
  // too); false at end of output with nothing left. A last line without
  // '\n' is returned as a line.
  bool ReadStdoutLine(std::string* line);
  // Everything left on the child's stdout pipe, up to its end.
  std::string ReadStdoutToEnd();

  // Sends `sig` to the child (its process group, with `group`, for a child
  // started with new_process_group). False when it is already reaped or
  // released, or kill fails.
  bool Signal(int sig, bool group = false) const;

  // Closes this side's pipes (the child sees EOF on stdin, EPIPE on
  // output: read what you need first), then blocks until the child exits;
  // returns its wait status (ExitCode and DescribeStatus decode it).
  // Retries on EINTR. Returns the same status again when called again.
  int Wait();
  // The wait status when the child has exited (reaping it), else nothing.
  // Does not block and closes nothing.
  std::optional<int> TryWait();

  // Gives up the process: returns its pid, which the caller now reaps
  // (ReapAnyChild, TryReap, SignalAndReap). Pipes stay with the Child.
  pid_t Release();

 private:
  friend Child Start(const std::vector<std::string>& argv, const SpawnOptions& options);
  friend Child ForkCall(const std::function<int()>& fn, const SpawnOptions& options);
  void CloseAll();
  // Closes the pipes, kills and reaps an owned unreaped process.
  void Reset();

  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string start_error_;
  int start_errno_ = 0;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string stdout_buffer_;  // read from stdout_fd_, not yet returned
};

// Starts `argv` (argv[0] the program; never a shell) as `options` says.
// Throws std::runtime_error only when the system cannot make a process
// (pipe or fork fail: out of processes or descriptors). A program that
// cannot run is an expected outcome: see Child::start_error(). Preconditions
// (checked): argv is not empty; only stderr may be kToStdout.
Child Start(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// Runs `fn` in a forked copy of this process, set up as `options` says
// (search_path aside), and exits with its return value; an exception that
// escapes `fn` is printed to stderr and the child exits 1. The copy has only
// the calling thread: `fn` must not wait on other threads or on locks they
// might have held at the fork (glibc's malloc and stdio are safe). stdio
// buffers are flushed before the fork and when `fn` returns, so nothing is
// written twice or lost. Throws as Start() does.
Child ForkCall(const std::function<int()>& fn, const SpawnOptions& options = {});

// Starts this same binary's subcommand `argv` (argv[0] a path, usually
// SelfExe()) as a child that gets SIGTERM when this process dies and ignores
// the terminal's SIGINT (SpawnOptions::ignore_interrupt: it stops when its
// supervisor says so), and hands its pid to the caller to reap. For supervisors that keep pids in
// their own tables. When the program cannot run, says why on stderr and still returns the pid, of a
// child that has exited kCannotStartExitCode: the supervisor handles it as any failed child (a
// binary caught mid-rebuild runs again on the next restart). Throws only as Start() does.
pid_t Spawn(const std::vector<std::string>& argv);

// What a program run to completion did.
struct RunResult {
  int status = 0;           // wait status (ExitCode, DescribeStatus)
  std::string start_error;  // "" when the program ran
  std::string output;       // its standard output (RunAndCapture only)

  bool started() const { return start_error.empty(); }
  // Exit code, or 128 + signal number (see ExitCode()).
  int exit_code() const;
};

// Runs `argv` to completion with its standard output captured; its other
// streams as `options` says (default: inherited). Preconditions (checked):
// stdin and stderr are not pipes (only one pipe is drained, so a second
// could fill and stall the child).
RunResult RunAndCapture(const std::vector<std::string>& argv, SpawnOptions options = {});

// Runs `argv` to completion, looked up in PATH, with stdout and stderr
// discarded: a helper whose success is all that matters.
RunResult RunQuietly(const std::vector<std::string>& argv);

// A wait status as a shell reports it: the exit code, or 128 + the signal
// number for a child killed by a signal.
int ExitCode(int wait_status);

// A wait status in words: "exit status 3", "signal Killed".
std::string DescribeStatus(int wait_status);

// A child of this process that has exited, reaped by ReapAnyChild().
struct ExitedChild {
  pid_t pid = -1;
  int status = 0;  // wait status
};

// Reaps one child of this process that has exited, if any, without
// blocking: for supervisors that watch many children by pid.
std::optional<ExitedChild> ReapAnyChild();

// The wait status of child `pid` if it has exited (reaping it), else
// nothing. Does not block. Returns nothing for a pid that is not an
// unreaped child of this process.
std::optional<int> TryReap(pid_t pid);

// Forwards `sig` to every pid (a supervisor passing a stop on to its
// children); returns how many were signalled.
int ForwardSignal(const std::vector<pid_t>& pids, int sig);

// Sends `sig` to every pid, then waits until all have exited or `timeout_s`
// passed; returns the pids still alive.
std::vector<pid_t> SignalAndReap(std::vector<pid_t> pids, int sig, double timeout_s);

// Sends SIGKILL to every child of this process that was started here and is
// not reaped yet; returns how many. Async-signal-safe: for a handler of a
// second Ctrl-C (core/signals.h: StopHandling::on_second_interrupt). The
// children are left for their owners to reap.
int KillAllChildren();

// Path of the running robofleet binary (what children exec). Throws when
// /proc/self/exe cannot be read.
std::string SelfExe();

// A tcp port on `address` that is free now (the kernel's pick; the caller
// binds it moments later). Throws UserError naming the address when it does
// not resolve or is not this host's.
int FreePort(const std::string& address);

// Peak resident set size (VmHWM) of a live process in bytes; `pid` 0 means
// this process. Returns -1 when /proc has no such process.
int64_t PeakRssBytes(pid_t pid);

// User plus system CPU seconds a live process has used so far, all its
// threads; `pid` 0 means this process. Returns -1 when /proc has no such process.
double CpuSeconds(pid_t pid);

}  // namespace robofleet::launcher

#endif  // ROBOFLEET_LAUNCHER_PROCESS_H_

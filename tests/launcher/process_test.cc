#include "launcher/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/temp_folder.h"

namespace robofleet::launcher {
namespace {

namespace fs = std::filesystem;

using robofleet::testing::Slurp;

// A fresh folder, removed with everything in it at the end of the test.
class TempFolder : public robofleet::testing::TempFolder {
 public:
  TempFolder() : robofleet::testing::TempFolder("rf-process") {}
};

// Polls `condition` every 10 ms until it holds or `timeout_s` passes.
bool WaitUntil(const std::function<bool()>& condition, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// Whether someone holds an exclusive flock on `path` (probed from a new
// open file description, which conflicts even with this process's own).
bool Locked(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return locked;
}

SpawnOptions PathLookup() {
  SpawnOptions options;
  options.search_path = true;
  return options;
}

TEST(ProcessTest, CapturesStdoutAndArgumentsArriveIntactWithoutAShell) {
  // spaces, both quotes, a shell metacharacter or two and an empty argument
  const std::vector<std::string> odd = {"two words", "it's", "say \"hi\"", "$HOME;*", ""};
  std::vector<std::string> argv = {"printf", "[%s]\\n"};
  argv.insert(argv.end(), odd.begin(), odd.end());
  const RunResult result = RunAndCapture(argv, PathLookup());
  ASSERT_TRUE(result.started()) << result.start_error;
  EXPECT_EQ(result.exit_code(), 0);
  EXPECT_EQ(result.output, "[two words]\n[it's]\n[say \"hi\"]\n[$HOME;*]\n[]\n");
}

TEST(ProcessTest, AMissingBinaryIsAClearStartErrorAndExitStatus127) {
  Child child = Start({"/no/such/robofleet-binary", "--flag"});
  EXPECT_FALSE(child.started());
  EXPECT_EQ(child.start_errno(), ENOENT);
  EXPECT_NE(child.start_error().find("/no/such/robofleet-binary"), std::string::npos)
      << child.start_error();
  EXPECT_NE(child.start_error().find("No such file or directory"), std::string::npos)
      << child.start_error();
  EXPECT_EQ(ExitCode(child.Wait()), kCannotStartExitCode);

  // by name, through PATH
  const RunResult quiet = RunQuietly({"robofleet-no-such-program"});
  EXPECT_FALSE(quiet.started());
  EXPECT_NE(quiet.start_error.find("searched PATH"), std::string::npos) << quiet.start_error;
  EXPECT_EQ(quiet.exit_code(), kCannotStartExitCode);
}

TEST(ProcessTest, WithoutSearchPathABareNameIsNotLookedUp) {
  // `true` is in PATH, but a bare name without search_path is a path
  // relative to the working directory
  EXPECT_FALSE(RunAndCapture({"true"}).started());
  EXPECT_TRUE(RunAndCapture({"true"}, PathLookup()).started());
}

TEST(ProcessTest, ExitStatusAndDeathBySignalAreDecoded) {
  Child three = ForkCall([] { return 3; });
  ASSERT_TRUE(three.started()) << three.start_error();
  const int status = three.Wait();
  EXPECT_EQ(ExitCode(status), 3);
  EXPECT_EQ(DescribeStatus(status), "exit status 3");
  EXPECT_EQ(three.Wait(), status);  // waiting again returns the same status

  Child killed = ForkCall([] {
    raise(SIGKILL);
    return 0;
  });
  const int killed_status = killed.Wait();
  EXPECT_EQ(ExitCode(killed_status), 128 + SIGKILL);
  EXPECT_EQ(DescribeStatus(killed_status), std::string("signal ") + strsignal(SIGKILL));

  Child thrower = ForkCall([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_EQ(ExitCode(thrower.Wait()), 1);
}

TEST(ProcessTest, TryWaitAndTryReapDoNotBlockAndReapOnce) {
  Child child = Start({"sleep", "30"}, PathLookup());
  ASSERT_TRUE(child.started()) << child.start_error();
  EXPECT_FALSE(child.TryWait().has_value());
  EXPECT_TRUE(child.Signal(SIGTERM));
  std::optional<int> status;
  ASSERT_TRUE(WaitUntil([&] { return (status = child.TryWait()).has_value(); }, 10.0));
  EXPECT_EQ(ExitCode(*status), 128 + SIGTERM);
  EXPECT_FALSE(child.Signal(SIGTERM));  // reaped: nothing left to signal

  // a released child is the caller's to reap
  const pid_t pid = Start({"true"}, PathLookup()).Release();
  std::optional<int> released;
  ASSERT_TRUE(WaitUntil([&] { return (released = TryReap(pid)).has_value(); }, 10.0));
  EXPECT_EQ(ExitCode(*released), 0);
  EXPECT_FALSE(TryReap(pid).has_value());
}

TEST(ProcessTest, ReapAnyChildReportsEachExitedChildOnce) {
  const pid_t a = ForkCall([] { return 4; }).Release();
  const pid_t b = ForkCall([] { return 5; }).Release();
  std::map<pid_t, int> codes;
  ASSERT_TRUE(WaitUntil(
      [&] {
        while (const std::optional<ExitedChild> exited = ReapAnyChild()) {
          codes[exited->pid] = ExitCode(exited->status);
        }
        return codes.count(a) == 1 && codes.count(b) == 1;
      },
      10.0));
  EXPECT_EQ(codes[a], 4);
  EXPECT_EQ(codes[b], 5);
  EXPECT_FALSE(ReapAnyChild().has_value());  // nothing exited is left
}

TEST(ProcessTest, StdoutAndStderrGoToFilesTruncatedOrAppended) {
  TempFolder dir;
  const std::string out = dir.path() + "/out.log", err = dir.path() + "/err.log";
  SpawnOptions options = PathLookup();
  options.stdout_to = Redirect::File(out, /*append=*/false);
  options.stderr_to = Redirect::File(err, /*append=*/false);
  // cat writes one file to stdout and complains about the other on stderr
  std::ofstream(dir.path() + "/in.txt") << "hello\n";
  const std::vector<std::string> argv = {"cat", dir.path() + "/in.txt", dir.path() + "/missing"};
  EXPECT_NE(ExitCode(Start(argv, options).Wait()), 0);
  EXPECT_EQ(Slurp(out), "hello\n");
  EXPECT_NE(Slurp(err).find(dir.path() + "/missing"), std::string::npos) << Slurp(err);

  // truncating starts over; appending adds, and stderr may join stdout
  Start(argv, options).Wait();
  EXPECT_EQ(Slurp(out), "hello\n");
  options.stdout_to = Redirect::File(out, /*append=*/true);
  options.stderr_to = Redirect::ToStdout();
  Start(argv, options).Wait();
  const std::string both = Slurp(out);
  EXPECT_EQ(both.rfind("hello\nhello\n", 0), 0u) << both;
  EXPECT_NE(both.find(dir.path() + "/missing"), std::string::npos) << both;

  // a file that cannot be opened is a start error naming it
  options.stdout_to = Redirect::File(dir.path() + "/no/such/dir/out.log", false);
  Child child = Start(argv, options);
  EXPECT_NE(child.start_error().find(dir.path() + "/no/such/dir/out.log"), std::string::npos)
      << child.start_error();
  EXPECT_EQ(ExitCode(child.Wait()), kCannotStartExitCode);
}

TEST(ProcessTest, NullRedirectsAreDevNull) {
  SpawnOptions options = PathLookup();
  options.stdin_from = Redirect::Null();
  options.stderr_to = Redirect::Null();
  for (const char* fd : {"/proc/self/fd/0", "/proc/self/fd/2"}) {
    const RunResult result = RunAndCapture({"readlink", fd}, options);
    EXPECT_EQ(result.output, "/dev/null\n") << fd;
  }
  // and a stdin from /dev/null reads as empty at once
  EXPECT_EQ(RunAndCapture({"cat"}, options).output, "");
}

TEST(ProcessTest, PipesBothWaysCarryLinesAndEndOfInput) {
  SpawnOptions options = PathLookup();
  options.stdin_from = Redirect::Pipe();
  options.stdout_to = Redirect::Pipe();
  Child cat = Start({"cat"}, options);
  ASSERT_TRUE(cat.started()) << cat.start_error();
  ASSERT_GE(cat.stdin_fd(), 0);
  ASSERT_GE(cat.stdout_fd(), 0);
  EXPECT_EQ(cat.stderr_fd(), -1);
  std::string line;
  for (const std::string sent : {"update", "a line with spaces", ""}) {
    ASSERT_TRUE(cat.WriteStdin(sent + "\n"));
    ASSERT_TRUE(cat.ReadStdoutLine(&line));
    EXPECT_EQ(line, sent);
  }
  ASSERT_TRUE(cat.WriteStdin("windows\r\nlast line without newline"));
  cat.CloseStdin();  // cat sees end of input and exits
  ASSERT_TRUE(cat.ReadStdoutLine(&line));
  EXPECT_EQ(line, "windows");
  ASSERT_TRUE(cat.ReadStdoutLine(&line));
  EXPECT_EQ(line, "last line without newline");
  EXPECT_FALSE(cat.ReadStdoutLine(&line));
  EXPECT_EQ(ExitCode(cat.Wait()), 0);
}

TEST(ProcessTest, WritingToAChildThatIsGoneIsFalseNotSigpipe) {
  SpawnOptions options = PathLookup();
  options.stdin_from = Redirect::Pipe();
  Child child = Start({"true"}, options);
  ASSERT_TRUE(child.started()) << child.start_error();
  // `true` never reads: once it is gone, the pipe has no reader
  std::optional<int> status;
  ASSERT_TRUE(WaitUntil([&] { return (status = child.TryWait()).has_value(); }, 10.0));
  EXPECT_FALSE(child.WriteStdin(std::string(1 << 16, 'x')));
  sigset_t pending;
  sigpending(&pending);
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));  // taken back, not left pending
}

TEST(ProcessTest, AForkedChildSeesEndOfInputOnItsStdinPipe) {
  SpawnOptions options;
  options.stdin_from = Redirect::Pipe();
  options.stdout_to = Redirect::Pipe();
  Child child = ForkCall(
      [] {
        // echo stdin to stdout with raw reads, until end of input
        char buf[256];
        ssize_t n;
        while ((n = read(0, buf, sizeof(buf))) > 0) {
          if (write(1, buf, static_cast<size_t>(n)) != n) return 2;
        }
        return n == 0 ? 0 : 3;
      },
      options);
  ASSERT_TRUE(child.started()) << child.start_error();
  ASSERT_TRUE(child.WriteStdin("through a fork\n"));
  child.CloseStdin();
  EXPECT_EQ(child.ReadStdoutToEnd(), "through a fork\n");
  EXPECT_EQ(ExitCode(child.Wait()), 0);
}

TEST(ProcessTest, AChildHoldsItsLockFileAndABusyLockIsAStartError) {
  TempFolder dir;
  const std::string lock = dir.path() + "/run.lock";
  SpawnOptions options = PathLookup();
  options.lock_path = lock;
  Child holder = Start({"sleep", "30"}, options);
  ASSERT_TRUE(holder.started()) << holder.start_error();
  EXPECT_TRUE(Locked(lock));  // taken before exec: held by the time Start returns

  Child second = Start({"true"}, options);
  EXPECT_FALSE(second.started());
  EXPECT_EQ(second.start_errno(), EWOULDBLOCK);
  EXPECT_NE(second.start_error().find(lock), std::string::npos) << second.start_error();
  EXPECT_EQ(ExitCode(second.Wait()), kLockBusyExitCode);

  holder.Signal(SIGKILL);
  holder.Wait();
  EXPECT_FALSE(Locked(lock));  // gone with the process that held it
}

// The path of `sleep` on this machine (Spawn takes a path, not a name).
std::string SleepBinary() {
  for (const char* path : {"/usr/bin/sleep", "/bin/sleep"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "/usr/bin/sleep";
}

TEST(ProcessTest, DiesWithParentChildrenGetTheirSignalWhenTheParentDies) {
  // this test process adopts orphans, so it can reap the grandchildren and
  // see how they ended
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int pid_pipe[2];
  ASSERT_EQ(pipe(pid_pipe), 0);
  const std::string sleep_binary = SleepBinary();
  Child parent = ForkCall([&] {
    SpawnOptions options;
    options.death_signal = SIGUSR1;
    const pid_t grandchildren[2] = {Start({sleep_binary, "60"}, options).Release(),
                                    Spawn({sleep_binary, "60"})};  // SIGTERM, as supervisors use
    if (write(pid_pipe[1], grandchildren, sizeof(grandchildren)) != sizeof(grandchildren)) {
      return 1;
    }
    return 0;  // the parent exits; the grandchildren should follow
  });
  close(pid_pipe[1]);
  pid_t grandchildren[2] = {-1, -1};
  ASSERT_EQ(read(pid_pipe[0], grandchildren, sizeof(grandchildren)),
            static_cast<ssize_t>(sizeof(grandchildren)));
  close(pid_pipe[0]);
  EXPECT_EQ(ExitCode(parent.Wait()), 0);
  const int expected_signal[2] = {SIGUSR1, SIGTERM};
  for (int i = 0; i < 2; ++i) {
    int status = 0;
    pid_t got = -1;
    ASSERT_TRUE(
        WaitUntil([&] { return (got = waitpid(grandchildren[i], &status, WNOHANG)) != 0; }, 10.0))
        << "grandchild " << i << " outlived its parent";
    ASSERT_EQ(got, grandchildren[i]);
    EXPECT_TRUE(WIFSIGNALED(status)) << DescribeStatus(status);
    EXPECT_EQ(WTERMSIG(status), expected_signal[i]) << DescribeStatus(status);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(ProcessTest, ASignalToANewProcessGroupReachesTheChildsOwnChildren) {
  int pid_pipe[2];
  ASSERT_EQ(pipe(pid_pipe), 0);
  SpawnOptions options;
  options.new_process_group = true;
  Child leader = ForkCall(
      [&] {
        // a grandchild in the same (new) group, then wait to be signalled
        const pid_t grandchild = Start({"sleep", "60"}, PathLookup()).Release();
        if (write(pid_pipe[1], &grandchild, sizeof(grandchild)) != sizeof(grandchild)) return 1;
        pause();
        return 0;
      },
      options);
  close(pid_pipe[1]);
  pid_t grandchild = -1;
  ASSERT_EQ(read(pid_pipe[0], &grandchild, sizeof(grandchild)),
            static_cast<ssize_t>(sizeof(grandchild)));
  close(pid_pipe[0]);
  EXPECT_EQ(getpgid(leader.pid()), leader.pid());
  EXPECT_EQ(getpgid(grandchild), leader.pid());
  EXPECT_NE(getpgid(0), leader.pid());  // not ours

  ASSERT_TRUE(leader.Signal(SIGTERM, /*group=*/true));
  EXPECT_EQ(ExitCode(leader.Wait()), 128 + SIGTERM);
  // the grandchild is not ours to reap: it is gone (or a zombie of init's)
  // once its state is no longer running or sleeping
  auto gone = [grandchild] {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close_paren = text.rfind(')');
    return close_paren == std::string::npos || text.compare(close_paren + 2, 1, "Z") == 0;
  };
  EXPECT_TRUE(WaitUntil(gone, 10.0)) << "the group's signal missed the grandchild";
}

TEST(ProcessTest, ForwardSignalAndSignalAndReapStopEveryChild) {
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) pids.push_back(Start({"sleep", "60"}, PathLookup()).Release());
  EXPECT_EQ(ForwardSignal(pids, SIGCONT), 3);  // harmless: all three are there
  EXPECT_EQ(SignalAndReap(pids, SIGTERM, 10.0), std::vector<pid_t>{});
  EXPECT_EQ(ForwardSignal(pids, SIGTERM), 0);  // reaped: gone
}

TEST(ProcessTest, DestroyingAChildKillsAndReapsIt) {
  pid_t pid = -1;
  {
    Child child = Start({"sleep", "60"}, PathLookup());
    pid = child.pid();
    ASSERT_GT(pid, 0);
  }
  // reaped: no such child any more (not even a zombie)
  errno = 0;
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessTest, SpawnGivesAPidToReapEvenWhenTheProgramCannotRun) {
  const pid_t pid = Spawn({SleepBinary(), "60"});
  EXPECT_EQ(SignalAndReap({pid}, SIGTERM, 10.0), std::vector<pid_t>{});
  // a supervisor sees a child that could not run as one that exited 127
  const pid_t missing = Spawn({"/no/such/binary"});
  std::optional<int> status;
  ASSERT_TRUE(WaitUntil([&] { return (status = TryReap(missing)).has_value(); }, 10.0));
  EXPECT_EQ(ExitCode(*status), kCannotStartExitCode);
}

TEST(ProcessTest, KillAllChildrenKillsEveryChildNotYetReapedAndOnlyThose) {
  // what a second Ctrl-C does from its signal handler: a Child, a pid handed
  // to a supervisor, and one already reaped (no longer this process's to kill)
  Child owned = Start({"sleep", "60"}, PathLookup());
  const pid_t released = Spawn({SleepBinary(), "60"});
  Child reaped = Start({"true"}, PathLookup());
  ASSERT_EQ(ExitCode(reaped.Wait()), 0);
  EXPECT_GE(KillAllChildren(), 2);
  const int owned_status = owned.Wait();
  EXPECT_TRUE(WIFSIGNALED(owned_status) && WTERMSIG(owned_status) == SIGKILL)
      << DescribeStatus(owned_status);
  std::optional<int> released_status;
  ASSERT_TRUE(WaitUntil([&] { return (released_status = TryReap(released)).has_value(); }, 10.0));
  EXPECT_TRUE(WIFSIGNALED(*released_status) && WTERMSIG(*released_status) == SIGKILL)
      << DescribeStatus(*released_status);
  // every child is reaped now: none is left to kill
  EXPECT_EQ(KillAllChildren(), 0);
}

TEST(ProcessTest, AChildStartedIgnoringInterruptsOutlivesSigintAndSpawnStartsThemSo) {
  SpawnOptions options = PathLookup();
  options.ignore_interrupt = true;
  Child ignoring = Start({"sleep", "60"}, options);
  const pid_t spawned = Spawn({SleepBinary(), "60"});
  // both signals wait until the child runs; SIGINT, the lower number, would
  // be delivered first and end it, were it not ignored
  ASSERT_TRUE(ignoring.Signal(SIGINT));
  ASSERT_TRUE(ignoring.Signal(SIGTERM));
  const int status = ignoring.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << DescribeStatus(status);
  ASSERT_EQ(ForwardSignal({spawned}, SIGINT), 1);
  ASSERT_EQ(ForwardSignal({spawned}, SIGTERM), 1);
  std::optional<int> spawned_status;
  ASSERT_TRUE(WaitUntil([&] { return (spawned_status = TryReap(spawned)).has_value(); }, 10.0));
  EXPECT_TRUE(WIFSIGNALED(*spawned_status) && WTERMSIG(*spawned_status) == SIGTERM)
      << DescribeStatus(*spawned_status);
}

}  // namespace
}  // namespace robofleet::launcher

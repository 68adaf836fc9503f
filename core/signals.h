// Cooperative shutdown: SIGINT and SIGTERM set a flag that process loops poll.
//
// The first SIGINT or SIGTERM asks the process to stop: its loops notice
// StopRequested(), save what they have and return. A second SIGINT (a second
// Ctrl-C) means "now": by default the process exits 130 from the handler at
// once; a supervisor instead passes StopHandling::on_second_interrupt, which
// ends its children from the handler, and then ends itself once it has
// reaped them (SecondInterrupt()).
//
// A process that a stop signal ended early, after saving what it had, exits
// StoppedExitCode(): 128 + the signal, as a shell reports a process that the
// signal killed (130 for SIGINT, 143 for SIGTERM).
#ifndef ROBOFLEET_CORE_SIGNALS_H_
#define ROBOFLEET_CORE_SIGNALS_H_

namespace robofleet {

// How a process takes its stop signals.
struct StopHandling {
  // Leave SIGINT ignored when the process started with it ignored, as the
  // children of robofleet train do: a terminal's Ctrl-C reaches the whole
  // foreground process group, and they must stop only when the launcher
  // says so (SIGTERM), or a second Ctrl-C would end the learner before its
  // checkpoint while the launcher still waits for it. Default false: SIGINT
  // is always handled.
  bool keep_ignored_interrupt = false;
  // Called from the signal handler on a second SIGINT, in place of exiting
  // at once; must be async-signal-safe. The process goes on and must end
  // itself (SecondInterrupt() turns true). nullptr (the default): exit 130
  // at once.
  void (*on_second_interrupt)() = nullptr;
};

// Installs the handlers for SIGINT and SIGTERM. Call once from main().
void InstallStopHandlers(const StopHandling& handling = {});

// True once a stop was requested. Async-signal-safe to set, cheap to read.
bool StopRequested();

// The first stop signal received (SIGINT or SIGTERM), 0 before one.
int StopSignal();

// True once a second SIGINT came (only seen with on_second_interrupt: without
// it the process has exited).
bool SecondInterrupt();

// The exit status of a process that stopped early on a stop signal:
// 128 + StopSignal(), or 128 + SIGTERM when the stop came another way (a
// learner rank that stops because another rank did).
int StoppedExitCode();

// True for 128 + SIGINT and 128 + SIGTERM: the exit statuses of a robofleet
// process that a stop signal ended before its work was done.
bool IsStoppedExitCode(int exit_code);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_SIGNALS_H_

#include "core/signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace robofleet {
namespace {

std::atomic<int> g_stop_signals{0};
std::atomic<int> g_first_signal{0};
std::atomic<bool> g_second_interrupt{false};
void (*g_on_second_interrupt)() = nullptr;

void OnStopSignal(int signo) {
  int none = 0;
  g_first_signal.compare_exchange_strong(none, signo);
  // the second interrupt means "now": skip the orderly shutdown
  if (g_stop_signals.fetch_add(1) >= 1 && signo == SIGINT) {
    if (g_on_second_interrupt == nullptr) _exit(128 + SIGINT);
    g_second_interrupt = true;
    g_on_second_interrupt();
  }
}

}  // namespace

void InstallStopHandlers(const StopHandling& handling) {
  g_on_second_interrupt = handling.on_second_interrupt;
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  struct sigaction current {};
  sigaction(SIGINT, nullptr, &current);
  if (!handling.keep_ignored_interrupt || current.sa_handler != SIG_IGN) {
    sigaction(SIGINT, &action, nullptr);
  }
  sigaction(SIGTERM, &action, nullptr);
}

bool StopRequested() { return g_stop_signals.load(std::memory_order_relaxed) > 0; }

int StopSignal() { return g_first_signal.load(); }

bool SecondInterrupt() { return g_second_interrupt.load(); }

int StoppedExitCode() {
  const int signo = StopSignal();
  return 128 + (signo != 0 ? signo : SIGTERM);
}

bool IsStoppedExitCode(int exit_code) {
  return exit_code == 128 + SIGINT || exit_code == 128 + SIGTERM;
}

}  // namespace robofleet

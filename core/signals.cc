#include "core/signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace robofleet {
namespace {

std::atomic<int> g_stop_signals{0};

void OnStopSignal(int signo) {
  // the second interrupt means "now": skip the orderly shutdown
  if (g_stop_signals.fetch_add(1) >= 1 && signo == SIGINT) _exit(130);
}

}  // namespace

void InstallStopHandlers() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool StopRequested() { return g_stop_signals.load(std::memory_order_relaxed) > 0; }

}  // namespace robofleet

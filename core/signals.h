// Cooperative shutdown: SIGINT and SIGTERM set a flag that process loops poll.
// A second SIGINT while stopping exits at once.
#ifndef ROBOFLEET_CORE_SIGNALS_H_
#define ROBOFLEET_CORE_SIGNALS_H_

namespace robofleet {

// Installs the handlers for SIGINT and SIGTERM. Call once from main().
void InstallStopHandlers();

// True once a stop was requested. Async-signal-safe to set, cheap to read.
bool StopRequested();

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_SIGNALS_H_

// Child processes of the launcher: start this same binary as a child that
// dies with its parent, stop a group of children, read their memory peaks.
//
// Not thread-safe: call from the launcher's main thread only.
#ifndef ROBOFLEET_LAUNCHER_PROCESS_H_
#define ROBOFLEET_LAUNCHER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace robofleet::launcher {

// Path of the running robofleet binary (what children exec). Throws when
// /proc/self/exe cannot be read.
std::string SelfExe();

// Starts `args` (argv[0] is the binary) as a child that gets SIGTERM when
// this process dies, even by SIGKILL. Throws when fork fails.
pid_t Spawn(const std::vector<std::string>& args);

// Sends `sig` to every pid, then waits until all have exited or `timeout_s`
// passed; returns the pids still alive.
std::vector<pid_t> SignalAndReap(std::vector<pid_t> pids, int sig, double timeout_s);

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

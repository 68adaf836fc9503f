// Where an actor's time goes: wall-clock seconds per phase of the rollout
// loop, summed over fragments, from the first weights to the actor's exit.
//
// The phases cover the loop without gaps, so their sum is the wall time of
// the rollout loop; divided by env_steps each gives microseconds per env step.
// Thread-compatible.
#ifndef ROBOFLEET_ACTORS_ROLLOUT_TIMES_H_
#define ROBOFLEET_ACTORS_ROLLOUT_TIMES_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace robofleet::actors {

struct RolloutTimes {
  double simulate_s = 0.0;   // VectorEnv::Step: physics, rewards, resets
  double inference_s = 0.0;  // normalise, batched forward, sampling, log-probs
  double serialise_s = 0.0;  // frame allocation, header, episode lists, message parts
  double send_s = 0.0;       // handing a fragment to ZeroMQ when there was room
  double wait_s = 0.0;       // blocked on backpressure (the queue was full), then sending
  double weights_s = 0.0;    // draining the weights socket and loading new weights
  int64_t fragments = 0;     // fragments sent
  int64_t env_steps = 0;     // env steps in those fragments
  int64_t bytes = 0;         // bytes of those fragments, every frame included

  double total_s() const {
    return simulate_s + inference_s + serialise_s + send_s + wait_s + weights_s;
  }
  // One JSON object on one line.
  std::string ToJson() const;
  // Reads what ToJson wrote; false when a field is missing.
  static bool FromJson(const std::string& text, RolloutTimes* out);
};

// Writes `*times` to `path` atomically (core/atomic_file.h) when destroyed,
// however the owner's scope ends; an empty path writes nothing, and a
// failed write leaves no file.
class RolloutTimesFile {
 public:
  RolloutTimesFile(std::string path, const RolloutTimes* times)
      : path_(std::move(path)), times_(times) {}
  RolloutTimesFile(const RolloutTimesFile&) = delete;
  RolloutTimesFile& operator=(const RolloutTimesFile&) = delete;
  ~RolloutTimesFile();

 private:
  std::string path_;
  const RolloutTimes* times_;
};

// Charges the time since the previous lap to one phase.
class PhaseClock {
 public:
  using Clock = std::chrono::steady_clock;

  void Lap(double* phase_s) {
    const Clock::time_point now = Clock::now();
    *phase_s += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }

 private:
  Clock::time_point last_ = Clock::now();
};

}  // namespace robofleet::actors

#endif  // ROBOFLEET_ACTORS_ROLLOUT_TIMES_H_

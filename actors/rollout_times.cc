#include "actors/rollout_times.h"

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/atomic_file.h"

namespace robofleet::actors {
namespace {

// The number after "key": in a flat JSON object.
bool ReadNumber(const std::string& text, const char* key, double* out) {
  const std::string quoted = std::string("\"") + key + "\":";
  const size_t at = text.find(quoted);
  if (at == std::string::npos) return false;
  const char* start = text.c_str() + at + quoted.size();
  char* end = nullptr;
  *out = std::strtod(start, &end);
  return end != start;
}

}  // namespace

std::string RolloutTimes::ToJson() const {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "{\"simulate_s\": %.6f, \"inference_s\": %.6f, \"serialise_s\": %.6f, "
                "\"send_s\": %.6f, \"wait_s\": %.6f, \"weights_s\": %.6f, \"fragments\": %lld, "
                "\"env_steps\": %lld, \"bytes\": %lld}",
                simulate_s, inference_s, serialise_s, send_s, wait_s, weights_s,
                static_cast<long long>(fragments), static_cast<long long>(env_steps),
                static_cast<long long>(bytes));
  return buf;
}

bool RolloutTimes::FromJson(const std::string& text, RolloutTimes* out) {
  double fragments = 0, env_steps = 0, bytes = 0;
  const bool ok =
      ReadNumber(text, "simulate_s", &out->simulate_s) &&
      ReadNumber(text, "inference_s", &out->inference_s) &&
      ReadNumber(text, "serialise_s", &out->serialise_s) &&
      ReadNumber(text, "send_s", &out->send_s) && ReadNumber(text, "wait_s", &out->wait_s) &&
      ReadNumber(text, "weights_s", &out->weights_s) && ReadNumber(text, "fragments", &fragments) &&
      ReadNumber(text, "env_steps", &env_steps) && ReadNumber(text, "bytes", &bytes);
  out->fragments = static_cast<int64_t>(fragments);
  out->env_steps = static_cast<int64_t>(env_steps);
  out->bytes = static_cast<int64_t>(bytes);
  return ok;
}

RolloutTimesFile::~RolloutTimesFile() {
  if (path_.empty()) return;
  try {
    WriteFileAtomically(path_, times_->ToJson() + "\n");
  } catch (const std::exception&) {
    // a destructor may not throw; a missing file tells the reader
  }
}

}  // namespace robofleet::actors

// libFuzzer target for experiment files: YAML parsing, `extends:` chains and
// validation. The input is the text of an experiment file that sits in a
// folder holding the project's experiments (ROBOFLEET_FUZZ_EXPERIMENTS), so
// that `extends:` lines reach real bases.
//
// Bad input must end in UserError: any other exception, crash or sanitizer
// report is a bug. A config that is accepted must write out and read back as
// itself.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/config.h"

namespace {

const std::string& Source() {
  static const std::string source = [] {
    const char* folder = std::getenv("ROBOFLEET_FUZZ_EXPERIMENTS");
    return std::string(folder != nullptr ? folder : ".") + "/fuzz.yaml";
  }();
  return source;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const robofleet::ExperimentConfig config = robofleet::ParseExperiment(text, Source());
    const std::string yaml = robofleet::ToYaml(config);
    if (robofleet::ToYaml(robofleet::ParseExperiment(yaml, Source())) != yaml) std::abort();
  } catch (const robofleet::UserError&) {
  }
  return 0;
}

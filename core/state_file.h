// Small state files written whole or not at all, and checked when read:
// the bytes, then their CRC-32C, written atomically (core/atomic_file.h).
//
// Determinism mode keeps each actor's state at a policy version beside the
// learner's checkpoint of that version (checkpoints/actor<i>-<version>.state),
// so that a resumed run continues exactly where the checkpoint left off.
#ifndef ROBOFLEET_CORE_STATE_FILE_H_
#define ROBOFLEET_CORE_STATE_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

namespace robofleet {

// Writes `bytes` and their checksum to `path`. Throws std::runtime_error on
// I/O failure.
void WriteStateFile(const std::string& path, const std::string& bytes);

// The bytes of a state file, or nothing when it is missing, truncated or
// fails its checksum.
std::optional<std::string> ReadStateFile(const std::string& path);

// Where actor `index` keeps its state at the start of policy `version`.
std::string ActorStatePath(const std::string& checkpoint_dir, int index, int64_t version);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_STATE_FILE_H_

#include "core/state_file.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "core/crc32c.h"

namespace robofleet {

void WriteStateFile(const std::string& path, const std::string& bytes) {
  const uint32_t crc = Crc32c(bytes.data(), bytes.size());
  std::string contents = bytes;
  contents.append(reinterpret_cast<const char*>(&crc), sizeof(crc));
  WriteFileAtomically(path, contents);
}

std::optional<std::string> ReadStateFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint32_t crc = 0;
  if (bytes.size() < sizeof(crc)) return std::nullopt;
  std::memcpy(&crc, bytes.data() + bytes.size() - sizeof(crc), sizeof(crc));
  bytes.resize(bytes.size() - sizeof(crc));
  if (Crc32c(bytes.data(), bytes.size()) != crc) return std::nullopt;
  return bytes;
}

std::string ActorStatePath(const std::string& checkpoint_dir, int index, int64_t version) {
  return checkpoint_dir + "/actor" + std::to_string(index) + "-" + std::to_string(version) +
         ".state";
}

}  // namespace robofleet

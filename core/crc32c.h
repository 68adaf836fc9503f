// CRC-32C (Castagnoli), the checksum of TensorBoard's record framing and of
// checkpoint manifests. Thread-safe.
#ifndef ROBOFLEET_CORE_CRC32C_H_
#define ROBOFLEET_CORE_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace robofleet {

// CRC-32C of `size` bytes, continuing from `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_CRC32C_H_

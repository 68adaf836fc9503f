// libFuzzer target for the wire decoders.
//
// The input is cut into frames as a ZeroMQ message would arrive: byte 0 gives
// the frame count, then each frame is a 2-byte little-endian length and its
// bytes (short inputs give short frames). Frames are copied into buffers of
// their own, aligned as RecvMultipart guarantees, and handed to both
// decoders. Any crash, overflow or out-of-bounds read is a bug.
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using robofleet::wire::Frame;
  if (size == 0) return 0;
  const size_t count = 1 + data[0] % 12;
  size_t at = 1;
  std::vector<std::vector<uint64_t>> storage;  // uint64_t: 8-byte aligned
  std::vector<Frame> frames;
  for (size_t i = 0; i < count; ++i) {
    size_t length = 0;
    if (at + 2 <= size) {
      length = data[at] | (static_cast<size_t>(data[at + 1]) << 8);
      at += 2;
    }
    length = std::min(length, size - std::min(at, size));
    storage.emplace_back((length + 7) / 8);
    if (length > 0) std::memcpy(storage.back().data(), data + at, length);
    at += length;
    frames.push_back({storage.back().data(), length});
  }
  robofleet::wire::FragmentView fragment;
  robofleet::wire::DecodeFragment(frames.data(), frames.size(), 5, 1, 2, &fragment);
  robofleet::wire::WeightsView weights;
  robofleet::wire::DecodeWeights(frames.data(), frames.size(), 4, 5, &weights);
  return 0;
}

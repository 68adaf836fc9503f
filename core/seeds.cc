#include "core/seeds.h"

namespace robofleet {
namespace {

uint64_t SplitMix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t DeriveSeed(uint64_t seed, uint64_t index) {
  // mix twice so that nearby (seed, index) pairs land far apart
  return SplitMix64(SplitMix64(seed) ^ SplitMix64(~index));
}

uint64_t ActorSeed(uint64_t run_seed, int index) {
  return DeriveSeed(run_seed, kActorSeedStreams + static_cast<uint64_t>(index));
}

}  // namespace robofleet

// Seeds derived from a run's one seed. Every random stream of a run (each
// actor, each env's resets, the actors' action noise, benchmark processes)
// draws from its own derived seed, so one `seed` fixes the whole run and no
// two streams share numbers. Derive seeds here and nowhere else.
//
// Thread-safe: pure functions.
#ifndef ROBOFLEET_CORE_SEEDS_H_
#define ROBOFLEET_CORE_SEEDS_H_

#include <cstdint>

namespace robofleet {

// A well-mixed 64-bit seed for stream `index` of a run seeded with `seed`
// (SplitMix64 finaliser, applied twice). Distinct indices give unrelated
// streams, also for neighbouring seeds and indices.
uint64_t DeriveSeed(uint64_t seed, uint64_t index);

// Stream indices of a run seed; they never overlap (an index below 2^32 is
// left to callers that number their own streams, such as VectorEnv's envs).
inline constexpr uint64_t kActorSeedStreams = uint64_t{1} << 32;   // + actor index
inline constexpr uint64_t kActionNoiseStream = uint64_t{1} << 40;  // of an actor's seed

// The seed of actor `index` of a run seeded with `run_seed`: its envs, its
// policy copy and its action noise all derive from it.
uint64_t ActorSeed(uint64_t run_seed, int index);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_SEEDS_H_

// The wire protocol between actors and learners: the one place that knows it.
//
// A message is a ZeroMQ multipart message. Frame 0 is a small header:
//
//   offset size  field
//   0      4     magic 'RFLT' (0x544C4652, little endian)
//   4      2     protocol version (kProtocolVersion)
//   6      2     message kind (MessageKind)
//   8      8     policy version the payload was made with / describes
//   16     4     sender id (actor index; learner rank for weights)
//   20     4     number of arrays n (0 < n <= kMaxArrays)
//   24     8     sequence number per sender (for loss accounting)
//   32     20*n  array descriptors: field u16, dtype u8, ndim u8, dims u32[4]
//
// Each following frame is one contiguous little-endian array, in descriptor
// order, sent without copying. The decoder checks every size against the
// header before touching a byte of payload; a message that does not add up is
// rejected with a reason and never trusted. Both ends are little-endian x86-64
// or ARM64 hosts; the header says nothing of byte order.
//
// Thread-safety: all functions are pure; views alias the caller's frames and
// are valid only while those frames live.
#ifndef ROBOFLEET_CORE_WIRE_H_
#define ROBOFLEET_CORE_WIRE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace robofleet::wire {

inline constexpr uint32_t kMagic = 0x544C4652;  // "RFLT"
inline constexpr uint16_t kProtocolVersion = 2;
inline constexpr int kMaxArrays = 16;
inline constexpr int kMaxDims = 4;
inline constexpr size_t kFixedHeaderBytes = 32;
inline constexpr size_t kDescriptorBytes = 20;

enum class MessageKind : uint16_t {
  kFragment = 1,  // actor -> learner: T steps of K envs
  kWeights = 2,   // learner -> actors: policy parameters and normaliser
};

enum class DType : uint8_t { kFloat32 = 1, kInt32 = 2, kUInt8 = 3 };

size_t DTypeSize(DType dtype);

// Field ids: what an array means. Values are part of the protocol.
enum class Field : uint16_t {
  // fragments
  kObs = 1,             // f32 [T+1, K, D] raw observations; row T bootstraps the last step
  kActions = 2,         // f32 [T, K, A] sampled actions before tanh squashing and clipping
  kLogProbs = 3,        // f32 [T, K] behaviour log-probability of each action
  kRewards = 4,         // f32 [T, K]
  kTerminated = 5,      // u8 [T, K] 1 where the episode really ended after this step
  kTruncated = 6,       // u8 [T, K] 1 where the time limit ended it after this step
  kTruncatedObs = 7,    // f32 [N, D] final obs of each truncated step, in (t, k) order
  kEpisodeReturns = 8,  // f32 [E] returns of episodes that finished in this fragment
  kEpisodeLengths = 9,  // i32 [E] their lengths in control steps
  kEpisodeInfo = 10,    // f32 [E, M] what the env reports of each (EnvSpec.episode_info_names)
  // weights
  kParameters = 20,  // f32 [P] every policy parameter, flattened in module order
  kObsMean = 21,     // f32 [D] normaliser mean
  kObsVar = 22,      // f32 [D] normaliser variance
};

// Shape and type of one array frame.
struct ArrayDesc {
  Field field = Field::kObs;
  DType dtype = DType::kFloat32;
  int ndim = 0;
  std::array<uint32_t, kMaxDims> dims{};

  // Element count; 0 when any dimension is 0.
  uint64_t NumElements() const;
  uint64_t NumBytes() const { return NumElements() * DTypeSize(dtype); }
};

ArrayDesc MakeDesc(Field field, DType dtype, std::initializer_list<uint32_t> dims);

struct Header {
  MessageKind kind = MessageKind::kFragment;
  uint64_t policy_version = 0;
  uint32_t sender_id = 0;
  uint64_t sequence = 0;
  std::vector<ArrayDesc> arrays;
};

// Serialises a header into frame-0 bytes.
std::vector<uint8_t> EncodeHeader(const Header& header);

// A received frame: bytes owned by the caller.
struct Frame {
  const void* data = nullptr;
  size_t size = 0;
};

// Outcome of decoding; `ok()` or a reason fit for a log line.
struct DecodeStatus {
  std::string error;
  // a well-formed message whose arrays have other sizes than the receiver's:
  // the sender runs another network (or env), and waiting will not help
  bool wrong_shape = false;
  bool ok() const { return error.empty(); }
};

// Parses and checks frame 0 and that frames 1..n have exactly the sizes the
// descriptors say. Does not read any payload byte.
DecodeStatus DecodeHeader(const Frame* frames, size_t num_frames, Header* header);

// A decoded fragment; pointers alias the frames.
struct FragmentView {
  uint64_t policy_version = 0;
  uint32_t sender_id = 0;
  uint64_t sequence = 0;
  int T = 0, K = 0, D = 0, A = 0, N = 0, E = 0, M = 0;
  const float* obs = nullptr;
  const float* actions = nullptr;
  const float* log_probs = nullptr;
  const float* rewards = nullptr;
  const uint8_t* terminated = nullptr;
  const uint8_t* truncated = nullptr;
  const float* truncated_obs = nullptr;
  const float* episode_returns = nullptr;
  const int32_t* episode_lengths = nullptr;
  const float* episode_info = nullptr;  // [E, M], row e is episode e's
};

// Decodes a fragment and checks it: every array present once with the shape
// its dims imply, obs, action and episode-info sizes equal to `obs_dim`,
// `act_dim` and `info_dim`, flags 0 or 1, N equal to the number of truncated
// steps, and every float finite.
DecodeStatus DecodeFragment(const Frame* frames, size_t num_frames, int obs_dim, int act_dim,
                            int info_dim, FragmentView* out);

// The header of a fragment with these sizes (M: episode-info values per
// finished episode).
Header FragmentHeader(uint64_t policy_version, uint32_t sender_id, uint64_t sequence, int T, int K,
                      int D, int A, int N, int E, int M);

// A decoded weights message; pointers alias the frames.
struct WeightsView {
  uint64_t policy_version = 0;
  int64_t num_params = 0;
  int obs_dim = 0;
  const float* params = nullptr;
  const float* obs_mean = nullptr;
  const float* obs_var = nullptr;
};

// Decodes weights for a policy of `num_params` parameters and `obs_dim`
// observations; every value finite, variances non-negative.
DecodeStatus DecodeWeights(const Frame* frames, size_t num_frames, int64_t num_params, int obs_dim,
                           WeightsView* out);

Header WeightsHeader(uint64_t policy_version, uint32_t sender_id, uint64_t sequence,
                     int64_t num_params, int obs_dim);

}  // namespace robofleet::wire

#endif  // ROBOFLEET_CORE_WIRE_H_

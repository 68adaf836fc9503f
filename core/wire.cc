#include "core/wire.h"

#include <cmath>
#include <cstring>

namespace robofleet::wire {
namespace {

// no message is anywhere near this; larger claims are corrupt or hostile
constexpr uint64_t kMaxArrayBytes = uint64_t{1} << 36;

template <class T>
void Put(std::vector<uint8_t>* out, T value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out->insert(out->end(), p, p + sizeof(T));
}

template <class T>
T Get(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

bool KnownDType(uint8_t d) { return d >= 1 && d <= 3; }

// Element count with overflow detection; returns false on overflow.
bool CheckedElements(const ArrayDesc& desc, uint64_t* count) {
  uint64_t n = 1;
  for (int i = 0; i < desc.ndim; ++i) {
    if (__builtin_mul_overflow(n, uint64_t{desc.dims[i]}, &n)) return false;
  }
  *count = n;
  return true;
}

bool AllFinite(const float* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) return false;
  }
  return true;
}

std::string Shape(const ArrayDesc& d) {
  std::string s = "[";
  for (int i = 0; i < d.ndim; ++i) s += (i ? "," : "") + std::to_string(d.dims[i]);
  return s + "]";
}

// Finds the array for `field`; returns its index or -1.
int FindField(const Header& h, Field field) {
  for (size_t i = 0; i < h.arrays.size(); ++i) {
    if (h.arrays[i].field == field) return static_cast<int>(i);
  }
  return -1;
}

// Checks array `field` has the given dtype and dims; sets *index.
DecodeStatus Expect(const Header& h, Field field, DType dtype, std::initializer_list<uint64_t> dims,
                    const char* name, int* index) {
  *index = FindField(h, field);
  if (*index < 0) return {std::string("missing array '") + name + "'"};
  const ArrayDesc& d = h.arrays[*index];
  if (d.dtype != dtype) return {std::string("array '") + name + "' has the wrong dtype"};
  bool shape_ok = d.ndim == static_cast<int>(dims.size());
  int i = 0;
  for (uint64_t want : dims) {
    if (shape_ok && d.dims[i] != want) shape_ok = false;
    ++i;
  }
  if (!shape_ok) {
    std::string want_shape;
    for (uint64_t want : dims) want_shape += (want_shape.empty() ? "" : ",") + std::to_string(want);
    return {
        std::string("array '") + name + "' has shape " + Shape(d) + ", not [" + want_shape + "]",
        true};
  }
  return {};
}

}  // namespace

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kUInt8:
      return 1;
  }
  return 0;
}

uint64_t ArrayDesc::NumElements() const {
  uint64_t n = 0;
  return CheckedElements(*this, &n) ? n : 0;
}

ArrayDesc MakeDesc(Field field, DType dtype, std::initializer_list<uint32_t> dims) {
  ArrayDesc d;
  d.field = field;
  d.dtype = dtype;
  d.ndim = static_cast<int>(dims.size());
  int i = 0;
  for (uint32_t x : dims) d.dims[i++] = x;
  return d;
}

std::vector<uint8_t> EncodeHeader(const Header& header) {
  std::vector<uint8_t> out;
  out.reserve(kFixedHeaderBytes + kDescriptorBytes * header.arrays.size());
  Put<uint32_t>(&out, kMagic);
  Put<uint16_t>(&out, kProtocolVersion);
  Put<uint16_t>(&out, static_cast<uint16_t>(header.kind));
  Put<uint64_t>(&out, header.policy_version);
  Put<uint32_t>(&out, header.sender_id);
  Put<uint32_t>(&out, static_cast<uint32_t>(header.arrays.size()));
  Put<uint64_t>(&out, header.sequence);
  for (const ArrayDesc& d : header.arrays) {
    Put<uint16_t>(&out, static_cast<uint16_t>(d.field));
    Put<uint8_t>(&out, static_cast<uint8_t>(d.dtype));
    Put<uint8_t>(&out, static_cast<uint8_t>(d.ndim));
    for (int i = 0; i < kMaxDims; ++i) Put<uint32_t>(&out, i < d.ndim ? d.dims[i] : 0);
  }
  return out;
}

DecodeStatus DecodeHeader(const Frame* frames, size_t num_frames, Header* header) {
  if (num_frames == 0) return {"empty message"};
  const Frame& f0 = frames[0];
  if (f0.size < kFixedHeaderBytes) return {"header frame too short"};
  const auto* p = static_cast<const uint8_t*>(f0.data);
  if (Get<uint32_t>(p) != kMagic) return {"bad magic"};
  uint16_t version = Get<uint16_t>(p + 4);
  if (version != kProtocolVersion) {
    return {"protocol version " + std::to_string(version) + ", expected " +
            std::to_string(kProtocolVersion)};
  }
  uint16_t kind = Get<uint16_t>(p + 6);
  if (kind != static_cast<uint16_t>(MessageKind::kFragment) &&
      kind != static_cast<uint16_t>(MessageKind::kWeights)) {
    return {"unknown message kind " + std::to_string(kind)};
  }
  uint32_t n = Get<uint32_t>(p + 20);
  if (n == 0 || n > static_cast<uint32_t>(kMaxArrays)) return {"bad array count"};
  if (f0.size != kFixedHeaderBytes + kDescriptorBytes * n) return {"header size mismatch"};
  if (num_frames != 1 + n) {
    return {"header names " + std::to_string(n) + " arrays but " + std::to_string(num_frames - 1) +
            " frames came"};
  }

  header->kind = static_cast<MessageKind>(kind);
  header->policy_version = Get<uint64_t>(p + 8);
  header->sender_id = Get<uint32_t>(p + 16);
  header->sequence = Get<uint64_t>(p + 24);
  header->arrays.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* q = p + kFixedHeaderBytes + kDescriptorBytes * i;
    ArrayDesc& d = header->arrays[i];
    d.field = static_cast<Field>(Get<uint16_t>(q));
    uint8_t dtype = q[2];
    if (!KnownDType(dtype)) return {"unknown dtype in array " + std::to_string(i)};
    d.dtype = static_cast<DType>(dtype);
    d.ndim = q[3];
    if (d.ndim < 1 || d.ndim > kMaxDims) return {"bad rank in array " + std::to_string(i)};
    for (int k = 0; k < kMaxDims; ++k) d.dims[k] = Get<uint32_t>(q + 4 + 4 * k);
    for (int k = d.ndim; k < kMaxDims; ++k) {
      if (d.dims[k] != 0) return {"unused dims set in array " + std::to_string(i)};
    }
    for (uint32_t j = 0; j < i; ++j) {
      if (header->arrays[j].field == d.field) return {"array field repeated"};
    }
    uint64_t elements = 0;
    if (!CheckedElements(d, &elements) || elements > kMaxArrayBytes / DTypeSize(d.dtype)) {
      return {"array " + std::to_string(i) + " too large"};
    }
    if (frames[1 + i].size != elements * DTypeSize(d.dtype)) {
      return {"frame " + std::to_string(1 + i) + " has " + std::to_string(frames[1 + i].size) +
              " bytes, header says " + std::to_string(elements * DTypeSize(d.dtype))};
    }
    // payload pointers are read as typed arrays: require natural alignment
    if (reinterpret_cast<uintptr_t>(frames[1 + i].data) % DTypeSize(d.dtype) != 0 &&
        frames[1 + i].size > 0) {
      return {"frame " + std::to_string(1 + i) + " is misaligned"};
    }
  }
  return {};
}

Header FragmentHeader(uint64_t policy_version, uint32_t sender_id, uint64_t sequence, int T, int K,
                      int D, int A, int N, int E, int M) {
  Header h;
  h.kind = MessageKind::kFragment;
  h.policy_version = policy_version;
  h.sender_id = sender_id;
  h.sequence = sequence;
  auto u = [](int x) { return static_cast<uint32_t>(x); };
  h.arrays = {
      MakeDesc(Field::kObs, DType::kFloat32, {u(T + 1), u(K), u(D)}),
      MakeDesc(Field::kActions, DType::kFloat32, {u(T), u(K), u(A)}),
      MakeDesc(Field::kLogProbs, DType::kFloat32, {u(T), u(K)}),
      MakeDesc(Field::kRewards, DType::kFloat32, {u(T), u(K)}),
      MakeDesc(Field::kTerminated, DType::kUInt8, {u(T), u(K)}),
      MakeDesc(Field::kTruncated, DType::kUInt8, {u(T), u(K)}),
      MakeDesc(Field::kTruncatedObs, DType::kFloat32, {u(N), u(D)}),
      MakeDesc(Field::kEpisodeReturns, DType::kFloat32, {u(E)}),
      MakeDesc(Field::kEpisodeLengths, DType::kInt32, {u(E)}),
      MakeDesc(Field::kEpisodeInfo, DType::kFloat32, {u(E), u(M)}),
  };
  return h;
}

DecodeStatus DecodeFragment(const Frame* frames, size_t num_frames, int obs_dim, int act_dim,
                            int info_dim, FragmentView* out) {
  Header h;
  DecodeStatus status = DecodeHeader(frames, num_frames, &h);
  if (!status.ok()) return status;
  if (h.kind != MessageKind::kFragment) return {"not a fragment"};
  if (h.arrays.size() != 10) return {"a fragment has 10 arrays"};

  // sizes come from the rewards array; everything else must agree with them
  int idx = FindField(h, Field::kRewards);
  if (idx < 0 || h.arrays[idx].ndim != 2) return {"missing or malformed array 'rewards'"};
  const uint64_t T = h.arrays[idx].dims[0], K = h.arrays[idx].dims[1];
  if (T == 0 || K == 0) return {"empty fragment"};
  const uint64_t D = static_cast<uint64_t>(obs_dim), A = static_cast<uint64_t>(act_dim),
                 M = static_cast<uint64_t>(info_dim);
  int tobs = FindField(h, Field::kTruncatedObs);
  int eret = FindField(h, Field::kEpisodeReturns);
  if (tobs < 0 || eret < 0 || h.arrays[eret].ndim != 1) return {"missing episode arrays"};
  const uint64_t N = h.arrays[tobs].dims[0], E = h.arrays[eret].dims[0];
  constexpr uint64_t kMaxCount = uint64_t{1} << 24;
  if (T > kMaxCount || K > kMaxCount || N > kMaxCount || E > kMaxCount) {
    return {"fragment dimensions out of range"};
  }

  int i_obs, i_act, i_logp, i_rew, i_term, i_trunc, i_tobs, i_eret, i_elen, i_einfo;
  for (const DecodeStatus& s :
       {Expect(h, Field::kObs, DType::kFloat32, {T + 1, K, D}, "obs", &i_obs),
        Expect(h, Field::kActions, DType::kFloat32, {T, K, A}, "actions", &i_act),
        Expect(h, Field::kLogProbs, DType::kFloat32, {T, K}, "log_probs", &i_logp),
        Expect(h, Field::kRewards, DType::kFloat32, {T, K}, "rewards", &i_rew),
        Expect(h, Field::kTerminated, DType::kUInt8, {T, K}, "terminated", &i_term),
        Expect(h, Field::kTruncated, DType::kUInt8, {T, K}, "truncated", &i_trunc),
        Expect(h, Field::kTruncatedObs, DType::kFloat32, {N, D}, "truncated_obs", &i_tobs),
        Expect(h, Field::kEpisodeReturns, DType::kFloat32, {E}, "episode_returns", &i_eret),
        Expect(h, Field::kEpisodeLengths, DType::kInt32, {E}, "episode_lengths", &i_elen),
        Expect(h, Field::kEpisodeInfo, DType::kFloat32, {E, M}, "episode_info", &i_einfo)}) {
    if (!s.ok()) return s;
  }

  auto data = [&](int index) { return frames[1 + index].data; };
  out->policy_version = h.policy_version;
  out->sender_id = h.sender_id;
  out->sequence = h.sequence;
  out->T = static_cast<int>(T);
  out->K = static_cast<int>(K);
  out->D = obs_dim;
  out->A = act_dim;
  out->N = static_cast<int>(N);
  out->E = static_cast<int>(E);
  out->M = info_dim;
  out->obs = static_cast<const float*>(data(i_obs));
  out->actions = static_cast<const float*>(data(i_act));
  out->log_probs = static_cast<const float*>(data(i_logp));
  out->rewards = static_cast<const float*>(data(i_rew));
  out->terminated = static_cast<const uint8_t*>(data(i_term));
  out->truncated = static_cast<const uint8_t*>(data(i_trunc));
  out->truncated_obs = static_cast<const float*>(data(i_tobs));
  out->episode_returns = static_cast<const float*>(data(i_eret));
  out->episode_lengths = static_cast<const int32_t*>(data(i_elen));
  out->episode_info = static_cast<const float*>(data(i_einfo));

  // contents: flags are 0/1, truncations match N, floats are finite
  uint64_t truncations = 0;
  for (uint64_t i = 0; i < T * K; ++i) {
    if (out->terminated[i] > 1 || out->truncated[i] > 1) return {"flag not 0 or 1"};
    if (out->terminated[i] && out->truncated[i]) return {"step both terminated and truncated"};
    truncations += out->truncated[i];
  }
  if (truncations != N) return {"truncated_obs rows do not match truncated steps"};
  if (!AllFinite(out->obs, (T + 1) * K * D) || !AllFinite(out->actions, T * K * A) ||
      !AllFinite(out->log_probs, T * K) || !AllFinite(out->rewards, T * K) ||
      !AllFinite(out->truncated_obs, N * D) || !AllFinite(out->episode_returns, E) ||
      !AllFinite(out->episode_info, E * M)) {
    return {"non-finite value in fragment"};
  }
  for (uint64_t i = 0; i < E; ++i) {
    if (out->episode_lengths[i] <= 0) return {"non-positive episode length"};
  }
  return {};
}

Header WeightsHeader(uint64_t policy_version, uint32_t sender_id, uint64_t sequence,
                     int64_t num_params, int obs_dim) {
  Header h;
  h.kind = MessageKind::kWeights;
  h.policy_version = policy_version;
  h.sender_id = sender_id;
  h.sequence = sequence;
  h.arrays = {
      MakeDesc(Field::kParameters, DType::kFloat32, {static_cast<uint32_t>(num_params)}),
      MakeDesc(Field::kObsMean, DType::kFloat32, {static_cast<uint32_t>(obs_dim)}),
      MakeDesc(Field::kObsVar, DType::kFloat32, {static_cast<uint32_t>(obs_dim)}),
  };
  return h;
}

DecodeStatus DecodeWeights(const Frame* frames, size_t num_frames, int64_t num_params, int obs_dim,
                           WeightsView* out) {
  Header h;
  DecodeStatus status = DecodeHeader(frames, num_frames, &h);
  if (!status.ok()) return status;
  if (h.kind != MessageKind::kWeights) return {"not a weights message"};
  if (h.arrays.size() != 3) return {"a weights message has 3 arrays"};
  const uint64_t P = static_cast<uint64_t>(num_params), D = static_cast<uint64_t>(obs_dim);
  int i_par, i_mean, i_var;
  for (const DecodeStatus& s :
       {Expect(h, Field::kParameters, DType::kFloat32, {P}, "parameters", &i_par),
        Expect(h, Field::kObsMean, DType::kFloat32, {D}, "obs_mean", &i_mean),
        Expect(h, Field::kObsVar, DType::kFloat32, {D}, "obs_var", &i_var)}) {
    if (!s.ok()) return s;
  }
  out->policy_version = h.policy_version;
  out->num_params = num_params;
  out->obs_dim = obs_dim;
  out->params = static_cast<const float*>(frames[1 + i_par].data);
  out->obs_mean = static_cast<const float*>(frames[1 + i_mean].data);
  out->obs_var = static_cast<const float*>(frames[1 + i_var].data);
  if (!AllFinite(out->params, P) || !AllFinite(out->obs_mean, D) || !AllFinite(out->obs_var, D)) {
    return {"non-finite value in weights"};
  }
  for (uint64_t i = 0; i < D; ++i) {
    if (out->obs_var[i] < 0) return {"negative variance in weights"};
  }
  return {};
}

}  // namespace robofleet::wire

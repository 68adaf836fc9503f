#include "core/wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace robofleet::wire {
namespace {

// A message held as owned byte buffers; frames() views them.
struct OwnedMessage {
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<Frame> frames() const {
    std::vector<Frame> f;
    for (const auto& b : buffers) f.push_back({b.data(), b.size()});
    return f;
  }
};

template <class T>
std::vector<uint8_t> Bytes(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

constexpr int T = 3, K = 2, D = 4, A = 1, M = 2;

// A valid fragment: env 0 truncated after step 1, env 1 terminated after step 2.
OwnedMessage ValidFragment() {
  std::vector<float> obs((T + 1) * K * D), actions(T * K * A), logp(T * K), rewards(T * K);
  for (size_t i = 0; i < obs.size(); ++i) obs[i] = 0.5f * i;
  for (size_t i = 0; i < actions.size(); ++i) actions[i] = -0.1f * i;
  for (size_t i = 0; i < logp.size(); ++i) logp[i] = -1.0f - i;
  for (size_t i = 0; i < rewards.size(); ++i) rewards[i] = 0.25f * i;
  std::vector<uint8_t> terminated(T * K, 0), truncated(T * K, 0);
  truncated[1 * K + 0] = 1;
  terminated[2 * K + 1] = 1;
  std::vector<float> truncated_obs = {9, 8, 7, 6};
  std::vector<float> returns = {12.5f, 3.0f};
  std::vector<int32_t> lengths = {1000, 17};
  std::vector<float> info = {1.5f, -2.0f, 0.25f, 4.0f};  // [E, M]
  OwnedMessage m;
  m.buffers.push_back(EncodeHeader(FragmentHeader(5, 3, 11, T, K, D, A, 1, 2, M)));
  for (auto b : {Bytes(obs), Bytes(actions), Bytes(logp), Bytes(rewards), terminated, truncated,
                 Bytes(truncated_obs), Bytes(returns), Bytes(lengths), Bytes(info)}) {
    m.buffers.push_back(b);
  }
  return m;
}

DecodeStatus Decode(const OwnedMessage& m, FragmentView* view = nullptr) {
  FragmentView local;
  auto frames = m.frames();
  return DecodeFragment(frames.data(), frames.size(), D, A, M, view ? view : &local);
}

TEST(WireTest, FragmentRoundTrip) {
  OwnedMessage m = ValidFragment();
  FragmentView v;
  ASSERT_TRUE(Decode(m, &v).ok()) << Decode(m).error;
  EXPECT_EQ(v.policy_version, 5u);
  EXPECT_EQ(v.sender_id, 3u);
  EXPECT_EQ(v.sequence, 11u);
  EXPECT_EQ(v.T, T);
  EXPECT_EQ(v.K, K);
  EXPECT_EQ(v.N, 1);
  EXPECT_EQ(v.E, 2);
  EXPECT_FLOAT_EQ(v.obs[(T + 1) * K * D - 1], 0.5f * ((T + 1) * K * D - 1));
  EXPECT_FLOAT_EQ(v.actions[2], -0.2f);
  EXPECT_FLOAT_EQ(v.log_probs[3], -4.0f);
  EXPECT_FLOAT_EQ(v.rewards[5], 1.25f);
  EXPECT_EQ(v.truncated[K], 1);
  EXPECT_EQ(v.terminated[2 * K + 1], 1);
  EXPECT_FLOAT_EQ(v.truncated_obs[3], 6.0f);
  EXPECT_FLOAT_EQ(v.episode_returns[0], 12.5f);
  EXPECT_EQ(v.episode_lengths[1], 17);
  EXPECT_EQ(v.M, M);
  EXPECT_FLOAT_EQ(v.episode_info[1 * M + 0], 0.25f);  // episode 1's first value
}

TEST(WireTest, EveryTruncatedHeaderIsRejected) {
  OwnedMessage m = ValidFragment();
  const size_t full = m.buffers[0].size();
  for (size_t n = 0; n < full; ++n) {
    OwnedMessage cut = m;
    cut.buffers[0].resize(n);
    EXPECT_FALSE(Decode(cut).ok()) << "header cut at " << n;
  }
}

TEST(WireTest, EveryTruncatedOrOversizeArrayIsRejected) {
  OwnedMessage m = ValidFragment();
  for (size_t i = 1; i < m.buffers.size(); ++i) {
    if (!m.buffers[i].empty()) {
      OwnedMessage cut = m;
      cut.buffers[i].pop_back();
      EXPECT_FALSE(Decode(cut).ok()) << "frame " << i << " one byte short";
      cut.buffers[i].clear();
      EXPECT_FALSE(Decode(cut).ok()) << "frame " << i << " empty";
    }
    OwnedMessage big = m;
    big.buffers[i].insert(big.buffers[i].end(), 4, 0);
    EXPECT_FALSE(Decode(big).ok()) << "frame " << i << " oversize";
  }
}

TEST(WireTest, MissingOrExtraFramesAreRejected) {
  OwnedMessage m = ValidFragment();
  for (size_t keep = 0; keep < m.buffers.size(); ++keep) {
    OwnedMessage fewer = m;
    fewer.buffers.resize(keep);
    EXPECT_FALSE(Decode(fewer).ok()) << keep << " frames";
  }
  OwnedMessage more = m;
  more.buffers.push_back({1, 2, 3, 4});
  EXPECT_FALSE(Decode(more).ok());
}

TEST(WireTest, BadMagicVersionKindAndDtypeAreRejected) {
  auto corrupt = [](size_t offset, uint8_t value) {
    OwnedMessage m = ValidFragment();
    m.buffers[0][offset] = value;
    return Decode(m);
  };
  EXPECT_NE(corrupt(0, 'X').error.find("magic"), std::string::npos);
  EXPECT_NE(corrupt(4, 99).error.find("protocol version"), std::string::npos);
  EXPECT_NE(corrupt(6, 77).error.find("kind"), std::string::npos);
  EXPECT_NE(corrupt(kFixedHeaderBytes + 2, 9).error.find("dtype"), std::string::npos);
  EXPECT_FALSE(corrupt(kFixedHeaderBytes + 3, 7).ok());  // rank 7
  EXPECT_FALSE(corrupt(20, 0).ok());                     // zero arrays
  EXPECT_FALSE(corrupt(20, 200).ok());                   // too many arrays
}

TEST(WireTest, HugeDimensionsAreRejectedWithoutReading) {
  OwnedMessage m = ValidFragment();
  // obs dims become 0xFFFFFFFF in every slot: the size check must not overflow
  for (int k = 0; k < 3; ++k) {
    std::memset(&m.buffers[0][kFixedHeaderBytes + 4 + 4 * k], 0xFF, 4);
  }
  EXPECT_FALSE(Decode(m).ok());
}

TEST(WireTest, ShapeMismatchesAreRejected) {
  OwnedMessage m = ValidFragment();
  auto frames = m.frames();
  FragmentView v;
  EXPECT_FALSE(DecodeFragment(frames.data(), frames.size(), D + 1, A, M, &v).ok());
  EXPECT_FALSE(DecodeFragment(frames.data(), frames.size(), D, A + 1, M, &v).ok());
  // the sender's env reports other episode values than ours
  const DecodeStatus info = DecodeFragment(frames.data(), frames.size(), D, A, M + 1, &v);
  EXPECT_NE(info.error.find("episode_info"), std::string::npos) << info.error;
  EXPECT_TRUE(info.wrong_shape);

  // consistent frames, but actions claim T+1 steps
  OwnedMessage wrong = ValidFragment();
  Header h = FragmentHeader(5, 3, 11, T, K, D, A, 1, 2, M);
  h.arrays[1].dims[0] = T + 1;
  wrong.buffers[0] = EncodeHeader(h);
  wrong.buffers[2].resize((T + 1) * K * A * sizeof(float));
  EXPECT_NE(Decode(wrong).error.find("actions"), std::string::npos);
}

TEST(WireTest, BadContentsAreRejected) {
  {
    OwnedMessage m = ValidFragment();
    m.buffers[5][0] = 2;  // terminated flag not 0/1
    EXPECT_FALSE(Decode(m).ok());
  }
  {
    OwnedMessage m = ValidFragment();
    m.buffers[6][0] = 1;  // a second truncation without its final obs
    EXPECT_FALSE(Decode(m).ok());
  }
  {
    OwnedMessage m = ValidFragment();
    float nan = std::nanf("");
    std::memcpy(m.buffers[4].data(), &nan, sizeof(float));  // NaN reward
    EXPECT_NE(Decode(m).error.find("non-finite"), std::string::npos);
  }
  {
    OwnedMessage m = ValidFragment();
    int32_t zero = 0;
    std::memcpy(m.buffers[9].data(), &zero, sizeof(zero));  // episode of length 0
    EXPECT_FALSE(Decode(m).ok());
  }
  {
    OwnedMessage m = ValidFragment();
    float inf = std::numeric_limits<float>::infinity();
    std::memcpy(m.buffers[10].data() + sizeof(float), &inf, sizeof(float));  // an info value
    EXPECT_NE(Decode(m).error.find("non-finite"), std::string::npos);
  }
}

TEST(WireTest, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(1234);
  const OwnedMessage valid = ValidFragment();
  int rejected = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    OwnedMessage m = valid;
    const int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f) {
      auto& buf = m.buffers[rng() % m.buffers.size()];
      if (buf.empty()) continue;
      buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
    }
    if (!Decode(m).ok()) ++rejected;
  }
  // some flips land in payload floats and stay valid; most must be caught
  EXPECT_GT(rejected, 1000);
}

TEST(WireTest, WeightsRoundTripAndChecks) {
  std::vector<float> params = {1, 2, 3, 4, 5}, mean = {0.5f, -0.5f}, var = {1, 2};
  OwnedMessage m;
  m.buffers = {EncodeHeader(WeightsHeader(9, 0, 1, 5, 2)), Bytes(params), Bytes(mean), Bytes(var)};
  auto frames = m.frames();
  WeightsView w;
  ASSERT_TRUE(DecodeWeights(frames.data(), frames.size(), 5, 2, &w).ok());
  EXPECT_EQ(w.policy_version, 9u);
  EXPECT_FLOAT_EQ(w.params[4], 5.0f);
  EXPECT_FLOAT_EQ(w.obs_var[1], 2.0f);
  EXPECT_FALSE(DecodeWeights(frames.data(), frames.size(), 6, 2, &w).ok());
  EXPECT_FALSE(DecodeWeights(frames.data(), frames.size(), 5, 3, &w).ok());
  // a fragment is not weights, and weights are not a fragment
  OwnedMessage f = ValidFragment();
  auto ff = f.frames();
  EXPECT_FALSE(DecodeWeights(ff.data(), ff.size(), 5, 2, &w).ok());
  FragmentView v;
  EXPECT_FALSE(DecodeFragment(frames.data(), frames.size(), 2, 1, 0, &v).ok());
  // negative variance
  var[0] = -1;
  m.buffers[3] = Bytes(var);
  frames = m.frames();
  EXPECT_FALSE(DecodeWeights(frames.data(), frames.size(), 5, 2, &w).ok());
}

}  // namespace
}  // namespace robofleet::wire

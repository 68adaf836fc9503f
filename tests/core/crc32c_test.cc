// CRC-32C against the published check values (RFC 3720, appendix B.4).
#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

namespace robofleet {
namespace {

TEST(Crc32cTest, MatchesThePublishedCheckValues) {
  const std::string digits = "123456789";
  EXPECT_EQ(Crc32c(digits.data(), digits.size()), 0xE3069283u);
  std::array<uint8_t, 32> bytes{};
  EXPECT_EQ(Crc32c(bytes.data(), bytes.size()), 0x8A9136AAu);  // 32 zeros
  bytes.fill(0xFF);
  EXPECT_EQ(Crc32c(bytes.data(), bytes.size()), 0x62A8AB43u);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(bytes.data(), bytes.size()), 0x46DD794Eu);  // 0, 1, ..., 31
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Crc32c(bytes.data(), bytes.size()), 0x113FDB5Cu);  // 31, 30, ..., 0
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, ContinuingFromAPrefixEqualsTheWhole) {
  const std::string text = "trajectory fragments over ZeroMQ";
  for (size_t split = 0; split <= text.size(); ++split) {
    const uint32_t head = Crc32c(text.data(), split);
    EXPECT_EQ(Crc32c(text.data() + split, text.size() - split, head),
              Crc32c(text.data(), text.size()))
        << "split at " << split;
  }
}

TEST(Crc32cTest, ASingleFlippedBitChangesTheChecksum) {
  std::string text(1000, 'x');
  const uint32_t clean = Crc32c(text.data(), text.size());
  for (size_t bit = 0; bit < text.size() * 8; bit += 97) {
    std::string flipped = text;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(Crc32c(flipped.data(), flipped.size()), clean) << "bit " << bit;
  }
}

}  // namespace
}  // namespace robofleet

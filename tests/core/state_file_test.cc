// State files: written whole, read back only when intact.
#include "core/state_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/temp_folder.h"

namespace robofleet {
namespace {

namespace fs = std::filesystem;

class StateFileTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_ / name; }

  static void WriteAll(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  robofleet::testing::TempFolder dir_{"rf-state"};
};

TEST_F(StateFileTest, RoundTripsArbitraryBytesAndLeavesNoTemporaryFile) {
  std::string bytes = "actor state";
  bytes.push_back('\0');
  bytes += std::string(4096, '\xff');
  WriteStateFile(Path("a.state"), bytes);
  EXPECT_EQ(ReadStateFile(Path("a.state")), bytes);
  WriteStateFile(Path("empty.state"), "");
  EXPECT_EQ(ReadStateFile(Path("empty.state")), std::string());
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().extension(), ".state") << entry.path();
  }
}

TEST_F(StateFileTest, ReplacingKeepsOnlyTheNewBytes) {
  WriteStateFile(Path("a.state"), std::string(1000, 'o'));
  WriteStateFile(Path("a.state"), "new");
  EXPECT_EQ(ReadStateFile(Path("a.state")), "new");
}

TEST_F(StateFileTest, MissingTruncatedOrCorruptFilesReadAsNothing) {
  EXPECT_FALSE(ReadStateFile(Path("missing.state")).has_value());
  WriteStateFile(Path("a.state"), "0123456789");
  const std::string whole = robofleet::testing::Slurp(Path("a.state"));
  ASSERT_EQ(whole.size(), 10u + 4u);  // the bytes, then their CRC-32C
  for (size_t keep : {0, 3, 10, 13}) {
    WriteAll(Path("cut.state"), whole.substr(0, keep));
    EXPECT_FALSE(ReadStateFile(Path("cut.state")).has_value()) << keep << " bytes kept";
  }
  for (size_t i = 0; i < whole.size(); ++i) {
    std::string flipped = whole;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    WriteAll(Path("flip.state"), flipped);
    EXPECT_FALSE(ReadStateFile(Path("flip.state")).has_value()) << "byte " << i;
  }
}

TEST_F(StateFileTest, AFailedWriteThrowsAndLeavesTheOldFile) {
  WriteStateFile(Path("a.state"), "good");
  EXPECT_THROW(WriteStateFile(Path("no-such-folder/a.state"), "x"), std::exception);
  EXPECT_EQ(ReadStateFile(Path("a.state")), "good");
}

TEST_F(StateFileTest, ActorStatePathNamesIndexAndVersion) {
  EXPECT_EQ(ActorStatePath("/run/checkpoints", 3, 120), "/run/checkpoints/actor3-120.state");
}

}  // namespace
}  // namespace robofleet

#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/temp_folder.h"

namespace robofleet {
namespace {

namespace fs = std::filesystem;

using robofleet::testing::Slurp;

// A fresh folder, removed with everything in it at the end of the test.
class TempFolder : public robofleet::testing::TempFolder {
 public:
  TempFolder() : robofleet::testing::TempFolder("rf-atomic") {}
};

// The names in a folder, sorted.
std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// The std::runtime_error message of `fn`, or "" when it does not throw one.
template <class Fn>
std::string ErrorOf(Fn fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(AtomicFileTest, WritesTheBytesAndReplacesTheOldFileLeavingNothingElse) {
  TempFolder dir;
  const std::string path = dir.path() + "/state.bin";
  WriteFileAtomically(path, "first");
  EXPECT_EQ(Slurp(path), "first");
  // binary bytes, a zero among them, and a longer file over a shorter one
  const std::string bytes("second\0with a zero\xff", 19);
  WriteFileAtomically(path, bytes);
  EXPECT_EQ(Slurp(path), bytes);
  WriteFileAtomically(path, "");
  EXPECT_EQ(Slurp(path), "");
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"state.bin"});
}

TEST(AtomicFileTest, ANewFileGetsTheUmasksModeAsAPlainCreateWould) {
  TempFolder dir;
  const mode_t old_umask = umask(027);
  WriteFileAtomically(dir.path() + "/f", "x");
  umask(old_umask);
  struct stat st {};
  ASSERT_EQ(stat((dir.path() + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(AtomicFileTest, AMissingFolderThrowsNamingThePathAndTheReason) {
  TempFolder dir;
  const std::string path = dir.path() + "/no/such/folder/file";
  const std::string error = ErrorOf([&] { WriteFileAtomically(path, "x"); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{});
}

TEST(AtomicFileTest, AFailedRenameRemovesTheTempAndLeavesTheTargetAlone) {
  TempFolder dir;
  // a non-empty folder where the file should go: rename(2) refuses
  const std::string path = dir.path() + "/target";
  fs::create_directories(path);
  WriteFileAtomically(path + "/inside", "kept");
  const std::string error = ErrorOf([&] { WriteFileAtomically(path, "new bytes"); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"target"});
  EXPECT_EQ(Slurp(path + "/inside"), "kept");
}

TEST(AtomicFileTest, AWriteThatFailsHalfwayLeavesTheOldFileAndNoTemp) {
  TempFolder dir;
  const std::string path = dir.path() + "/checkpoint";
  WriteFileAtomically(path, "the old contents");
  // files may grow to 8 bytes: the write of 4 KiB fails with EFBIG (works
  // for root too, unlike a read-only folder)
  struct rlimit old_limit {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct sigaction ignore {
  }, old_action{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ignore, &old_action);
  struct rlimit small = old_limit;
  small.rlim_cur = 8;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string error = ErrorOf([&] { WriteFileAtomically(path, std::string(4096, 'n')); });
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
  EXPECT_EQ(Slurp(path), "the old contents");
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"checkpoint"});
}

TEST(AtomicFileTest, WriteAtomicallyCommitsWhatTheCallbackWroteToTheTempPath) {
  TempFolder dir;
  const std::string path = dir.path() + "/model.pt";
  std::string seen_tmp;
  WriteAtomically(path, [&](const std::string& tmp) {
    seen_tmp = tmp;
    EXPECT_EQ(fs::path(tmp).parent_path(), fs::path(path).parent_path());
    EXPECT_TRUE(fs::exists(tmp));  // reserved before the callback runs
    std::ofstream(tmp, std::ios::binary) << "archive";
  });
  EXPECT_NE(seen_tmp, path);
  EXPECT_EQ(Slurp(path), "archive");
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"model.pt"});
}

TEST(AtomicFileTest, ACallbackThatThrowsLeavesTheOldFileAndNoTemp) {
  TempFolder dir;
  const std::string path = dir.path() + "/model.pt";
  WriteFileAtomically(path, "old");
  struct SaveFailed {};
  EXPECT_THROW(WriteAtomically(path,
                               [](const std::string& tmp) {
                                 std::ofstream(tmp) << "half";
                                 throw SaveFailed{};
                               }),
               SaveFailed);
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"model.pt"});
}

TEST(AtomicFileTest, CommitAtomicallyMovesTheFinishedFileIntoPlace) {
  TempFolder dir;
  const std::string tmp = dir.path() + "/export.tmp", path = dir.path() + "/policy.pt";
  std::ofstream(tmp) << "module";
  WriteFileAtomically(path, "older module");
  CommitAtomically(tmp, path);
  EXPECT_EQ(Slurp(path), "module");
  EXPECT_FALSE(fs::exists(tmp));
  // a missing temp: an error naming it, the committed file untouched
  const std::string error = ErrorOf([&] { CommitAtomically(tmp, path); });
  EXPECT_NE(error.find(tmp), std::string::npos) << error;
  EXPECT_EQ(Slurp(path), "module");
}

TEST(AtomicFileTest, ConcurrentWritersAndReadersNeverSeeAPartialFile) {
  TempFolder dir;
  const std::string path = dir.path() + "/summary.csv";
  // each writer's contents are long enough to need several write calls
  std::vector<std::string> versions;
  for (char c : std::string("abcd")) versions.push_back(std::string(1 << 20, c));
  WriteFileAtomically(path, versions[0]);
  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0}, reads{0};
  std::thread reader([&] {
    while (!done) {
      const std::string seen = Slurp(path);
      ++reads;
      bool whole = false;
      for (const std::string& v : versions) whole = whole || seen == v;
      if (!whole) ++bad_reads;
    }
  });
  std::vector<std::thread> writers;
  for (const std::string& v : versions) {
    writers.emplace_back([&path, &v] {
      for (int i = 0; i < 10; ++i) WriteFileAtomically(path, v);
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"summary.csv"});
}

TEST(AtomicFileTest, AFolderAppearsWithAllItsFilesAtOnce) {
  TempFolder dir;
  const std::string keys = dir.path() + "/keys";
  WriteFolderAtomically(keys, [&](const std::string& tmp) {
    EXPECT_FALSE(fs::exists(keys));  // nothing at the final name while filling
    std::ofstream(tmp + "/learner.key") << "L";
    std::ofstream(tmp + "/actor.key") << "A";
  });
  EXPECT_EQ(Names(keys), (std::set<std::string>{"actor.key", "learner.key"}));
  EXPECT_EQ(Slurp(keys + "/learner.key"), "L");
  struct stat st {};
  ASSERT_EQ(stat(keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"keys"});
}

TEST(AtomicFileTest, AFolderThatFailsToFillOrToLandLeavesNoTrace) {
  TempFolder dir;
  const std::string keys = dir.path() + "/keys";
  EXPECT_THROW(WriteFolderAtomically(keys,
                                     [](const std::string& tmp) {
                                       std::ofstream(tmp + "/learner.key") << "L";
                                       throw std::logic_error("no key");
                                     }),
               std::logic_error);
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{});
  // an existing, non-empty folder is not replaced
  fs::create_directories(keys);
  std::ofstream(keys + "/old.key") << "old";
  const std::string error = ErrorOf([&] {
    WriteFolderAtomically(keys, [](const std::string& tmp) { std::ofstream(tmp + "/new.key"); });
  });
  EXPECT_NE(error.find(keys), std::string::npos) << error;
  EXPECT_EQ(Names(keys), std::set<std::string>{"old.key"});
  EXPECT_EQ(Names(dir.path()), std::set<std::string>{"keys"});
}

}  // namespace
}  // namespace robofleet

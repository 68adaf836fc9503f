// Test helpers for files: a fresh folder that cleans up after itself, and a
// file's whole contents. Header-only, for every test binary.
#ifndef ROBOFLEET_TESTS_TEMP_FOLDER_H_
#define ROBOFLEET_TESTS_TEMP_FOLDER_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace robofleet::testing {

// A fresh folder under the system's temporary folder (named after `prefix`),
// removed with everything in it when the object goes.
class TempFolder {
 public:
  explicit TempFolder(const std::string& prefix = "rf-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  const std::string& path() const { return path_; }
  // `name` inside the folder.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every byte of the file at `path` ("" when it cannot be read).
inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace robofleet::testing

#endif  // ROBOFLEET_TESTS_TEMP_FOLDER_H_

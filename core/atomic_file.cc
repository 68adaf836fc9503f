#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <system_error>

namespace robofleet {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Fail(const std::string& path, const std::string& what, int err) {
  throw std::runtime_error(path + ": cannot " + what + ": " + std::strerror(err));
}

// The folder a path is in ("." for a bare name).
std::string FolderOf(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// A name beside `path` that no other writer uses: this process's id, a
// counter and a random part (two processes may share a pid namespace's
// numbers across containers on one shared folder).
std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), ".tmp.%d.%llu.%08llx", static_cast<int>(getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)),
                static_cast<unsigned long long>(rng() & 0xffffffffu));
  // a file name already near NAME_MAX gets a short hidden temporary instead
  if (fs::path(path).filename().string().size() + std::strlen(suffix) > NAME_MAX) {
    return FolderOf(path) + "/" + suffix;
  }
  return path + suffix;
}

// Creates an empty temporary file beside `path` (0666 minus the umask, as
// a plain create) and returns its name; the open descriptor in *fd.
std::string CreateTemp(const std::string& path, int* fd) {
  for (int attempt = 0;; ++attempt) {
    std::string tmp = TempPathFor(path);
    *fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (*fd >= 0) return tmp;
    if (errno != EEXIST || attempt >= 100) Fail(path, "create a temporary file beside it", errno);
  }
}

void FsyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(path, "open it to fsync", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) Fail(path, "fsync", err);
}

// A rename is durable once the folder holding the new name is synced.
void FsyncFolder(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) Fail(dir, "open the folder to fsync", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) Fail(dir, "fsync the folder", err);
}

// Commits `tmp` over `path`; removes `tmp` when that fails.
void CommitOrRemove(const std::string& tmp, const std::string& path) {
  try {
    CommitAtomically(tmp, path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

}  // namespace

void CommitAtomically(const std::string& tmp_path, const std::string& path) {
  FsyncFile(tmp_path);
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    Fail(path, "rename " + tmp_path + " to it", errno);
  }
  FsyncFolder(FolderOf(path));
}

void WriteFileAtomically(const std::string& path, std::string_view bytes) {
  int fd = -1;
  const std::string tmp = CreateTemp(path, &fd);
  const char* data = bytes.data();
  size_t left = bytes.size();
  int err = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  // close reports late write errors on some file systems (NFS)
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    Fail(path, "write", err);
  }
  CommitOrRemove(tmp, path);
}

void WriteAtomically(const std::string& path,
                     const std::function<void(const std::string& tmp_path)>& write) {
  int fd = -1;
  const std::string tmp = CreateTemp(path, &fd);
  ::close(fd);
  try {
    write(tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  CommitOrRemove(tmp, path);
}

void WriteFolderAtomically(const std::string& dir,
                           const std::function<void(const std::string& tmp_dir)>& fill) {
  // mkdtemp wants the XXXXXX last; the name stays beside `dir`
  std::string clean = fs::path(dir).lexically_normal().string();
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  std::string tmpl = clean + ".tmp.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) Fail(dir, "create a temporary folder beside it", errno);
  const std::string tmp = tmpl;
  auto remove_tmp = [&tmp] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
  };
  try {
    fill(tmp);
  } catch (...) {
    remove_tmp();
    throw;
  }
  try {
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(tmp)) {
      if (entry.is_symlink()) continue;
      if (entry.is_regular_file()) FsyncFile(entry.path().string());
      if (entry.is_directory()) FsyncFolder(entry.path().string());
    }
    FsyncFolder(tmp);
    if (std::rename(tmp.c_str(), dir.c_str()) != 0) Fail(dir, "rename " + tmp + " to it", errno);
  } catch (const fs::filesystem_error& e) {
    remove_tmp();
    Fail(dir, "list " + tmp, e.code().value());
  } catch (...) {
    remove_tmp();
    throw;
  }
  FsyncFolder(FolderOf(clean));
}

}  // namespace robofleet

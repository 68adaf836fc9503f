// Files and folders that appear whole or not at all, and survive a crash
// once written: the one way RoboFleet replaces a file that others read
// (checkpoints, manifests, state files, summaries, key folders).
//
// Every writer here follows the same steps: a temporary name in the same
// folder (unique, so concurrent writers never share one), write, fsync the
// file, rename it over the final name, fsync the folder. A reader sees the
// old contents or the new, never a mix; after a crash at any instant the
// final name holds one of the two. On failure the temporary is removed and
// the old file is left as it was.
//
// Thread-safe: calls share no state beyond a counter for temporary names.
// Two writers of the same final path at once each succeed; the last rename
// wins.
#ifndef ROBOFLEET_CORE_ATOMIC_FILE_H_
#define ROBOFLEET_CORE_ATOMIC_FILE_H_

#include <functional>
#include <string>
#include <string_view>

namespace robofleet {

// Replaces `path` with `bytes` atomically and durably. A new file gets mode
// 0666 minus the umask, as a plain create would. Throws std::runtime_error
// naming the path and the errno text when any step fails (the folder is
// missing or read-only, the disk is full, ...).
void WriteFileAtomically(const std::string& path, std::string_view bytes);

// For writers that open the file themselves (torch::save, a TorchScript
// module's save): creates an empty temporary file beside `path`, calls
// `write(tmp_path)` to fill it, then commits it as WriteFileAtomically does.
// When `write` throws, the temporary is removed and the exception passes
// through unchanged; the other failures throw std::runtime_error as above.
void WriteAtomically(const std::string& path,
                     const std::function<void(const std::string& tmp_path)>& write);

// Makes the finished file `tmp_path` durable and renames it over `path`,
// then fsyncs the folder of `path`. Both must be on one file system (the
// same folder is safest). For callers that choose their own temporary name;
// prefer WriteAtomically. On failure throws std::runtime_error and leaves
// `tmp_path` where it was, for the caller to remove.
void CommitAtomically(const std::string& tmp_path, const std::string& path);

// Makes the folder `dir` appear with all its files at once: creates an
// empty temporary folder beside it (mode 0700), calls `fill(tmp_dir)`,
// fsyncs every regular file in it and the folder itself, renames it to
// `dir` and fsyncs the parent folder. `dir` must not exist, or be an empty
// folder. On failure the temporary folder and everything in it are
// removed; an exception from `fill` passes through unchanged, the other
// failures throw std::runtime_error naming the path and the errno text.
void WriteFolderAtomically(const std::string& dir,
                           const std::function<void(const std::string& tmp_dir)>& fill);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_ATOMIC_FILE_H_

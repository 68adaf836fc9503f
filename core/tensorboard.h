// TensorBoard event files, written directly: the record framing (length,
// masked CRC-32C, payload, masked CRC-32C) and the few protobuf fields of
// Event, Summary and TensorProto that scalars and text need. No protobuf
// library is involved.
//
// Thread-compatible: one writer per file, used from one thread.
#ifndef ROBOFLEET_CORE_TENSORBOARD_H_
#define ROBOFLEET_CORE_TENSORBOARD_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace robofleet {

class TensorBoardWriter {
 public:
  // Creates `dir` if needed and opens a new events.out.tfevents.* file in
  // it. Throws UserError if the file cannot be created.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // A scalar point of series `tag` at `step` (for us: env steps).
  void AddScalar(const std::string& tag, int64_t step, double value);

  // A text entry (shown by TensorBoard's text plugin, Markdown).
  void AddText(const std::string& tag, int64_t step, const std::string& text);

  // Pushes buffered records to the file.
  void Flush();

  const std::string& path() const { return path_; }

 private:
  void WriteEvent(const std::string& event);

  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_TENSORBOARD_H_

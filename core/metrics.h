// Metrics writers. CsvWriter appends one row per update with a fixed header;
// each row is flushed so a crash loses at most the row being written.
// Thread-compatible.
#ifndef ROBOFLEET_CORE_METRICS_H_
#define ROBOFLEET_CORE_METRICS_H_

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace robofleet {

class CsvWriter {
 public:
  // Opens `path` for writing and writes the header line. Throws UserError if
  // the file cannot be created.
  CsvWriter(const std::string& path, std::vector<std::string> columns);

  // Continues an existing file after a resume: keeps the header and the rows
  // whose first column is at most `last_kept`, drops later ones (they came
  // after the checkpoint resumed from), and appends from there. A missing
  // file, or one with other columns, starts afresh.
  static std::unique_ptr<CsvWriter> Resume(const std::string& path,
                                           std::vector<std::string> columns, double last_kept);
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  // One value per column, in header order.
  void Write(const std::vector<double>& values);

  const std::vector<std::string>& columns() const { return columns_; }

 private:
  CsvWriter(std::FILE* file, std::vector<std::string> columns);

  std::FILE* file_;
  std::vector<std::string> columns_;
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_METRICS_H_

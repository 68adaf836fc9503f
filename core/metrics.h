// Metrics writers. CsvWriter appends one row per update with a fixed header;
// each row is flushed so a crash loses at most the row being written.
// Thread-compatible.
#ifndef ROBOFLEET_CORE_METRICS_H_
#define ROBOFLEET_CORE_METRICS_H_

#include <cstdio>
#include <string>
#include <vector>

namespace robofleet {

class CsvWriter {
 public:
  // Opens `path` for writing and writes the header line. Throws UserError if
  // the file cannot be created.
  CsvWriter(const std::string& path, std::vector<std::string> columns);
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  // One value per column, in header order.
  void Write(const std::vector<double>& values);

  const std::vector<std::string>& columns() const { return columns_; }

 private:
  std::FILE* file_;
  std::vector<std::string> columns_;
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_METRICS_H_

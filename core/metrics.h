// Metrics writers. A MetricsRow is filled by column name; CsvWriter appends
// one row per update under a fixed header and flushes it, so a crash loses at
// most the row being written. Thread-compatible.
#ifndef ROBOFLEET_CORE_METRICS_H_
#define ROBOFLEET_CORE_METRICS_H_

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace robofleet {

// One row of metrics, filled by column name against a fixed column list, so
// that a value can never land under another column's name.
class MetricsRow {
 public:
  // `columns` must outlive the row (a file-level constant in practice).
  explicit MetricsRow(const std::vector<std::string>& columns);

  // Sets `column` to `value` (NaN reads as "no value", e.g. no episode has
  // finished yet). Aborts through ROBOFLEET_CHECK on a name that is not one
  // of the columns: that is a programming error, not a runtime outcome.
  MetricsRow& Set(const std::string& column, double value);

  // The values in column order. Aborts, naming it, if a column was never set.
  const std::vector<double>& values() const;
  const std::vector<std::string>& columns() const { return *columns_; }

 private:
  const std::vector<std::string>* columns_;
  std::vector<double> values_;
  std::vector<bool> set_;
};

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

  // Appends `row`, whose columns must be this file's (checked).
  void Write(const MetricsRow& row);

  const std::vector<std::string>& columns() const { return columns_; }

 private:
  CsvWriter(std::FILE* file, std::vector<std::string> columns);

  std::FILE* file_;
  std::vector<std::string> columns_;
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_METRICS_H_

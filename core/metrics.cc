#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/config.h"

namespace robofleet {

MetricsRow::MetricsRow(const std::vector<std::string>& columns)
    : columns_(&columns), values_(columns.size(), 0.0), set_(columns.size(), false) {}

MetricsRow& MetricsRow::Set(const std::string& column, double value) {
  const auto it = std::find(columns_->begin(), columns_->end(), column);
  if (it == columns_->end()) {
    std::fprintf(stderr, "metrics: '%s' is not a column\n", column.c_str());
    ROBOFLEET_CHECK(false && "MetricsRow::Set on an unknown column");
  }
  const size_t i = static_cast<size_t>(it - columns_->begin());
  values_[i] = value;
  set_[i] = true;
  return *this;
}

const std::vector<double>& MetricsRow::values() const {
  for (size_t i = 0; i < set_.size(); ++i) {
    if (!set_[i]) {
      std::fprintf(stderr, "metrics: column '%s' was never set\n", (*columns_)[i].c_str());
      ROBOFLEET_CHECK(false && "MetricsRow with an unset column");
    }
  }
  return values_;
}

CsvWriter::CsvWriter(const std::string& path, std::vector<std::string> columns)
    : file_(std::fopen(path.c_str(), "w")), columns_(std::move(columns)) {
  if (file_ == nullptr) throw UserError(path + ": cannot create the metrics file");
  for (size_t i = 0; i < columns_.size(); ++i) {
    std::fprintf(file_, "%s%s", i ? "," : "", columns_[i].c_str());
  }
  std::fprintf(file_, "\n");
  std::fflush(file_);
}

CsvWriter::CsvWriter(std::FILE* file, std::vector<std::string> columns)
    : file_(file), columns_(std::move(columns)) {}

std::unique_ptr<CsvWriter> CsvWriter::Resume(const std::string& path,
                                             std::vector<std::string> columns, double last_kept) {
  std::ifstream in(path);
  std::string header, expected, line, kept;
  for (size_t i = 0; i < columns.size(); ++i) expected += (i ? "," : "") + columns[i];
  if (!in || !std::getline(in, header) || header != expected) {
    return std::make_unique<CsvWriter>(path, std::move(columns));
  }
  kept = header + "\n";
  while (std::getline(in, line)) {
    if (!line.empty() && std::strtod(line.c_str(), nullptr) <= last_kept) kept += line + "\n";
  }
  in.close();
  // a crash while trimming leaves the old file whole, never a cut one
  try {
    WriteFileAtomically(path, kept);
  } catch (const std::runtime_error& e) {
    throw UserError(path + ": cannot rewrite the metrics file (" + e.what() + ")");
  }
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) throw UserError(path + ": cannot reopen the metrics file");
  return std::unique_ptr<CsvWriter>(new CsvWriter(file, std::move(columns)));
}

CsvWriter::~CsvWriter() { std::fclose(file_); }

void CsvWriter::Write(const MetricsRow& row) {
  ROBOFLEET_CHECK(row.columns() == columns_);
  const std::vector<double>& values = row.values();
  for (size_t i = 0; i < values.size(); ++i) {
    // integers print without a fraction; NaN (e.g. no episode finished yet) as empty
    double v = values[i];
    if (std::isnan(v))
      std::fprintf(file_, "%s", i ? "," : "");
    else if (v == std::floor(v) && std::fabs(v) < 1e15)
      std::fprintf(file_, "%s%.0f", i ? "," : "", v);
    else
      std::fprintf(file_, "%s%.6g", i ? "," : "", v);
  }
  std::fprintf(file_, "\n");
  std::fflush(file_);
}

}  // namespace robofleet

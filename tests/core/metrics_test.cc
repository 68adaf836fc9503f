// metrics.csv: rows by column name, resumed files, number formatting.
#include "core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "tests/temp_folder.h"

namespace robofleet {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kColumns = {"env_steps", "loss", "return"};

class MetricsTest : public ::testing::Test {
 protected:
  std::string Text() const { return robofleet::testing::Slurp(path_); }

  static MetricsRow Row(double steps, double loss, double ret) {
    MetricsRow row(kColumns);
    // in another order than the columns: the names place them
    row.Set("return", ret).Set("env_steps", steps).Set("loss", loss);
    return row;
  }

  robofleet::testing::TempFolder dir_{"rf-metrics"};
  const std::string path_ = dir_ / "metrics.csv";
};

TEST_F(MetricsTest, RowsSetByNameLandUnderTheirColumns) {
  {
    CsvWriter csv(path_, kColumns);
    csv.Write(Row(1000, 0.25, 12.5));
    csv.Write(Row(2000, 1e-7, std::nan("")));  // no episode finished: an empty cell
  }
  EXPECT_EQ(Text(), "env_steps,loss,return\n1000,0.25,12.5\n2000,1e-07,\n");
}

TEST_F(MetricsTest, EachRowIsOnDiskAsSoonAsItIsWritten) {
  CsvWriter csv(path_, kColumns);
  csv.Write(Row(1, 2, 3));
  // still open: a crash now keeps the row
  EXPECT_EQ(Text(), "env_steps,loss,return\n1,2,3\n");
}

TEST_F(MetricsTest, ResumeKeepsRowsUpToTheCheckpointAndDropsLaterOnes) {
  {
    CsvWriter csv(path_, kColumns);
    for (int i = 1; i <= 4; ++i) csv.Write(Row(1000 * i, i, i));
  }
  {
    auto csv = CsvWriter::Resume(path_, kColumns, 2000);
    csv->Write(Row(3000, 9, 9));
  }
  EXPECT_EQ(Text(), "env_steps,loss,return\n1000,1,1\n2000,2,2\n3000,9,9\n");
}

TEST_F(MetricsTest, ResumeOfAFileWithOtherColumnsStartsAfresh) {
  { std::ofstream(path_) << "env_steps,other\n5,6\n"; }
  {
    auto csv = CsvWriter::Resume(path_, kColumns, 1e9);
    csv->Write(Row(7, 8, 9));
  }
  EXPECT_EQ(Text(), "env_steps,loss,return\n7,8,9\n");
  fs::remove(path_);
  CsvWriter::Resume(path_, kColumns, 0)->Write(Row(1, 1, 1));  // missing: created
  EXPECT_EQ(Text(), "env_steps,loss,return\n1,1,1\n");
}

TEST_F(MetricsTest, AnUnwritableFileIsAUserError) {
  EXPECT_THROW(CsvWriter(dir_ / "missing/m.csv", kColumns), UserError);
}

TEST(MetricsRowDeathTest, AnUnknownOrUnsetColumnAbortsNamingIt) {
  EXPECT_DEATH(MetricsRow(kColumns).Set("retrun", 1.0), "'retrun' is not a column");
  EXPECT_DEATH(
      {
        MetricsRow row(kColumns);
        row.Set("env_steps", 1).Set("loss", 2);
        row.values();
      },
      "column 'return' was never set");
}

}  // namespace
}  // namespace robofleet

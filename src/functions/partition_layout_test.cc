#include "functions/partition_layout.h"

#include <gtest/gtest.h>

namespace strata {
namespace {

std::shared_ptr<const Schema> schema() {
  return std::make_shared<Schema>(std::vector<Column>{
      {"id", Type::kInt64}, {"ts", Type::kTimestamp}, {"name", Type::kString}, {"d", Type::kDate}});
}

TEST(PartitionLayout, DayFolders) {
  auto s = schema();
  auto layout = PartitionLayout::parse("dt={ts:%Y-%m-%d}", *s);
  ASSERT_TRUE(layout.is_ok()) << layout.status().to_string();
  Batch b(s);
  b.column(0).append_int(1);
  b.column(1).append_int(*parse_timestamp("2026-11-01T23:59:59.999999Z"));
  b.column(2).append_text("a/b=c");
  b.column(3).append_null();
  b.column(0).append_int(2);
  b.column(1).append_int(*parse_timestamp("1969-12-31T23:59:59.5Z"));
  b.column(2).append_null();
  b.column(3).append_int(0);
  std::string out;
  layout->partition_of(b, 0, out);
  EXPECT_EQ(out, "dt=2026-11-01");
  layout->partition_of(b, 1, out);
  EXPECT_EQ(out, "dt=1969-12-31");

  auto multi = PartitionLayout::parse("name={name}/day={d}", *s);
  ASSERT_TRUE(multi.is_ok());
  multi->partition_of(b, 0, out);
  EXPECT_EQ(out, "name=a%2Fb%3Dc/day=__HIVE_DEFAULT_PARTITION__");
  multi->partition_of(b, 1, out);
  EXPECT_EQ(out, "name=__HIVE_DEFAULT_PARTITION__/day=1970-01-01");
}

TEST(PartitionLayout, Errors) {
  auto s = schema();
  EXPECT_TRUE(PartitionLayout::parse("", *s)->empty());
  auto missing = PartitionLayout::parse("dt={when:%Y}", *s);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("'when'"), std::string::npos);
  EXPECT_NE(missing.status().message().find("id, ts, name, d"), std::string::npos);
  EXPECT_FALSE(PartitionLayout::parse("dt={ts", *s).is_ok());
  EXPECT_FALSE(PartitionLayout::parse("dt=ts}", *s).is_ok());
  EXPECT_FALSE(PartitionLayout::parse("x={name:%Y}", *s).is_ok());
  EXPECT_FALSE(PartitionLayout::parse("static", *s).is_ok());
}

}  // namespace
}  // namespace strata

// Round trips through the NDJSON and CSV writers and readers, with and without zstd: every type,
// NULLs, edge values, long values, zero rows, many batches, projection. A batch written and read
// back must be bit-identical (same cells, same RowChecksum).
#include <gtest/gtest.h>

#include "formats/format_test_util.h"

namespace strata {
namespace {

using namespace format_testing;

struct Param {
  const char* format;
  const char* compression;
};

class TextRoundTrip : public ::testing::TestWithParam<Param> {
 protected:
  FormatSpec spec() const { return spec_of(GetParam().format, GetParam().compression); }

  // Writes the batches, reads them back whole and in small batches, and checks they are equal.
  void expect_round_trip(const std::shared_ptr<const Schema>& schema,
                         const std::vector<const Batch*>& batches) {
    std::string bytes = write_bytes(spec(), schema, batches);
    ReadOptions options;
    options.schema = schema;
    for (size_t max_rows : {size_t{1}, size_t{7}, size_t{100000}}) {
      Result<std::vector<Batch>> back = read_bytes(spec(), bytes, options, max_rows);
      ASSERT_TRUE(back.is_ok()) << back.status().to_string();
      EXPECT_EQ(cells_of(*back), cells_of(batches)) << "max_rows=" << max_rows;
      EXPECT_EQ(checksum_of(*back), checksum_of(batches));
    }
  }
};

TEST_P(TextRoundTrip, EveryTypeWithNulls) {
  auto schema = all_types_schema();
  Batch a = all_types_batch(schema, 500, 0, 1);
  Batch b = all_types_batch(schema, 1, 500, 2);
  Batch empty(schema);
  Batch c = all_types_batch(schema, 300, 501, 3);
  expect_round_trip(schema, {&a, &b, &empty, &c});
}

TEST_P(TextRoundTrip, EveryEdgeValueOfEveryType) {
  auto schema = all_types_schema();
  Batch b(schema);
  auto add_row = [&](size_t col, auto&& append) {
    int64_t id = static_cast<int64_t>(b.num_rows());
    b.column(0).append_int(id);
    for (size_t c = 1; c < b.num_columns(); ++c) {
      if (c == col) {
        append(b.column(c));
      } else {
        b.column(c).append_null();
      }
    }
  };
  for (int64_t v : tricky_ints()) add_row(1, [&](ColumnVector& c) { c.append_int(v); });
  for (double v : tricky_doubles()) add_row(2, [&](ColumnVector& c) { c.append_double(v); });
  for (bool v : {true, false}) add_row(3, [&](ColumnVector& c) { c.append_bool(v); });
  for (const std::string& v : tricky_strings()) {
    add_row(4, [&](ColumnVector& c) { c.append_text(v); });
    add_row(8, [&](ColumnVector& c) { c.append_text(v); });  // decimal text is kept as is
    add_row(9, [&](ColumnVector& c) { c.append_text(v); });
  }
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  for (std::string v : {std::string(), std::string(1, '\0'), std::string("\xFF\xFE"), all_bytes}) {
    add_row(5, [&](ColumnVector& c) { c.append_text(v); });
  }
  for (int64_t v : tricky_timestamps()) add_row(6, [&](ColumnVector& c) { c.append_int(v); });
  for (int64_t v : tricky_dates()) add_row(7, [&](ColumnVector& c) { c.append_int(v); });
  expect_round_trip(schema, {&b});
}

TEST_P(TextRoundTrip, OneMebibyteValues) {
  auto schema = std::make_shared<Schema>(std::vector<Column>{
      {"id", Type::kInt64}, {"s", Type::kString}, {"b", Type::kBytes}, {"j", Type::kJson}});
  std::string big_text;
  while (big_text.size() < (1 << 20)) big_text += "caf\xC3\xA9, \"quoted\"\n\\ \x01 plain text ";
  std::string big_bytes(1 << 20, '\0');
  for (size_t i = 0; i < big_bytes.size(); ++i) big_bytes[i] = static_cast<char>(i * 7919 % 251);
  Batch b(schema);
  for (int r = 0; r < 3; ++r) {
    b.column(0).append_int(r);
    b.column(1).append_text(big_text);
    b.column(2).append_text(big_bytes);
    b.column(3).append_text("{\"k\":\"" + std::string(1 << 20, 'v') + "\"}");
  }
  expect_round_trip(schema, {&b});
}

TEST_P(TextRoundTrip, AllNullColumns) {
  auto schema = all_types_schema();
  Batch b(schema);
  for (int r = 0; r < 50; ++r) {
    b.column(0).append_int(r);
    for (size_t c = 1; c < b.num_columns(); ++c) b.column(c).append_null();
  }
  expect_round_trip(schema, {&b});
}

TEST_P(TextRoundTrip, AllNullSingleColumn) {
  auto schema = std::make_shared<Schema>(std::vector<Column>{{"only", Type::kString}});
  Batch b(schema);
  for (int r = 0; r < 5; ++r) b.column(0).append_null();
  b.column(0).append_text("");
  b.column(0).append_null();
  expect_round_trip(schema, {&b});
}

TEST_P(TextRoundTrip, ZeroRows) {
  auto schema = all_types_schema();
  expect_round_trip(schema, {});
  Batch empty(schema);
  expect_round_trip(schema, {&empty, &empty});
}

TEST_P(TextRoundTrip, ManyBatchesCrossingBufferBoundaries) {
  auto schema = all_types_schema();
  std::vector<Batch> batches;
  int64_t id = 0;
  for (uint32_t i = 0; i < 40; ++i) {
    batches.push_back(all_types_batch(schema, 1000 + i * 37, id, i));
    id += static_cast<int64_t>(batches.back().num_rows());
  }
  std::vector<const Batch*> ptrs;
  for (const Batch& b : batches) ptrs.push_back(&b);
  std::string bytes = write_bytes(spec(), schema, ptrs);
  ReadOptions options;
  options.schema = schema;
  Result<std::vector<Batch>> back = read_bytes(spec(), bytes, options, 4096);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(checksum_of(*back), checksum_of(ptrs));
  EXPECT_EQ(checksum_of(*back).rows(), static_cast<uint64_t>(id));
  EXPECT_EQ(cells_of(*back), cells_of(ptrs));
}

TEST_P(TextRoundTrip, ProjectionReturnsTheAskedColumnsInOrder) {
  auto schema = all_types_schema();
  Batch b = all_types_batch(schema, 777);
  std::string bytes = write_bytes(spec(), schema, {&b});
  ReadOptions options;
  options.schema = schema;
  options.columns = {"ts", "id", "name"};
  StringSource source(bytes, "p");
  auto reader = open_format_reader(spec(), &source, options);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  const Schema& projected = *(*reader)->schema_ptr();
  ASSERT_EQ(projected.size(), 3u);
  EXPECT_EQ(projected[0], schema->columns()[6]);
  EXPECT_EQ(projected[1], schema->columns()[0]);
  EXPECT_EQ(projected[2], schema->columns()[4]);

  Result<std::vector<Batch>> back = read_bytes(spec(), bytes, options, 100);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  std::vector<std::vector<std::string>> want;
  for (size_t r = 0; r < b.num_rows(); ++r) {
    want.push_back({cell(b.column(6), r), cell(b.column(0), r), cell(b.column(4), r)});
  }
  EXPECT_EQ(cells_of(*back), want);

  // Purge reads just the key column.
  options.columns = {"id"};
  back = read_bytes(spec(), bytes, options, 100000);
  ASSERT_TRUE(back.is_ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].num_columns(), 1u);
  EXPECT_EQ((*back)[0].num_rows(), 777u);
  EXPECT_EQ((*back)[0].column(0).int_at(776), 776);
}

TEST_P(TextRoundTrip, ProjectionErrors) {
  auto schema = all_types_schema();
  std::string bytes = write_bytes(spec(), schema, {});
  ReadOptions options;
  options.schema = schema;
  options.columns = {"id", "nope"};
  Result<std::vector<Batch>> r = read_bytes(spec(), bytes, options, 10, "f1");
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_permanent());
  EXPECT_NE(r.status().message().find("'nope'"), std::string::npos);
  EXPECT_NE(r.status().message().find("f1"), std::string::npos);
  options.columns = {"id", "id"};
  EXPECT_FALSE(read_bytes(spec(), bytes, options, 10).is_ok());
}

TEST_P(TextRoundTrip, ReaderNeedsASchemaAndAMatchingBatch) {
  auto schema = all_types_schema();
  std::string bytes = write_bytes(spec(), schema, {});
  StringSource source(bytes, "f2");
  ReadOptions no_schema;
  auto r = open_format_reader(spec(), &source, no_schema);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_permanent());
  EXPECT_NE(r.status().message().find("schema"), std::string::npos);
  EXPECT_NE(r.status().message().find("f2"), std::string::npos);

  ReadOptions options;
  options.schema = schema;
  auto reader = open_format_reader(spec(), &source, options);
  ASSERT_TRUE(reader.is_ok());
  auto other = std::make_shared<Schema>(std::vector<Column>{{"id", Type::kString}});
  Batch wrong(other);
  EXPECT_FALSE((*reader)->next(wrong, 10).is_ok());
  Batch right((*reader)->schema_ptr());
  EXPECT_FALSE((*reader)->next(right, 0).is_ok());
}

TEST_P(TextRoundTrip, WriterChecksBatchesAndItsLifecycle) {
  auto schema = all_types_schema();
  StringSink sink;
  auto w = open_format_writer(spec(), schema, &sink);
  ASSERT_TRUE(w.is_ok());
  auto other = std::make_shared<Schema>(std::vector<Column>{{"id", Type::kInt64}});
  Batch wrong(other);
  wrong.column(0).append_int(1);
  EXPECT_FALSE((*w)->write(wrong).is_ok());
  Batch right = all_types_batch(schema, 3);
  ASSERT_TRUE((*w)->write(right).is_ok());
  ASSERT_TRUE((*w)->finish().is_ok());
  EXPECT_EQ((*w)->rows_written(), 3u);
  EXPECT_FALSE((*w)->write(right).is_ok());
  EXPECT_FALSE((*w)->finish().is_ok());

  auto no_columns = std::make_shared<Schema>();
  EXPECT_FALSE(open_format_writer(spec(), no_columns, &sink).is_ok());
}

TEST_P(TextRoundTrip, SinkErrorsKeepTheirVerdict) {
  class FailingSink : public ByteSink {
   public:
    Status write(const void*, size_t) override { return Status::retryable("disk hiccup"); }
  } sink;
  auto schema = all_types_schema();
  auto w = open_format_writer(spec(), schema, &sink);
  ASSERT_TRUE(w.is_ok());
  Batch b = all_types_batch(schema, 20000);
  Status s = (*w)->write(b);
  if (s.is_ok()) s = (*w)->finish();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.is_retryable());
  EXPECT_FALSE((*w)->finish().is_ok());  // sticky
}

INSTANTIATE_TEST_SUITE_P(Formats, TextRoundTrip,
                         ::testing::Values(Param{"ndjson", "none"}, Param{"ndjson", "zstd"},
                                           Param{"csv", "none"}, Param{"csv", "zstd"}),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return std::string(info.param.format) + "_" + info.param.compression;
                         });

}  // namespace
}  // namespace strata

// Writes batches of every Strata type and reads them back with Strata's own reader: values, schema
// and row checksums must be identical. Also the writer's and reader's error paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "formats/parquet/parquet_test_util.h"
#include "formats/parquet/parquet_thrift.h"

namespace strata::parquet {
namespace {

using testing::all_types_schema;
using testing::checksum_of;
using testing::fill_all_types;
using testing::kAllTypesRows;
using testing::parquet_spec;
using testing::read_parquet;
using testing::write_parquet;

// The footer of a Parquet file in memory, decoded.
bool footer_of(const std::string& file, FileMetaData& meta) {
  const auto* data = reinterpret_cast<const uint8_t*>(file.data());
  uint32_t footer_len = 0;
  std::memcpy(&footer_len, data + file.size() - 8, 4);
  ThriftDecodeResult r;
  return decode_thrift(data + file.size() - 8 - footer_len, footer_len, 1 << 20, meta, r).is_ok();
}

void expect_same_values(const Batch& want, const std::vector<std::vector<Value>>& got,
                        const std::vector<size_t>& columns = {}) {
  ASSERT_EQ(got.size(), want.num_rows());
  for (size_t r = 0; r < want.num_rows(); ++r) {
    const size_t n = columns.empty() ? want.num_columns() : columns.size();
    ASSERT_EQ(got[r].size(), n);
    for (size_t k = 0; k < n; ++k) {
      const size_t c = columns.empty() ? k : columns[k];
      const Value w = want.column(c).value_at(r);
      const Value& g = got[r][k];
      if (w.is_double() && g.is_double()) {
        const double a = w.as_double(), b = g.as_double();
        EXPECT_TRUE(std::memcmp(&a, &b, 8) == 0) << "row " << r << " col " << c;
      } else {
        EXPECT_EQ(w.to_string(), g.to_string()) << "row " << r << " col " << c;
      }
    }
  }
}

TEST(ParquetRoundTrip, EveryTypeIsBitIdentical) {
  auto schema = all_types_schema();
  Batch b(schema);
  fill_all_types(b);
  for (Compression c :
       {Compression::kZstd, Compression::kNone, Compression::kSnappy, Compression::kGzip}) {
    auto bytes = write_parquet(schema, {&b}, parquet_spec(c));
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    auto r = read_parquet(*bytes);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(*r->schema, *schema);  // including source_type and decimal(0) as decimal
    EXPECT_EQ(r->checksum, checksum_of({&b}));
    expect_same_values(b, r->rows);
  }
}

TEST(ParquetRoundTrip, ProjectionAndSchemaCheck) {
  auto schema = all_types_schema();
  Batch b(schema);
  fill_all_types(b);
  auto bytes = write_parquet(schema, {&b});
  ASSERT_TRUE(bytes.is_ok());

  ReadOptions options;
  options.schema = schema;
  options.columns = {"dec38", "id", "text"};
  auto r = read_parquet(*bytes, options);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->schema->size(), 3u);
  EXPECT_EQ((*r->schema)[0].name, "dec38");
  expect_same_values(b, r->rows, {10, 0, 4});

  options.columns = {"missing"};
  r = read_parquet(*bytes, options);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("no column 'missing'"), std::string::npos);
  EXPECT_NE(r.status().message().find("test.parquet"), std::string::npos);

  std::vector<Column> cols = schema->columns();
  cols[2].type = Type::kInt64;  // f64 expected as int64
  options.schema = std::make_shared<const Schema>(cols);
  options.columns.clear();
  r = read_parquet(*bytes, options);
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_permanent());
  EXPECT_NE(r.status().message().find("'f64' double NULL in the file, expected 'f64' int64"),
            std::string::npos)
      << r.status().message();

  cols = schema->columns();
  cols[9].scale = 3;
  options.schema = std::make_shared<const Schema>(cols);
  EXPECT_FALSE(read_parquet(*bytes, options).is_ok());
}

TEST(ParquetRoundTrip, ManyPagesRowGroupsAndBatchSizes) {
  auto schema =
      std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64, false},
                                                         {"tag", Type::kString},
                                                         {"v", Type::kDouble},
                                                         {"ok", Type::kBool, false},
                                                         {"day", Type::kDate},
                                                         {"amount", Type::kDecimal, true, 12, 2}});
  std::vector<Batch> batches;
  std::vector<const Batch*> ptrs;
  for (int k = 0; k < 7; ++k) batches.emplace_back(schema);
  for (int k = 0; k < 7; ++k) {
    Batch& b = batches[static_cast<size_t>(k)];
    for (int i = 0; i < 3001; ++i) {
      const int64_t id = k * 3001 + i;
      b.column(0).append_int(id);
      if (id % 11 == 0)
        b.column(1).append_null();
      else
        b.column(1).append_text("t" + std::to_string(id % 37));
      b.column(2).append_double(static_cast<double>(id) / 3.0);
      b.column(3).append_bool(id % 2 == 0);
      if (id % 13 == 0)
        b.column(4).append_null();
      else
        b.column(4).append_int(18000 + id % 400);
      std::string amount;
      append_decimal(amount, static_cast<int128>(id) * 37 - 100000, 2);
      b.column(5).append_text(amount);
    }
    ptrs.push_back(&b);
  }
  FormatSpec spec = parquet_spec();
  spec.page_bytes = 2048;
  spec.row_group_bytes = 12 << 10;
  auto bytes = write_parquet(schema, ptrs, spec);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();

  StringSource source(*bytes);
  auto info = inspect_parquet_file(&source);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->num_rows, 7u * 3001);
  EXPECT_GT(info->num_row_groups, 2u);
  EXPECT_EQ(info->metadata.at("strata.version"), "0.1.0");
  EXPECT_EQ(*info->schema, *schema);

  for (size_t batch_rows : {1, 7, 1000, 100000}) {
    auto r = read_parquet(*bytes, {}, /*keep_rows=*/false, batch_rows);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->checksum, checksum_of(ptrs)) << batch_rows;
  }
}

// keep_group sees each row group's min/max, decoded to the column's type, and the groups it rules
// out are not decoded; the rest come back whole.
TEST(ParquetRoundTrip, RowGroupsAreSkippedByTheirStatistics) {
  auto schema = std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64},
                                                                   {"ts", Type::kTimestamp},
                                                                   {"day", Type::kDate},
                                                                   {"x", Type::kDouble},
                                                                   {"name", Type::kString}});
  Batch b(schema);
  const int rows = 40000;
  for (int i = 0; i < rows; ++i) {
    b.column(0).append_int(i);
    b.column(1).append_int(1700000000000000LL + i * 1000000LL);
    b.column(2).append_int(19000 + i / 1000);
    b.column(3).append_double(i * 0.5);
    b.column(4).append_text("n" + std::to_string(100000 + i));
  }
  FormatSpec spec = parquet_spec();
  spec.page_bytes = 4096;
  spec.row_group_bytes = 6 << 10;
  auto bytes = write_parquet(schema, {&b}, spec);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  StringSource probe(*bytes);
  auto info = inspect_parquet_file(&probe);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  ASSERT_GT(info->num_row_groups, 8u);

  // Each test keeps groups that may hold a row of [lo, hi) on one column, and must see all of
  // those rows.
  struct Case {
    size_t column;
    Value lo, hi;
  };
  const std::vector<Case> cases = {
      {0, Value::of_int(30000), Value::of_int(31000)},
      {1, Value::of_int(1700000000000000LL + 5000 * 1000000LL),
       Value::of_int(1700000000000000LL + 6000 * 1000000LL)},
      {2, Value::of_int(19010), Value::of_int(19011)},
      {3, Value::of_double(100.0), Value::of_double(600.0)},
      {4, Value::of_text("n120000"), Value::of_text("n121000")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.column);
    ReadOptions opts;
    opts.keep_group = [&](const std::vector<ColumnBounds>& bounds) {
      EXPECT_EQ(bounds.size(), 5u);
      const ColumnBounds& cb = bounds[c.column];
      EXPECT_FALSE(cb.min.is_null());
      EXPECT_FALSE(cb.max.is_null());
      return !(cb.max < c.lo) && cb.min < c.hi;
    };
    StringSource source(*bytes);
    auto reader = open_parquet_reader(&source, opts);
    ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
    Batch out((*reader)->schema_ptr());
    int64_t in_range = 0, total = 0;
    for (;;) {
      auto more = (*reader)->next(out, 1000);
      ASSERT_TRUE(more.is_ok()) << more.status().to_string();
      if (!*more) break;
      for (size_t r = 0; r < out.num_rows(); ++r) {
        ++total;
        const Value v = out.column(c.column).value_at(r);
        if (!(v < c.lo) && v < c.hi) ++in_range;
      }
    }
    EXPECT_EQ(in_range, 1000);  // every case selects 1000 rows
    EXPECT_LT(total, rows / 2);
    EXPECT_GT((*reader)->groups_skipped(), info->num_row_groups / 2);
  }
}

TEST(ParquetRoundTrip, DictionaryFallbackKeepsValues) {
  auto schema = std::make_shared<const Schema>(std::vector<Column>{
      {"s", Type::kString}, {"n", Type::kInt64}, {"d", Type::kDecimal, true, 30, 5}});
  Batch b(schema);
  for (int i = 0; i < 20000; ++i) {
    // Low cardinality first, then every value new: the dictionary outgrows its limit mid-chunk.
    const int v = i < 5000 ? i % 10 : i;
    b.column(0).append_text("value-" + std::to_string(v));
    b.column(1).append_int(v * 1000003LL);
    std::string d;
    append_decimal(d, static_cast<int128>(v) * 100001, 5);
    b.column(2).append_text(d);
  }
  ParquetWriterTuning tuning;
  tuning.dictionary_limit_bytes = 16 << 10;
  FormatSpec spec = parquet_spec();
  spec.page_bytes = 4096;
  auto bytes = write_parquet(schema, {&b}, spec, {}, tuning);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  auto r = read_parquet(*bytes);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->checksum, checksum_of({&b}));
  expect_same_values(b, r->rows);

  tuning.dictionary_limit_bytes = 0;  // dictionary off
  bytes = write_parquet(schema, {&b}, spec, {}, tuning);
  ASSERT_TRUE(bytes.is_ok());
  r = read_parquet(*bytes, {}, false);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->checksum, checksum_of({&b}));
}

TEST(ParquetRoundTrip, ZeroRowsAndAllNulls) {
  auto schema = all_types_schema();
  auto bytes = write_parquet(schema, {});
  ASSERT_TRUE(bytes.is_ok());
  auto r = read_parquet(*bytes);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->rows.size(), 0u);
  EXPECT_EQ(*r->schema, *schema);

  auto nulls = std::make_shared<const Schema>(std::vector<Column>{
      {"a", Type::kInt64}, {"b", Type::kBool}, {"c", Type::kDecimal, true, 20, 2}});
  Batch b(nulls);
  for (int i = 0; i < 3000; ++i) {
    for (size_t c = 0; c < 3; ++c) b.column(c).append_null();
  }
  bytes = write_parquet(nulls, {&b});
  ASSERT_TRUE(bytes.is_ok());
  r = read_parquet(*bytes);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->checksum, checksum_of({&b}));
  EXPECT_EQ(r->rows.size(), 3000u);
}

TEST(ParquetRoundTrip, LongStringsAndLargeValues) {
  auto schema = std::make_shared<const Schema>(std::vector<Column>{{"s", Type::kString}});
  Batch b(schema);
  b.column(0).append_text(std::string(3 << 20, 'a'));  // bigger than a page
  b.column(0).append_text("");
  b.column(0).append_text(std::string(300, '\xFF'));  // max statistic cannot be shortened
  b.column(0).append_null();
  auto bytes = write_parquet(schema, {&b});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  auto r = read_parquet(*bytes);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->checksum, checksum_of({&b}));
}

TEST(ParquetRoundTrip, DecimalTextIsParsedExactly) {
  int128 v = 0;
  EXPECT_EQ(parse_decimal("12.3", 5, 2, v), "");
  EXPECT_EQ(static_cast<int64_t>(v), 1230);
  EXPECT_EQ(parse_decimal("-0.5", 5, 2, v), "");
  EXPECT_EQ(static_cast<int64_t>(v), -50);
  EXPECT_EQ(parse_decimal("1.2300", 5, 2, v), "");  // trailing zeros past the scale
  EXPECT_EQ(static_cast<int64_t>(v), 123);
  EXPECT_NE(parse_decimal("1.234", 5, 2, v), "");
  EXPECT_NE(parse_decimal("1234.5", 5, 2, v), "");
  EXPECT_NE(parse_decimal("1e5", 9, 0, v), "");
  EXPECT_NE(parse_decimal("", 9, 0, v), "");
  EXPECT_NE(parse_decimal("1.2.3", 9, 2, v), "");
  EXPECT_EQ(parse_decimal("99999999999999999999999999999999999999", 38, 0, v), "");
  std::string out;
  append_decimal(out, v, 0);
  EXPECT_EQ(out, "99999999999999999999999999999999999999");
  out.clear();
  append_decimal(out, -5, 3);
  EXPECT_EQ(out, "-0.005");
  out.clear();
  append_decimal(out, 0, 2);
  EXPECT_EQ(out, "0.00");

  auto schema =
      std::make_shared<const Schema>(std::vector<Column>{{"price", Type::kDecimal, true, 6, 2}});
  Batch b(schema);
  b.column(0).append_text("1.5");
  b.column(0).append_text("12345.6");  // 5 integer digits for precision 6 scale 2
  StringSink sink;
  auto w = open_parquet_writer(parquet_spec(), schema, &sink, {});
  ASSERT_TRUE(w.is_ok());
  Status s = (*w)->write(b);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("column 'price' row 1"), std::string::npos) << s.message();
  EXPECT_FALSE((*w)->finish().is_ok());  // the writer is spent
}

TEST(ParquetRoundTrip, WriterRejectsBadInput) {
  StringSink sink;
  auto dup = std::make_shared<const Schema>(
      std::vector<Column>{{"a", Type::kInt64}, {"a", Type::kString}});
  EXPECT_FALSE(open_parquet_writer(parquet_spec(), dup, &sink, {}).is_ok());
  auto bad_decimal =
      std::make_shared<const Schema>(std::vector<Column>{{"a", Type::kDecimal, true, 5, 7}});
  EXPECT_FALSE(open_parquet_writer(parquet_spec(), bad_decimal, &sink, {}).is_ok());
  auto one = std::make_shared<const Schema>(std::vector<Column>{{"a", Type::kInt64, false}});
  EXPECT_FALSE(open_parquet_writer(parquet_spec(), one, &sink, {{"strata.schema", "x"}}).is_ok());
  FormatSpec bad_level = parquet_spec();
  bad_level.level = 99;
  EXPECT_FALSE(open_parquet_writer(bad_level, one, &sink, {}).is_ok());

  auto w = open_parquet_writer(parquet_spec(), one, &sink, {});
  ASSERT_TRUE(w.is_ok());
  Batch b(one);
  b.column(0).append_int(1);
  b.column(0).append_null();
  Status s = (*w)->write(b);
  EXPECT_NE(s.message().find("column 'a' row 1: NULL in a column declared NOT NULL"),
            std::string::npos)
      << s.message();

  auto dates = std::make_shared<const Schema>(std::vector<Column>{{"d", Type::kDate}});
  auto w2 = open_parquet_writer(parquet_spec(), dates, &sink, {});
  ASSERT_TRUE(w2.is_ok());
  Batch d(dates);
  d.column(0).append_int(int64_t{1} << 40);
  EXPECT_FALSE((*w2)->write(d).is_ok());
}

TEST(ParquetRoundTrip, WriterBuffersAtMostAboutOneRowGroup) {
  // A sink that records the largest single write: the writer flushes row groups as they fill,
  // so nothing close to the whole file is ever held at once.
  class CountingSink final : public ByteSink {
   public:
    Status write(const void*, size_t n) override {
      total += n;
      largest = std::max(largest, n);
      return Status::ok();
    }
    size_t total = 0, largest = 0;
  };
  auto schema = std::make_shared<const Schema>(std::vector<Column>{{"s", Type::kString}});
  FormatSpec spec = parquet_spec(Compression::kNone);
  spec.row_group_bytes = 256 << 10;
  CountingSink sink;
  auto w = open_parquet_writer(spec, schema, &sink, {});
  ASSERT_TRUE(w.is_ok());
  Batch b(schema);
  for (int k = 0; k < 40; ++k) {
    b.clear();
    for (int i = 0; i < 1000; ++i)
      b.column(0).append_text(std::to_string(k * 1000 + i) + std::string(100, 'p'));
    ASSERT_TRUE((*w)->write(b).is_ok());
  }
  ASSERT_TRUE((*w)->finish().is_ok());
  EXPECT_GT(sink.total, 4u << 20);
  EXPECT_LT(sink.largest, 512u << 10);
  EXPECT_EQ((*w)->rows_written(), 40000u);
}

TEST(ParquetRoundTrip, PagesHoldABoundedNumberOfValues) {
  // Narrow and dictionary-coded values reach page_bytes only after many values, and the writer
  // holds a page's values uncompressed (4 bytes per dictionary index) until it is flushed: pages
  // are capped at 65,536 values so the writer's memory does not grow with the row group.
  auto schema = std::make_shared<const Schema>(std::vector<Column>{
      {"id", Type::kInt64, false}, {"small", Type::kInt64}, {"ok", Type::kBool, false}});
  constexpr int kRows = 200000;
  Batch b(schema);
  for (int i = 0; i < kRows; ++i) {
    b.column(0).append_int(i);
    b.column(1).append_int(i % 5);
    b.column(2).append_bool(i % 3 == 0);
  }
  auto bytes = write_parquet(schema, {&b});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  const std::string& file = *bytes;
  const auto* data = reinterpret_cast<const uint8_t*>(file.data());
  FileMetaData meta;
  ASSERT_TRUE(footer_of(file, meta));
  ASSERT_EQ(meta.row_groups.size(), 1u);
  for (const ColumnChunk& chunk : meta.row_groups[0].columns) {
    const ColumnMetaData& m = *chunk.meta_data;
    SCOPED_TRACE(m.path_in_schema[0]);
    size_t pos = static_cast<size_t>(m.dictionary_page_offset.value_or(m.data_page_offset));
    const size_t end = pos + static_cast<size_t>(m.total_compressed_size);
    int data_pages = 0;
    int64_t values = 0, largest = 0;
    while (pos < end) {
      PageHeader h;
      ThriftDecodeResult hr;
      ASSERT_TRUE(decode_thrift(data + pos, end - pos, 1 << 20, h, hr).is_ok());
      pos += hr.consumed + static_cast<size_t>(h.compressed_page_size);
      if (!h.data_page_header) continue;
      ++data_pages;
      values += h.data_page_header->num_values;
      largest = std::max<int64_t>(largest, h.data_page_header->num_values);
    }
    EXPECT_EQ(pos, end);
    EXPECT_EQ(values, kRows);
    EXPECT_EQ(largest, 65536);
    EXPECT_EQ(data_pages, 4);
  }
  auto back = read_parquet(file);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_EQ(back->checksum, checksum_of({&b}));
}

// Which encoding each column's pages took: a column whose first slice is all distinct goes
// PLAIN (or DELTA_BINARY_PACKED) without a dictionary page, though its values repeat later; one
// with few values keeps its dictionary; text that is all distinct goes PLAIN. The values read
// back either way.
TEST(ParquetRoundTrip, OnlyColumnsThatRepeatEarlyKeepADictionary) {
  auto schema = std::make_shared<const Schema>(std::vector<Column>{
      {"cycle", Type::kInt64, false}, {"few", Type::kInt64, false}, {"doc", Type::kString}});
  constexpr int kRows = 30000;
  Batch b(schema);
  for (int i = 0; i < kRows; ++i) {
    b.column(0).append_int(i % 10000);
    b.column(1).append_int((i * 7919) % 1000);
    b.column(2).append_text("{\"n\":" + std::to_string(i) + ",\"pad\":\"" +
                            std::to_string(i * 2654435761u) + "\"}");
  }
  auto bytes = write_parquet(schema, {&b});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  const std::string& file = *bytes;
  FileMetaData meta;
  ASSERT_TRUE(footer_of(file, meta));
  ASSERT_EQ(meta.row_groups.size(), 1u);
  std::map<std::string, std::vector<Encoding>> encodings;
  std::map<std::string, bool> has_dictionary;
  for (const ColumnChunk& chunk : meta.row_groups[0].columns) {
    encodings[chunk.meta_data->path_in_schema[0]] = chunk.meta_data->encodings;
    has_dictionary[chunk.meta_data->path_in_schema[0]] =
        chunk.meta_data->dictionary_page_offset.has_value();
  }
  const auto uses = [&](const std::string& col, Encoding e) {
    const auto& v = encodings[col];
    return std::find(v.begin(), v.end(), e) != v.end();
  };
  EXPECT_FALSE(has_dictionary["cycle"]);
  EXPECT_TRUE(uses("cycle", Encoding::kDeltaBinaryPacked));
  EXPECT_FALSE(uses("cycle", Encoding::kRleDictionary));
  EXPECT_TRUE(has_dictionary["few"]);
  EXPECT_TRUE(uses("few", Encoding::kRleDictionary));
  EXPECT_FALSE(has_dictionary["doc"]);
  EXPECT_TRUE(uses("doc", Encoding::kPlain));
  EXPECT_FALSE(uses("doc", Encoding::kRleDictionary));

  auto back = read_parquet(file, {}, /*keep_rows=*/false);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  EXPECT_TRUE(back->checksum == checksum_of({&b}));
}

}  // namespace
}  // namespace strata::parquet

// Helpers shared by the Parquet tests: write batches to bytes, read bytes back, checksum.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "core/fs.h"
#include "formats/parquet/byte_io.h"
#include "formats/parquet/parquet.h"
#include "formats/parquet/parquet_schema.h"

namespace strata::parquet::testing {

inline FormatSpec parquet_spec(Compression c = Compression::kZstd) {
  FormatSpec spec;
  spec.name = "parquet";
  spec.compression = c;
  return spec;
}

inline Result<std::string> write_parquet(const std::shared_ptr<const Schema>& schema,
                                         const std::vector<const Batch*>& batches,
                                         const FormatSpec& spec = parquet_spec(),
                                         const std::map<std::string, std::string>& metadata = {},
                                         const ParquetWriterTuning& tuning = {}) {
  StringSink sink;
  STRATA_ASSIGN_OR_RETURN(auto writer, open_parquet_writer(spec, schema, &sink, metadata, tuning));
  for (const Batch* b : batches) STRATA_TRY(writer->write(*b));
  STRATA_TRY(writer->finish());
  return sink.take();
}

struct ReadResult {
  std::shared_ptr<const Schema> schema;
  RowChecksum checksum;
  std::vector<std::vector<Value>> rows;  // only when keep_rows
};

inline Result<ReadResult> read_parquet(const std::string& bytes, const ReadOptions& options = {},
                                       bool keep_rows = true, size_t batch_rows = 1000) {
  StringSource source(bytes, "test.parquet");
  STRATA_ASSIGN_OR_RETURN(auto reader, open_parquet_reader(&source, options));
  ReadResult out;
  out.schema = reader->schema_ptr();
  Batch batch(out.schema);
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool more, reader->next(batch, batch_rows));
    if (!more) break;
    out.checksum.add_batch(batch);
    if (keep_rows) {
      for (size_t r = 0; r < batch.num_rows(); ++r) {
        std::vector<Value> row;
        for (size_t c = 0; c < batch.num_columns(); ++c) row.push_back(batch.column(c).value_at(r));
        out.rows.push_back(std::move(row));
      }
    }
  }
  return out;
}

inline RowChecksum checksum_of(const std::vector<const Batch*>& batches) {
  RowChecksum c;
  for (const Batch* b : batches) c.add_batch(*b);
  return c;
}

}  // namespace strata::parquet::testing

namespace strata::parquet::testing {

// One column of every Strata type (and three decimal widths plus decimal-as-text), with edge
// values: extremes, empty and unicode strings, a 100 KB string, NULLs, -0.0, NaN, infinities.
inline std::shared_ptr<const Schema> all_types_schema() {
  std::vector<Column> cols = {
      {"id", Type::kInt64, false, 0, 0, "bigint"},
      {"i64", Type::kInt64},
      {"f64", Type::kDouble},
      {"flag", Type::kBool},
      {"text", Type::kString},
      {"blob", Type::kBytes},
      {"ts", Type::kTimestamp},
      {"day", Type::kDate},
      {"dec9", Type::kDecimal, true, 9, 2, "numeric(9,2)"},
      {"dec18", Type::kDecimal, true, 18, 4},
      {"dec38", Type::kDecimal, true, 38, 10},
      {"dec_any", Type::kDecimal, true, 0, 0, "numeric"},
      {"doc", Type::kJson},
      {"nothing", Type::kString},  // all NULL
  };
  return std::make_shared<const Schema>(std::move(cols));
}

inline constexpr int kAllTypesRows = 12;

inline void fill_all_types(Batch& b) {
  const int64_t kMin = std::numeric_limits<int64_t>::min(),
                kMax = std::numeric_limits<int64_t>::max();
  const double kInf = std::numeric_limits<double>::infinity();
  const int64_t i64[] = {0, 1, -1, kMin, kMax, 42, -42, 7, 1000000007, 0, 5, -5};
  const double f64[] = {0.0,      -0.0, 1.5,   -2.25,        1e308, -1e-308,
                        4.9e-324, kInf, -kInf, std::nan(""), 0.1,   123456.789};
  const std::string long_text(100000, 'x');
  const std::string texts[] = {"",
                               "plain",
                               "unicode: h\xC3\xA9llo \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC",
                               long_text,
                               "quote ' and \" and \\ and \n newline",
                               "Zebra",
                               "apple",
                               "\xC3\xA9"
                               "clair",
                               "tab\there",
                               "a",
                               "b",
                               "c"};
  const std::string blobs[] = {std::string("\0\1\2", 3),
                               "",
                               std::string("\xFF\xFE", 2),
                               "bytes",
                               std::string(1000, '\0'),
                               "x",
                               "y",
                               "z",
                               "w",
                               "v",
                               "u",
                               "t"};
  const int64_t ts[] = {0, -1,      1767225600000000, 253402300799999999, -62135596800000000,
                        1, 1000000, -1000000,         1700000000123456,   86400000000,
                        2, 3};
  const int64_t days[] = {0, -1, 20454, 2932896, -719162, 1, 2, 3, 4, 5, 6, 7};
  const char* dec9[] = {"0.00", "-0.01", "9999999.99", "-9999999.99", "12.30", "1.00",
                        "2.50", "3.00",  "-4.00",      "5.55",        "6.66",  "7.77"};
  const char* dec18[] = {"0.0000",
                         "99999999999999.9999",
                         "-99999999999999.9999",
                         "1.2345",
                         "-0.0001",
                         "1.0000",
                         "2.0000",
                         "3.0000",
                         "4.0000",
                         "5.0000",
                         "6.0000",
                         "7.0000"};
  const char* dec38[] = {"0.0000000000",
                         "9999999999999999999999999999.9999999999",
                         "-9999999999999999999999999999.9999999999",
                         "0.0000000001",
                         "-123456789012345678.1234567890",
                         "1.0000000000",
                         "2.0000000000",
                         "3.0000000000",
                         "4.0000000000",
                         "5.0000000000",
                         "6.0000000000",
                         "7.0000000000"};
  const char* dec_any[] = {"0",    "-1.5", "3.14159265358979323846264338327950288419716939937510",
                           "1e10", "NaN",  "12",
                           "13",   "14",   "15",
                           "16",   "17",   "18"};
  const char* docs[] = {"{}", "[1,2,3]", "{\"a\":\"b\"}", "null", "\"s\"", "1", "2", "3", "4", "5",
                        "6",  "7"};
  for (int r = 0; r < kAllTypesRows; ++r) {
    const bool null_row = r == 5;  // every nullable column is NULL in row 5
    b.column(0).append_int(r);
    auto maybe = [&](ColumnVector& c, auto&& append) {
      if (null_row)
        c.append_null();
      else
        append(c);
    };
    maybe(b.column(1), [&](ColumnVector& c) { c.append_int(i64[r]); });
    maybe(b.column(2), [&](ColumnVector& c) { c.append_double(f64[r]); });
    maybe(b.column(3), [&](ColumnVector& c) { c.append_bool(r % 3 == 0); });
    maybe(b.column(4), [&](ColumnVector& c) { c.append_text(texts[r]); });
    maybe(b.column(5), [&](ColumnVector& c) { c.append_text(blobs[r]); });
    maybe(b.column(6), [&](ColumnVector& c) { c.append_int(ts[r]); });
    maybe(b.column(7), [&](ColumnVector& c) { c.append_int(days[r]); });
    maybe(b.column(8), [&](ColumnVector& c) { c.append_text(dec9[r]); });
    maybe(b.column(9), [&](ColumnVector& c) { c.append_text(dec18[r]); });
    maybe(b.column(10), [&](ColumnVector& c) { c.append_text(dec38[r]); });
    maybe(b.column(11), [&](ColumnVector& c) { c.append_text(dec_any[r]); });
    maybe(b.column(12), [&](ColumnVector& c) { c.append_text(docs[r]); });
    b.column(13).append_null();
  }
}

// Writes `bytes` to a fresh file for DuckDB; returns its path.
inline std::string save_for_duckdb(const std::string& bytes, const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir =
      std::string(base ? base : "/tmp") + "/strata-parquet-test-" + std::to_string(::getpid());
  EXPECT_TRUE(make_dirs(dir).is_ok());
  std::string path = dir + "/" + name + ".parquet";
  EXPECT_TRUE(write_file_atomic(path, bytes).is_ok());
  return path;
}

}  // namespace strata::parquet::testing

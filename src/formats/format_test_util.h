// Test helpers for the format tests: schemas and batches covering every type and edge value,
// writing batches to bytes and reading them back, and exact comparison of rows.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/checksum.h"
#include "core/schema.h"
#include "formats/format.h"
#include "formats/memory_io.h"

namespace strata::format_testing {

// One column per type; `id` first (int64, never NULL in the batches below).
inline std::shared_ptr<const Schema> all_types_schema() {
  Column dec{"amount", Type::kDecimal};
  dec.precision = 18;
  dec.scale = 3;
  return std::make_shared<Schema>(std::vector<Column>{{"id", Type::kInt64},
                                                      {"n", Type::kInt64},
                                                      {"x", Type::kDouble},
                                                      {"flag", Type::kBool},
                                                      {"name", Type::kString},
                                                      {"blob", Type::kBytes},
                                                      {"ts", Type::kTimestamp},
                                                      {"day", Type::kDate},
                                                      dec,
                                                      {"doc", Type::kJson}});
}

// Strings that stress escaping and quoting (all valid UTF-8).
inline std::vector<std::string> tricky_strings() {
  std::string controls;
  for (int c = 1; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  return {"",
          "plain",
          "with,comma",
          "with \"quotes\"",
          "\"",
          "\"\"",
          "line\nbreak",
          "crlf\r\nend",
          "lone\rcr",
          "back\\slash",
          "slash/",
          "tab\there",
          controls,
          std::string("nul\0byte", 8),
          "null",
          "NULL",
          " leading and trailing ",
          "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80",  // café 中文 😀
          "\xE2\x80\xA8\xE2\x80\xA9",                               // U+2028 U+2029
          "\x7F",
          "{\"not\": \"json\"}",
          "\\u0041"};
}

inline std::vector<double> tricky_doubles() {
  using L = std::numeric_limits<double>;
  return {0.0,           -0.0,
          0.1,           -1.5,
          1e300,         -1e-300,
          L::max(),      L::lowest(),
          L::min(),      L::denorm_min(),
          L::epsilon(),  L::quiet_NaN(),
          L::infinity(), -L::infinity(),
          123456789.125, 9007199254740993.0,
          1.0 / 3.0,     2.5e-8};
}

inline std::vector<int64_t> tricky_ints() {
  using L = std::numeric_limits<int64_t>;
  return {0, 1, -1, L::max(), L::min(), L::max() - 1, L::min() + 1, 1234567890123, -42};
}

// Timestamps (micros) that core's text form round-trips: years 0001..9999 and fractions.
inline std::vector<int64_t> tricky_timestamps() {
  return {0,
          1,
          -1,
          1793536496500000,  // 2026-11-01T12:34:56.5Z
          1793536496123456,
          -62135596800000000,  // 0001-01-01T00:00:00Z
          253402300799999999,  // 9999-12-31T23:59:59.999999Z
          -2208988800000000,   // 1900-01-01
          951782400000000};    // 2000-02-29
}

inline std::vector<int64_t> tricky_dates() { return {0, -1, 1, 20758, -719162, 2932896, 11016}; }

// `rows` rows of all_types_schema(): cycling through the tricky values, with NULLs in every
// column but id (about one in `null_every`), ids from `first_id`.
inline Batch all_types_batch(const std::shared_ptr<const Schema>& schema, size_t rows,
                             int64_t first_id = 0, uint32_t seed = 1, size_t null_every = 5) {
  std::mt19937 rng(seed);
  auto strings = tricky_strings();
  auto doubles = tricky_doubles();
  auto ints = tricky_ints();
  auto stamps = tricky_timestamps();
  auto dates = tricky_dates();
  static const char* kDecimals[] = {"0.000", "-12.340", "999999999999999.999", "1.500"};
  static const char* kDocs[] = {
      "{}", "{\"a\":[1,2,{\"b\":\"x\\\"y\"}]}", "[]", "\"s\"", "null", "{\n  \"k\": \"v,w\"\n}"};
  Batch b(schema);
  for (size_t r = 0; r < rows; ++r) {
    auto null = [&] { return null_every > 0 && rng() % null_every == 0; };
    b.column(0).append_int(first_id + static_cast<int64_t>(r));
    if (null())
      b.column(1).append_null();
    else
      b.column(1).append_int(ints[rng() % ints.size()]);
    if (null())
      b.column(2).append_null();
    else
      b.column(2).append_double(doubles[rng() % doubles.size()]);
    if (null())
      b.column(3).append_null();
    else
      b.column(3).append_bool(rng() % 2 == 0);
    if (null())
      b.column(4).append_null();
    else
      b.column(4).append_text(strings[rng() % strings.size()]);
    if (null()) {
      b.column(5).append_null();
    } else {
      std::string bytes(rng() % 7, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      b.column(5).append_text(bytes);
    }
    if (null())
      b.column(6).append_null();
    else
      b.column(6).append_int(stamps[rng() % stamps.size()]);
    if (null())
      b.column(7).append_null();
    else
      b.column(7).append_int(dates[rng() % dates.size()]);
    if (null())
      b.column(8).append_null();
    else
      b.column(8).append_text(kDecimals[rng() % 4]);
    if (null())
      b.column(9).append_null();
    else
      b.column(9).append_text(kDocs[rng() % 6]);
  }
  return b;
}

// `bytes` with 1..4 random edits: a byte replaced (often by a character that matters to JSON or
// CSV), a byte inserted, or a range deleted. For "never crashes on garbage" tests.
inline std::string mutate(const std::string& bytes, std::mt19937& rng) {
  static const char kStructural[] = "\",\n\r\\{}:[]u0";
  std::string m = bytes;
  for (int k = 0; k < 1 + static_cast<int>(rng() % 4) && !m.empty(); ++k) {
    size_t at = rng() % m.size();
    char c = rng() % 2 ? kStructural[rng() % (sizeof kStructural - 1)] : static_cast<char>(rng());
    switch (rng() % 3) {
      case 0:
        m[at] = c;
        break;
      case 1:
        m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c);
        break;
      default:
        m.erase(at, 1 + rng() % 16);
        break;
    }
  }
  return m;
}

inline FormatSpec spec_of(const std::string& format, const std::string& compression) {
  Result<FormatSpec> spec = make_format_spec(format, compression, 0);
  EXPECT_TRUE(spec.is_ok()) << spec.status().to_string();
  return *spec;
}

// Writes the batches to one file image.
inline std::string write_bytes(const FormatSpec& spec, const std::shared_ptr<const Schema>& schema,
                               const std::vector<const Batch*>& batches) {
  StringSink sink;
  auto w = open_format_writer(spec, schema, &sink);
  EXPECT_TRUE(w.is_ok()) << w.status().to_string();
  if (!w.is_ok()) return {};
  uint64_t rows = 0;
  for (const Batch* b : batches) {
    Status s = (*w)->write(*b);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    rows += b->num_rows();
  }
  Status s = (*w)->finish();
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ((*w)->rows_written(), rows);
  return sink.data();
}

// Reads a whole file image; the batches hold at most `max_rows` rows each.
inline Result<std::vector<Batch>> read_bytes(const FormatSpec& spec, std::string bytes,
                                             const ReadOptions& options, size_t max_rows = 1000,
                                             const std::string& name = "test-file") {
  StringSource source(std::move(bytes), name);
  STRATA_ASSIGN_OR_RETURN(auto reader, open_format_reader(spec, &source, options));
  std::vector<Batch> out;
  for (;;) {
    Batch b(reader->schema_ptr());
    STRATA_ASSIGN_OR_RETURN(bool more, reader->next(b, max_rows));
    if (!more) {
      EXPECT_EQ(b.num_rows(), 0u);
      break;
    }
    EXPECT_LE(b.num_rows(), max_rows);
    EXPECT_GT(b.num_rows(), 0u);
    out.push_back(std::move(b));
  }
  return out;
}

inline RowChecksum checksum_of(const std::vector<const Batch*>& batches) {
  RowChecksum c;
  for (const Batch* b : batches) c.add_batch(*b);
  return c;
}
inline RowChecksum checksum_of(const std::vector<Batch>& batches) {
  RowChecksum c;
  for (const Batch& b : batches) c.add_batch(b);
  return c;
}

// One cell, exactly: "NULL", the integer, the double's bits, or the text bytes.
inline std::string cell(const ColumnVector& col, size_t r) {
  if (col.is_null(r)) return "NULL";
  switch (col.storage()) {
    case Storage::kInt:
      return "i:" + std::to_string(col.int_at(r));
    case Storage::kDouble: {
      double d = col.double_at(r);
      if (std::isnan(d)) return "d:nan";
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      return "d:" + std::to_string(bits);
    }
    case Storage::kText:
      return "t:" + std::string(col.text_at(r));
  }
  return "?";
}

// Rows of the batches as cells, in order.
inline std::vector<std::vector<std::string>> cells_of(const std::vector<const Batch*>& batches) {
  std::vector<std::vector<std::string>> rows;
  for (const Batch* b : batches) {
    for (size_t r = 0; r < b->num_rows(); ++r) {
      std::vector<std::string> row;
      for (size_t c = 0; c < b->num_columns(); ++c) row.push_back(cell(b->column(c), r));
      rows.push_back(std::move(row));
    }
  }
  return rows;
}
inline std::vector<std::vector<std::string>> cells_of(const std::vector<Batch>& batches) {
  std::vector<const Batch*> ptrs;
  for (const Batch& b : batches) ptrs.push_back(&b);
  return cells_of(ptrs);
}

}  // namespace strata::format_testing

// DuckDB as an independent reader of every text file we write: it must see the same values
// (not just the same row count), NULLs and empty strings apart, for NDJSON and CSV, with and
// without zstd.
//
// What DuckDB needs: read_json(format='newline_delimited', columns={...}) reads our NDJSON as is
// (NaN/Infinity strings cast to DOUBLE, our timestamp text casts to TIMESTAMP, bytes arrive as
// the base64 VARCHAR: from_base64() gives the BLOB). read_csv needs allow_quoted_nulls=false so
// that "" is the empty string while an empty unquoted field is NULL (its default reads both as
// NULL); with that option DuckDB tells them apart like our reader does.
// Not covered: strings that are not valid UTF-8 (DuckDB rejects them in CSV, and reads our
// NDJSON \u0080..\u00FF escapes as the Latin-1 characters, not as bytes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/checksum.h"
#include "core/fs.h"
#include "formats/format_test_util.h"
#include "tests/support/duckdb.h"

namespace strata {
namespace {

using namespace format_testing;
using nlohmann::json;
using testing_support::duckdb_query;
using testing_support::fresh_dir;
using testing_support::sql_quote;

const char* duck_type(const Column& c) {
  switch (c.type) {
    case Type::kInt64:
      return "BIGINT";
    case Type::kDouble:
      return "DOUBLE";
    case Type::kBool:
      return "BOOLEAN";
    case Type::kTimestamp:
      return "TIMESTAMP";
    case Type::kDate:
      return "DATE";
    case Type::kDecimal:
      return "DECIMAL(18,3)";
    case Type::kString:
    case Type::kBytes:
    case Type::kJson:
      return "VARCHAR";
  }
  return "VARCHAR";
}

std::string columns_struct(const Schema& schema) {
  std::string s = "{";
  for (size_t i = 0; i < schema.size(); ++i) {
    if (i > 0) s += ", ";
    s += sql_quote(schema[i].name) + ": " + sql_quote(duck_type(schema[i]));
  }
  return s + "}";
}

std::string table_function(const FormatSpec& spec, const std::string& path, const Schema& schema) {
  if (spec.name == "ndjson") {
    return "read_json(" + sql_quote(path) +
           ", format='newline_delimited', columns=" + columns_struct(schema) + ")";
  }
  return "read_csv(" + sql_quote(path) +
         ", header=true, delim=',', quote='\"', escape='\"', allow_quoted_nulls=false, "
         "columns=" +
         columns_struct(schema) + ")";
}

// Each column in a form that compares exactly: integers and days and microseconds as text,
// doubles as DuckDB's text (parsed below), bytes as hex. Named out_<column>, so that ORDER BY
// id sorts by the column, not by its text.
std::string select_list(const Schema& schema) {
  std::string s;
  for (const Column& c : schema.columns()) {
    if (!s.empty()) s += ", ";
    const std::string q = "\"" + c.name + "\"";
    switch (c.type) {
      case Type::kInt64:
      case Type::kDecimal:
      case Type::kDouble:
        s += q + "::VARCHAR";
        break;
      case Type::kTimestamp:
        s += "epoch_us(" + q + ")::VARCHAR";
        break;
      case Type::kDate:
        s += "(" + q + " - DATE '1970-01-01')::VARCHAR";
        break;
      case Type::kBytes:
        s += "hex(from_base64(" + q + "))";
        break;
      default:
        s += q;
        break;
    }
    s += " AS \"out_" + c.name + "\"";
  }
  return s;
}

std::string upper_hex(std::string_view bytes) {
  std::string h = to_hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return h;
}

// What DuckDB should print for one cell of ours.
json expected_cell(const ColumnVector& col, Type type, size_t r) {
  if (col.is_null(r)) return nullptr;
  switch (type) {
    case Type::kInt64:
    case Type::kTimestamp:
    case Type::kDate:
      return std::to_string(col.int_at(r));
    case Type::kBool:
      return col.bool_at(r);
    case Type::kBytes:
      return upper_hex(col.text_at(r));
    case Type::kDouble:
      return "double";  // compared separately
    default:
      return std::string(col.text_at(r));
  }
}

bool same_double(double a, const std::string& duck_text) {
  double b = std::strtod(duck_text.c_str(), nullptr);
  if (std::isnan(a)) return std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void expect_duckdb_reads(const FormatSpec& spec, const std::shared_ptr<const Schema>& schema,
                         const Batch& batch) {
  std::string dir = fresh_dir("duckdb_" + spec.name);
  std::string path = dir + "/part" + file_extension(spec);
  ASSERT_TRUE(write_file_atomic(path, write_bytes(spec, schema, {&batch})).is_ok());
  Result<json> rows = duckdb_query({"SELECT " + select_list(*schema) + " FROM " +
                                    table_function(spec, path, *schema) + " ORDER BY id"});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), batch.num_rows());
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    const json& row = (*rows)[r];
    for (size_t c = 0; c < schema->size(); ++c) {
      const Column& col = (*schema)[c];
      const json& got = row["out_" + col.name];
      if (col.type == Type::kDouble && !batch.column(c).is_null(r)) {
        ASSERT_TRUE(got.is_string()) << got;
        EXPECT_TRUE(same_double(batch.column(c).double_at(r), got.get<std::string>()))
            << "row " << r << " column " << col.name << ": ours " << batch.column(c).double_at(r)
            << ", DuckDB " << got;
        continue;
      }
      EXPECT_EQ(got, expected_cell(batch.column(c), col.type, r))
          << spec.name << "/" << compression_name(spec.compression) << " row " << r << " column "
          << col.name;
    }
  }
  std::filesystem::remove_all(dir);
}

// all_types_batch, minus what DuckDB cannot take: a NUL byte inside a string.
Batch duckdb_batch(const std::shared_ptr<const Schema>& schema) {
  Batch src = all_types_batch(schema, 400, 0, 21);
  Batch b(schema);
  for (size_t r = 0; r < src.num_rows(); ++r) {
    for (size_t c = 0; c < src.num_columns(); ++c) {
      Value v = src.column(c).value_at(r);
      if (v.is_text() && v.as_text().find('\0') != std::string::npos &&
          (*schema)[c].type != Type::kBytes) {
        v = Value::of_text("no nul");
      }
      b.column(c).append_value(v);
    }
  }
  return b;
}

class DuckdbReads : public ::testing::TestWithParam<std::pair<const char*, const char*>> {
 protected:
  FormatSpec spec() const { return spec_of(GetParam().first, GetParam().second); }
};

TEST_P(DuckdbReads, EveryTypeAndEdgeValue) {
  auto schema = all_types_schema();
  expect_duckdb_reads(spec(), schema, duckdb_batch(schema));
}

TEST_P(DuckdbReads, EmptyStringsAndNullsStayApart) {
  auto schema = std::make_shared<Schema>(std::vector<Column>{
      {"id", Type::kInt64}, {"s", Type::kString}, {"b", Type::kBytes}, {"j", Type::kJson}});
  Batch b(schema);
  for (int r = 0; r < 4; ++r) {
    b.column(0).append_int(r);
    for (size_t c = 1; c < 4; ++c) {
      if ((r + static_cast<int>(c)) % 2 == 0) {
        b.column(c).append_null();
      } else {
        b.column(c).append_text("");
      }
    }
  }
  expect_duckdb_reads(spec(), schema, b);
}

TEST_P(DuckdbReads, OneMebibyteString) {
  auto schema =
      std::make_shared<Schema>(std::vector<Column>{{"id", Type::kInt64}, {"s", Type::kString}});
  std::string big;
  while (big.size() < (1 << 20)) big += "caf\xC3\xA9, \"quoted\"\nline \\ ";
  Batch b(schema);
  b.column(0).append_int(1);
  b.column(1).append_text(big);
  std::string dir = fresh_dir("duckdb_big");
  std::string path = dir + "/part" + file_extension(spec());
  ASSERT_TRUE(write_file_atomic(path, write_bytes(spec(), schema, {&b})).is_ok());
  Result<json> rows = duckdb_query({"SELECT strlen(s)::VARCHAR AS n, sha256(s) AS h FROM " +
                                    table_function(spec(), path, *schema)});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 1u);
  Sha256 sha;
  sha.update(big.data(), big.size());
  EXPECT_EQ((*rows)[0]["n"], std::to_string(big.size()));
  EXPECT_EQ((*rows)[0]["h"], sha.hex_digest());
  std::filesystem::remove_all(dir);
}

TEST_P(DuckdbReads, ZeroRowFile) {
  auto schema = all_types_schema();
  std::string dir = fresh_dir("duckdb_empty");
  std::string path = dir + "/part" + file_extension(spec());
  ASSERT_TRUE(write_file_atomic(path, write_bytes(spec(), schema, {})).is_ok());
  Result<json> rows =
      duckdb_query({"SELECT count(*)::VARCHAR AS n FROM " + table_function(spec(), path, *schema)});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  EXPECT_EQ((*rows)[0]["n"], "0");
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, DuckdbReads,
    ::testing::Values(std::make_pair("ndjson", "none"), std::make_pair("ndjson", "zstd"),
                      std::make_pair("csv", "none"), std::make_pair("csv", "zstd")),
    [](const auto& info) { return std::string(info.param.first) + "_" + info.param.second; });

}  // namespace
}  // namespace strata

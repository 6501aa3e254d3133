// DuckDB as the independent reader of the files Strata writes: values, types, NULLs, statistics,
// encodings, row groups and key-value metadata, as DuckDB sees them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "formats/parquet/parquet_test_util.h"
#include "tests/support/duckdb.h"

namespace strata::parquet {
namespace {

using strata::testing_support::duckdb_query;
using strata::testing_support::sql_quote;
using testing::all_types_schema;
using testing::fill_all_types;
using testing::kAllTypesRows;
using testing::parquet_spec;
using testing::save_for_duckdb;
using testing::write_parquet;

std::string str(const nlohmann::json& v) {
  if (v.is_null()) return "NULL";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string hex_upper(std::string_view s) {
  static const char* k = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(k[c >> 4]);
    out.push_back(k[c & 15]);
  }
  return out;
}

// A JSON value DuckDB returned as text (json_group_array and friends).
nlohmann::json parse_json_text(const nlohmann::json& v) {
  return v.is_string() ? nlohmann::json::parse(v.get<std::string>()) : v;
}

// json_group_array(json_object(...)) over `from`, as one scalar subquery.
std::string json_rows(const std::string& fields, const std::string& from) {
  return "(SELECT json_group_array(json_object(" + fields + ")) FROM " + from + ")";
}

nlohmann::json query(const std::vector<std::string>& sql) {
  auto r = duckdb_query(sql);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : nlohmann::json::array();
}

TEST(ParquetDuckDb, EveryTypeReadsBackWithTheSameValues) {
  auto schema = all_types_schema();
  Batch b(schema);
  fill_all_types(b);
  auto bytes = write_parquet(schema, {&b});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  const std::string path = save_for_duckdb(*bytes, "all_types");

  // One DuckDB run: the values, their DuckDB types, and the Parquet schema as DuckDB sees it.
  const std::string file = "read_parquet(" + sql_quote(path) + ")";
  nlohmann::json rows = query(
      {"SELECT id, i64::VARCHAR AS i64, f64::VARCHAR AS f64, flag, text, hex(blob) AS blob, "
       "epoch_us(ts)::VARCHAR AS ts, (day - DATE '1970-01-01')::VARCHAR AS day, "
       "dec9::VARCHAR AS dec9, dec18::VARCHAR AS dec18, dec38::VARCHAR AS dec38, dec_any, "
       "doc::VARCHAR AS doc, nothing, typeof(id) AS t_id, typeof(i64) AS t_i64, "
       "typeof(f64) AS t_f64, typeof(flag) AS t_flag, typeof(text) AS t_text, "
       "typeof(blob) AS t_blob, typeof(ts) AS t_ts, typeof(day) AS t_day, typeof(dec9) AS t_dec9, "
       "typeof(dec18) AS t_dec18, typeof(dec38) AS t_dec38, typeof(dec_any) AS t_dec_any, "
       "typeof(doc) AS t_doc, " +
       json_rows("'name', name, 'type', type, 'type_length', type_length, 'repetition_type', "
                 "repetition_type, 'converted_type', converted_type, 'logical_type', logical_type",
                 "parquet_schema(" + sql_quote(path) + ")") +
       " AS parquet_schema FROM " + file + " ORDER BY id"});
  ASSERT_EQ(rows.size(), static_cast<size_t>(kAllTypesRows));
  for (int r = 0; r < kAllTypesRows; ++r) {
    const nlohmann::json& row = rows[static_cast<size_t>(r)];
    SCOPED_TRACE("row " + std::to_string(r));
    EXPECT_EQ(str(row["id"]), std::to_string(r));
    const ColumnVector& f = b.column(2);
    if (f.is_null(r)) {
      EXPECT_TRUE(row["f64"].is_null());
    } else {
      // DuckDB prints the shortest round-trip form; compare the bits it parses back to.
      const std::string t = str(row["f64"]);
      const double got = std::strtod(t.c_str(), nullptr);
      const double want = f.double_at(r);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << t;
      } else {
        EXPECT_EQ(std::memcmp(&got, &want, 8), 0) << t << " vs " << want;
      }
    }
    const auto expect_text = [&](const char* col, size_t c, auto&& render) {
      if (b.column(c).is_null(r)) {
        EXPECT_TRUE(row[col].is_null()) << col;
      } else {
        EXPECT_EQ(str(row[col]), render(b.column(c))) << col;
      }
    };
    expect_text("i64", 1, [&](const ColumnVector& c) { return std::to_string(c.int_at(r)); });
    if (b.column(3).is_null(r)) {
      EXPECT_TRUE(row["flag"].is_null());
    } else {
      EXPECT_EQ(row["flag"].get<bool>(), b.column(3).bool_at(r));
    }
    expect_text("text", 4, [&](const ColumnVector& c) { return std::string(c.text_at(r)); });
    expect_text("blob", 5, [&](const ColumnVector& c) { return hex_upper(c.text_at(r)); });
    expect_text("ts", 6, [&](const ColumnVector& c) { return std::to_string(c.int_at(r)); });
    expect_text("day", 7, [&](const ColumnVector& c) { return std::to_string(c.int_at(r)); });
    expect_text("dec9", 8, [&](const ColumnVector& c) { return std::string(c.text_at(r)); });
    expect_text("dec18", 9, [&](const ColumnVector& c) { return std::string(c.text_at(r)); });
    expect_text("dec38", 10, [&](const ColumnVector& c) { return std::string(c.text_at(r)); });
    expect_text("dec_any", 11, [&](const ColumnVector& c) { return std::string(c.text_at(r)); });
    expect_text("doc", 12, [&](const ColumnVector& c) { return std::string(c.text_at(r)); });
    EXPECT_TRUE(row["nothing"].is_null());
  }

  // Types as DuckDB maps them, and the Parquet logical types behind them.
  std::map<std::string, std::string> got;
  for (const auto& [key, value] : rows[0].items()) {
    if (key.rfind("t_", 0) == 0) got[key.substr(2)] = str(value);
  }
  EXPECT_EQ(got["id"], "BIGINT");
  EXPECT_EQ(got["i64"], "BIGINT");
  EXPECT_EQ(got["f64"], "DOUBLE");
  EXPECT_EQ(got["flag"], "BOOLEAN");
  EXPECT_EQ(got["text"], "VARCHAR");
  EXPECT_EQ(got["blob"], "BLOB");
  EXPECT_EQ(got["ts"], "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(got["day"], "DATE");
  EXPECT_EQ(got["dec9"], "DECIMAL(9,2)");
  EXPECT_EQ(got["dec18"], "DECIMAL(18,4)");
  EXPECT_EQ(got["dec38"], "DECIMAL(38,10)");
  EXPECT_EQ(got["dec_any"], "VARCHAR");
  EXPECT_EQ(got["doc"], "JSON");

  const nlohmann::json schema_rows = parse_json_text(rows[0]["parquet_schema"]);
  std::map<std::string, nlohmann::json> el;
  for (const auto& e : schema_rows) el[str(e["name"])] = e;
  EXPECT_EQ(str(el["id"]["repetition_type"]), "REQUIRED");
  EXPECT_EQ(str(el["i64"]["repetition_type"]), "OPTIONAL");
  EXPECT_EQ(str(el["ts"]["type"]), "INT64");
  EXPECT_NE(str(el["ts"]["logical_type"]).find("isAdjustedToUTC=1"), std::string::npos);
  EXPECT_NE(str(el["ts"]["logical_type"]).find("MICROS=MicroSeconds()"), std::string::npos);
  EXPECT_EQ(str(el["day"]["type"]), "INT32");
  EXPECT_EQ(str(el["day"]["converted_type"]), "DATE");
  EXPECT_EQ(str(el["dec9"]["type"]), "INT32");
  EXPECT_EQ(str(el["dec18"]["type"]), "INT64");
  EXPECT_EQ(str(el["dec38"]["type"]), "FIXED_LEN_BYTE_ARRAY");
  EXPECT_EQ(str(el["dec38"]["type_length"]), "16");
  EXPECT_NE(str(el["dec38"]["logical_type"]).find("DecimalType"), std::string::npos);
  EXPECT_NE(str(el["text"]["logical_type"]).find("StringType"), std::string::npos);
  EXPECT_NE(str(el["doc"]["logical_type"]).find("JsonType"), std::string::npos);
  EXPECT_EQ(str(el["blob"]["logical_type"]), "NULL");
  EXPECT_EQ(str(el["blob"]["type"]), "BYTE_ARRAY");
}

// Builds n rows: id (sequential), low-cardinality city, high-cardinality note with NULLs.
std::shared_ptr<const Schema> stats_schema() {
  return std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64, false},
                                                            {"city", Type::kString},
                                                            {"note", Type::kString},
                                                            {"score", Type::kDouble}});
}

void fill_stats_rows(Batch& b, int64_t first, int64_t n) {
  static const char* kCities[] = {"apple", "Zebra",
                                  "\xC3\xA9"
                                  "clair",
                                  "mango"};
  for (int64_t i = first; i < first + n; ++i) {
    b.column(0).append_int(i - 50);
    b.column(1).append_text(kCities[i % 4]);
    if (i % 10 == 3) {
      b.column(2).append_null();
    } else {
      b.column(2).append_text("note-" + std::to_string(i * 7919 % 100003));
    }
    b.column(3).append_double(i % 5 == 0 ? -0.0 : static_cast<double>(i % 97) - 10.5);
  }
}

// Integer pages written DELTA_BINARY_PACKED (keys, timestamps, dates, decimals, wrapping deltas
// between the extremes of INT64 and of DATE's INT32, NULLs between them), value for value as
// DuckDB reads them, and as Strata's own reader does.
TEST(ParquetDuckDb, DeltaEncodedIntegersReadBackExactly) {
  auto schema =
      std::make_shared<const Schema>(std::vector<Column>{{"k", Type::kInt64, false},
                                                         {"ts", Type::kTimestamp},
                                                         {"wide", Type::kInt64},
                                                         {"day", Type::kDate},
                                                         {"amount", Type::kDecimal, true, 18, 2}});
  Batch b(schema);
  constexpr int kRows = 70000;  // more than one page of 65,536 values
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (int i = 0; i < kRows; ++i) {
    b.column(0).append_int(1000000 + 3 * int64_t{i});
    if (i % 17 == 5) {
      b.column(1).append_null();
    } else {
      b.column(1).append_int(1700000000000000 + int64_t{i} * 1000003 + (i * 7919) % 1000);
    }
    if (i % 5 == 4) {
      b.column(2).append_null();
    } else {
      b.column(2).append_int(i % 2 ? kMin + i : kMax - i);
    }
    b.column(3).append_int(i % 3 == 0 ? -2147483647 + i : 2147483647 - i);
    std::string amount;
    append_decimal(amount, static_cast<int128>(i) * 101 - 3500000, 2);
    b.column(4).append_text(amount);
  }
  ParquetWriterTuning tuning;
  tuning.dictionary_limit_bytes = 1024;  // every column outgrows it
  auto bytes = write_parquet(schema, {&b}, parquet_spec(), {}, tuning);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  const std::string path = save_for_duckdb(*bytes, "delta");

  std::string want;
  for (int i = 0; i < kRows; ++i) {
    const auto cell = [&](size_t c) {
      const ColumnVector& v = b.column(c);
      if (v.is_null(i)) return std::string("N");
      return c == 4 ? std::string(v.text_at(i)) : std::to_string(v.int_at(i));
    };
    want += cell(0) + "|" + cell(1) + "|" + cell(2) + "|" + cell(3) + "|" + cell(4) + ";";
  }
  nlohmann::json r = query(
      {"SELECT string_agg(k::VARCHAR || '|' || coalesce(epoch_us(ts)::VARCHAR, 'N') || '|' || "
       "coalesce(wide::VARCHAR, 'N') || '|' || "
       "coalesce((day - DATE '1970-01-01')::VARCHAR, 'N') || '|' || "
       "coalesce(amount::VARCHAR, 'N'), ';' ORDER BY k) || ';' AS v, " +
       json_rows("'path_in_schema', path_in_schema, 'encodings', encodings",
                 "parquet_metadata(" + sql_quote(path) + ")") +
       " AS meta FROM read_parquet(" + sql_quote(path) + ")"});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(str(r[0]["v"]) == want) << "DuckDB read different values";
  for (const auto& m : parse_json_text(r[0]["meta"])) {
    EXPECT_NE(str(m["encodings"]).find("DELTA_BINARY_PACKED"), std::string::npos)
        << str(m["path_in_schema"]);
  }
  auto back = testing::read_parquet(*bytes, {}, /*keep_rows=*/false, 4096);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->checksum.rows(), static_cast<uint64_t>(kRows));
  EXPECT_TRUE(back->checksum == testing::checksum_of({&b}));
}

TEST(ParquetDuckDb, StatisticsAndEncodingsInParquetMetadata) {
  auto schema = stats_schema();
  Batch b(schema);
  fill_stats_rows(b, 0, 3000);
  ParquetWriterTuning tuning;
  tuning.dictionary_limit_bytes = 4096;  // note outgrows it; city never does
  auto bytes = write_parquet(schema, {&b}, parquet_spec(), {{"owner", "tests"}}, tuning);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  const std::string path = save_for_duckdb(*bytes, "stats");

  std::string cities;
  for (int i = 0; i < 3000; ++i) {
    if (i) cities += ",";
    cities += std::string(b.column(1).text_at(i));
  }
  // One DuckDB run: column chunk metadata, key-value metadata and aggregates of the values.
  nlohmann::json agg = query(
      {"SELECT count(*) AS n, count(note) AS notes, sum(id)::VARCHAR AS s, "
       "string_agg(city, ',' ORDER BY id) = " +
       sql_quote(cities) + " AS cities_ok, " +
       json_rows("'path_in_schema', path_in_schema, 'encodings', encodings, 'stats_min_value', "
                 "stats_min_value, 'stats_max_value', stats_max_value, 'stats_null_count', "
                 "stats_null_count, 'dictionary_page_offset', dictionary_page_offset, "
                 "'compression', compression",
                 "parquet_metadata(" + sql_quote(path) + ")") +
       " AS meta, " +
       json_rows("'k', decode(key), 'v', decode(value)",
                 "parquet_kv_metadata(" + sql_quote(path) + ")") +
       " AS kv FROM read_parquet(" + sql_quote(path) + ")"});
  ASSERT_EQ(agg.size(), 1u);
  const nlohmann::json meta = parse_json_text(agg[0]["meta"]);
  ASSERT_EQ(meta.size(), 4u);
  std::map<std::string, nlohmann::json> col;
  for (const auto& m : meta) col[str(m["path_in_schema"])] = m;
  EXPECT_EQ(str(col["id"]["stats_min_value"]), "-50");
  EXPECT_EQ(str(col["id"]["stats_max_value"]), "2949");
  EXPECT_EQ(str(col["id"]["stats_null_count"]), "0");
  EXPECT_EQ(str(col["id"]["compression"]), "ZSTD");
  // id outgrew the 4 KiB dictionary; as consecutive integers its deltas take no bits at all.
  EXPECT_NE(str(col["id"]["encodings"]).find("DELTA_BINARY_PACKED"), std::string::npos);
  // Unsigned byte order: "Zebra" < "apple" < "mango" < "\xC3\xA9clair".
  EXPECT_EQ(str(col["city"]["stats_min_value"]), "Zebra");
  EXPECT_EQ(str(col["city"]["stats_max_value"]),
            "\xC3\xA9"
            "clair");
  EXPECT_NE(str(col["city"]["encodings"]).find("RLE_DICTIONARY"), std::string::npos);
  EXPECT_FALSE(col["city"]["dictionary_page_offset"].is_null());
  EXPECT_EQ(str(col["note"]["stats_null_count"]), "300");
  // note fell back to PLAIN after its dictionary passed 4 KiB.
  EXPECT_NE(str(col["note"]["encodings"]).find("PLAIN"), std::string::npos);
  EXPECT_EQ(str(col["score"]["stats_min_value"]), "-10.5");
  EXPECT_EQ(str(col["score"]["stats_max_value"]), "85.5");

  EXPECT_EQ(str(agg[0]["n"]), "3000");
  EXPECT_EQ(str(agg[0]["notes"]), "2700");
  EXPECT_EQ(str(agg[0]["s"]), std::to_string(2999 * 3000 / 2 - 50 * 3000));
  EXPECT_EQ(agg[0]["cities_ok"], true);

  const nlohmann::json kv = parse_json_text(agg[0]["kv"]);
  std::map<std::string, std::string> kvs;
  for (const auto& e : kv) kvs[str(e["k"])] = str(e["v"]);
  EXPECT_EQ(kvs["strata.version"], "0.1.0");
  EXPECT_EQ(kvs["owner"], "tests");
  EXPECT_NE(kvs["strata.schema"].find("\"city\""), std::string::npos);
}

TEST(ParquetDuckDb, ManyRowGroupsAndPagesEveryCodec) {
  auto schema = stats_schema();
  std::vector<Batch> batches;
  std::vector<const Batch*> ptrs;
  for (int k = 0; k < 5; ++k) batches.emplace_back(schema);
  int64_t chars = 0;
  double score = 0;
  for (int k = 0; k < 5; ++k) {
    Batch& bb = batches[static_cast<size_t>(k)];
    fill_stats_rows(bb, k * 4000, 4000);
    ptrs.push_back(&bb);
    for (size_t i = 0; i < bb.num_rows(); ++i) {
      if (!bb.column(2).is_null(i)) chars += static_cast<int64_t>(bb.column(2).text_at(i).size());
      score += bb.column(3).double_at(i);
    }
  }
  const std::pair<Compression, const char*> codecs[] = {{Compression::kNone, "UNCOMPRESSED"},
                                                        {Compression::kSnappy, "SNAPPY"},
                                                        {Compression::kGzip, "GZIP"},
                                                        {Compression::kZstd, "ZSTD"}};
  std::string sql;
  for (const auto& [c, codec] : codecs) {
    FormatSpec spec = parquet_spec(c);
    spec.page_bytes = 4096;
    spec.row_group_bytes = 16 << 10;
    auto bytes = write_parquet(schema, ptrs, spec);
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    const std::string path = save_for_duckdb(*bytes, std::string("groups_") + codec);
    if (!sql.empty()) sql += " UNION ALL ";
    sql += "SELECT " + sql_quote(codec) +
           " AS want, (SELECT count(DISTINCT row_group_id) FROM "
           "parquet_metadata(" +
           sql_quote(path) +
           ")) AS groups, (SELECT max(compression) FROM "
           "parquet_metadata(" +
           sql_quote(path) +
           ")) AS codec, (SELECT max(num_values) FROM "
           "parquet_metadata(" +
           sql_quote(path) +
           ")) AS group_rows, count(*) AS n, "
           "sum(id)::VARCHAR AS s, count(note) AS notes, sum(length(note))::VARCHAR AS note_chars, "
           "sum(score) AS score FROM read_parquet(" +
           sql_quote(path) + ")";
  }
  nlohmann::json r = query({sql});
  ASSERT_EQ(r.size(), 4u);
  for (const auto& row : r) {
    SCOPED_TRACE(str(row["want"]));
    EXPECT_EQ(str(row["codec"]), str(row["want"]));
    EXPECT_GT(std::stoi(str(row["groups"])), 1);
    EXPECT_EQ(str(row["n"]), "20000");
    EXPECT_EQ(str(row["s"]), std::to_string(19999LL * 20000 / 2 - 50LL * 20000));
    EXPECT_EQ(str(row["notes"]), "18000");
    EXPECT_EQ(str(row["note_chars"]), std::to_string(chars));
    EXPECT_NEAR(row["score"].get<double>(), score, 1e-6);
  }
}

TEST(ParquetDuckDb, ZeroRowFileAndAllNullColumn) {
  auto schema = all_types_schema();
  Batch empty(schema);
  auto bytes = write_parquet(schema, {&empty});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  const std::string path = save_for_duckdb(*bytes, "zero_rows");
  nlohmann::json r =
      query({"SELECT count(*) AS n, (SELECT count(*) FROM (DESCRIBE SELECT * FROM "
             "read_parquet(" +
             sql_quote(path) + "))) AS cols FROM read_parquet(" + sql_quote(path) + ")"});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(str(r[0]["n"]), "0");
  EXPECT_EQ(str(r[0]["cols"]), std::to_string(schema->size()));

  auto nulls_schema = std::make_shared<const Schema>(std::vector<Column>{
      {"a", Type::kInt64}, {"b", Type::kString}, {"c", Type::kDecimal, true, 20, 3}});
  Batch b(nulls_schema);
  for (int i = 0; i < 5000; ++i) {
    for (size_t c = 0; c < 3; ++c) b.column(c).append_null();
  }
  bytes = write_parquet(nulls_schema, {&b});
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  const std::string npath = save_for_duckdb(*bytes, "all_null");
  r =
      query({"SELECT count(*) AS n, count(a) AS a, count(b) AS b, count(c) AS c, "
             "(SELECT max(stats_null_count) FROM parquet_metadata(" +
             sql_quote(npath) + ")) AS nulls FROM read_parquet(" + sql_quote(npath) + ")"});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(str(r[0]["n"]), "5000");
  EXPECT_EQ(str(r[0]["a"]), "0");
  EXPECT_EQ(str(r[0]["b"]), "0");
  EXPECT_EQ(str(r[0]["c"]), "0");
  EXPECT_EQ(str(r[0]["nulls"]), "5000");
}

// Strata's reader on a file DuckDB wrote (another writer's page layout, PLAIN_DICTIONARY pages).
TEST(ParquetDuckDb, StrataReadsDuckDbFiles) {
  const std::string path = save_for_duckdb("", "from_duckdb");
  query(
      {"COPY (SELECT i AS id, CASE WHEN i % 7 = 0 THEN NULL ELSE 'v' || (i % 13) END AS s, "
       "i / 4.0 AS d, (i % 3 = 0) AS b, DATE '2020-01-01' + i::INTEGER AS day, "
       "(i * 1.25)::DECIMAL(12,2) AS price FROM range(3000) t(i)) TO " +
           sql_quote(path) + " (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1000)",
       "SELECT 1"});
  auto bytes = read_file(path);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  auto r = testing::read_parquet(*bytes);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->rows.size(), 3000u);
  for (int64_t i = 0; i < 3000; ++i) {
    const auto& row = r->rows[static_cast<size_t>(i)];
    ASSERT_EQ(row[0].as_int(), i);
    if (i % 7 == 0) {
      EXPECT_TRUE(row[1].is_null());
    } else {
      EXPECT_EQ(row[1].as_text(), "v" + std::to_string(i % 13));
    }
    EXPECT_EQ(row[2].as_double(), static_cast<double>(i) / 4.0);
    EXPECT_EQ(row[3].as_int(), i % 3 == 0 ? 1 : 0);
    EXPECT_EQ(row[4].as_int(), days_from_civil(2020, 1, 1) + i);
    std::string price;
    append_decimal(price, static_cast<int128>(i) * 125, 2);
    EXPECT_EQ(row[5].as_text(), price);
  }
  EXPECT_EQ((*r->schema)[5].type, Type::kDecimal);
  EXPECT_EQ((*r->schema)[5].precision, 12);
}

}  // namespace
}  // namespace strata::parquet

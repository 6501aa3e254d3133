// Every column type the PostgreSQL and MariaDB connectors map round-trips end to end: rows with
// typical values, extremes and NULLs are archived by the strata binary into Parquet files and into
// a cold table of the same store kind. The Parquet values, read by DuckDB, must equal what the
// server itself says the source values are; the cold table must hold the same values, compared
// by the server. Also: a composite primary key, and a column of a type Strata cannot store (the
// run fails naming it; excluding it makes the run succeed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/e2e/e2e_support.h"
#include "tests/e2e/sql_support.h"

namespace strata::e2e {
namespace {

using testing_support::fresh_dir;

// One column of a type table. `server` and `duck` are expressions ("$" = the column) that show
// a value as the same text: `server` in the source store (also used on the cold table), `duck` in
// DuckDB over the Parquet file. Both are NULL for a NULL value.
struct TypeColumn {
  std::string name;
  std::string type;        // in CREATE TABLE
  std::string server;      // e.g. "$::text"
  std::string duck;        // e.g. "CAST($ AS VARCHAR)"
  std::string duck_type;   // DuckDB's type of the archived column (typeof)
  bool as_double = false;  // compare as doubles parsed from both texts, bit for bit
};

std::string subst(const std::string& pattern, const std::string& column) {
  std::string out;
  for (char c : pattern) {
    if (c == '$') {
      out += column;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& row) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t bar = row.find('|', start);
    out.push_back(row.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) return out;
    start = bar + 1;
  }
}

std::string shorten(const std::string& s) {
  return s.size() <= 160 ? s : s.substr(0, 120) + "... (" + std::to_string(s.size()) + " chars)";
}

bool same_double(const std::string& a, const std::string& b) {
  if (a == "NULL" || b == "NULL") return a == b;
  char* end_a = nullptr;
  char* end_b = nullptr;
  double x = std::strtod(a.c_str(), &end_a);
  double y = std::strtod(b.c_str(), &end_b);
  if (*end_a != '\0' || *end_b != '\0') return false;
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  return std::memcmp(&x, &y, sizeof x) == 0;
}

// Rows "id|v1|v2|..." of `want` and `got` agree value by value; each difference is reported with
// its row id and column name.
void expect_same_values(const std::vector<std::string>& want, const std::vector<std::string>& got,
                        const std::vector<TypeColumn>& cols, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what << ": row count";
  for (size_t r = 0; r < want.size(); ++r) {
    std::vector<std::string> w = split(want[r]);
    std::vector<std::string> g = split(got[r]);
    ASSERT_EQ(w.size(), cols.size() + 1) << what << ": " << shorten(want[r]);
    ASSERT_EQ(g.size(), cols.size() + 1) << what << ": " << shorten(got[r]);
    EXPECT_EQ(w[0], g[0]) << what << ": row ids differ";
    for (size_t c = 0; c < cols.size(); ++c) {
      bool same = cols[c].as_double ? same_double(w[c + 1], g[c + 1]) : w[c + 1] == g[c + 1];
      EXPECT_TRUE(same) << what << ": id " << w[0] << " column " << cols[c].name << " ("
                        << cols[c].type << "): source shows '" << shorten(w[c + 1]) << "', got '"
                        << shorten(g[c + 1]) << "'";
    }
  }
}

// "id|<server expressions>" of every row of `table`, by id.
std::vector<std::string> server_values(const Store& s, const std::string& table,
                                       const std::vector<TypeColumn>& cols) {
  std::string sql = s.pg() ? "SET IntervalStyle = 'iso_8601'; SET DateStyle = 'ISO'; SET TimeZone "
                             "= 'UTC'; SELECT id"
                           : "SELECT id";
  for (const TypeColumn& c : cols) {
    sql += ", CASE WHEN " + c.name + " IS NULL THEN NULL ELSE " + subst(c.server, c.name) + " END";
  }
  return s.query(sql + " FROM " + table + " ORDER BY id");
}

std::string write_policy(const std::string& dir, const Store& s, const std::string& name,
                         const std::string& table, const std::string& key,
                         const std::string& key_below, const std::string& cold_table,
                         const std::string& exclude, const std::string& mode) {
  return write_file(dir + "/" + name + ".yaml",
                    "name: " + name + "\nsource: {uri: '" + s.strata_uri() + "', table: " + table +
                        ", key: '" + key + "'" +
                        (exclude.empty() ? "" : ", exclude: '" + exclude + "'") +
                        "}\n"
                        "selection: {key_below: '" +
                        key_below +
                        "'}\n"
                        "split: {shard_rows: 4, parallel: 2}\n"
                        "batch: {rows: 3}\n"
                        "targets:\n"
                        "  - {uri: file://archive, format: parquet}\n"
                        "  - {uri: '" +
                        s.strata_uri("?table=" + cold_table) + "'}\nmode: " + mode + "\n");
}

void compare_with_source(const Store& s, const std::string& table, const std::string& copy,
                         const std::vector<TypeColumn>& cols, const std::vector<std::string>& want);

// Creates `table` (id bigint key + `cols`), runs `inserts`, archives every row (copy mode) into
// Parquet and `cold_table`, and compares the archive and the cold table with the source.
void round_trip(const Store& s, const std::string& dir, const std::string& table,
                const std::vector<TypeColumn>& cols, const std::vector<std::string>& inserts,
                const std::string& cold_table) {
  std::string ddl = "CREATE TABLE " + table + " (id bigint PRIMARY KEY";
  for (const TypeColumn& c : cols) ddl += ", " + c.name + " " + c.type;
  s.query(ddl + ")");
  for (const std::string& sql : inserts) s.query(sql);
  const std::vector<std::string> want = server_values(s, table, cols);
  ASSERT_EQ(want.size(), inserts.size());

  write_policy(dir, s, "types", table, "id", "1000000", cold_table, "", "copy");
  auto r = run_strata({"run", "types.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["state"], "succeeded");
  EXPECT_EQ(report["rows"].get<size_t>(), want.size());

  // Parquet, read by DuckDB: each column's type, then every value.
  std::vector<std::string> types, exprs{"CAST(id AS VARCHAR)"};
  for (const TypeColumn& c : cols) {
    types.push_back("typeof(" + c.name + ")");
    exprs.push_back(subst(c.duck, c.name));
  }
  std::vector<std::string> got_types = duckdb_rows(dir + "/archive", types, "LIMIT 1");
  ASSERT_EQ(got_types.size(), 1u);
  std::vector<std::string> type_names = split(got_types[0]);
  ASSERT_EQ(type_names.size(), cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    EXPECT_EQ(type_names[c], cols[c].duck_type)
        << "Parquet type of " << cols[c].name << " (" << cols[c].type << ")";
  }
  expect_same_values(want, duckdb_rows(dir + "/archive", exprs, "ORDER BY id"), cols, "parquet");

  // Restore the Parquet archive into a new table of the same server.
  const std::string dataset = table.substr(table.find('.') + 1);
  const std::string restored = cold_table + "_restored";
  auto back = run_strata({"restore", "archive", "--dataset", dataset, "--into",
                          s.strata_uri("?table=" + restored), "--json"},
                         dir);
  ASSERT_EQ(back.exit_code, 0) << back.err << back.out;
  EXPECT_EQ(nlohmann::json::parse(back.out)["rows_inserted"].get<size_t>(), want.size());

  for (const std::string& copy : {cold_table, restored}) {
    SCOPED_TRACE(copy);
    compare_with_source(s, table, copy, cols, want);
  }
}

// `copy` (a cold table or a restored one) has the source table's column types and values.
void compare_with_source(const Store& s, const std::string& table, const std::string& copy,
                         const std::vector<TypeColumn>& cols, const std::vector<std::string>& want) {
  const std::string& cold_table = copy;
  // Same column types (same store kind), same values.
  expect_same_values(want, server_values(s, cold_table, cols), cols, "table " + cold_table);
  auto types_of = [&](const std::string& t) {
    if (s.pg()) {
      return s.query(
          "SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
          "attrelid = '" +
          t + "'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum");
    }
    return s.query(
        "SELECT CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE) FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '" +
        t + "' ORDER BY ORDINAL_POSITION");
  };
  EXPECT_EQ(types_of(table), types_of(cold_table));
  // And the server's own equality, both ways (json has no equality operator: as text).
  std::string list = "id";
  for (const TypeColumn& c : cols)
    list += ", " + (c.type == "json" && s.pg() ? c.name + "::text" : c.name);
  for (auto [a, b] : {std::pair{table, cold_table}, std::pair{cold_table, table}}) {
    auto n = s.query("SELECT count(*) FROM (SELECT " + list + " FROM " + a + " EXCEPT SELECT " +
                     list + " FROM " + b + ") d");
    EXPECT_EQ(n, std::vector<std::string>{"0"}) << "rows of " << a << " missing from " << b;
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

// Text-like values as the hex of the UTF-8 bytes of the server's own output (format '%s' calls
// the type's output function: char(n) keeps its padding).
const char* kPgHex = "encode(convert_to(format('%s', $), 'UTF8'), 'hex')";
const char* kDuckHex = "lower(hex(CAST($ AS VARCHAR)))";
const char* kPgText = "$::text";
const char* kDuckText = "CAST($ AS VARCHAR)";
const char* kPgMicros = "(extract(epoch from $) * 1000000)::bigint::text";
const char* kDuckMicros = "CAST(epoch_us($) AS VARCHAR)";

std::vector<TypeColumn> pg_columns() {
  return {
      {"c_int2", "smallint", kPgText, kDuckText, "BIGINT"},
      {"c_int4", "integer", kPgText, kDuckText, "BIGINT"},
      {"c_int8", "bigint", kPgText, kDuckText, "BIGINT"},
      {"c_oid", "oid", kPgText, kDuckText, "BIGINT"},
      {"c_num", "numeric(12,3)", kPgText, kDuckText, "DECIMAL(12,3)"},
      {"c_num38", "numeric(38,10)", kPgText, kDuckText, "DECIMAL(38,10)"},
      {"c_numu", "numeric", kPgText, kDuckText, "VARCHAR"},
      {"c_real", "real", kPgText, kDuckText, "DOUBLE", true},
      {"c_double", "double precision", kPgText, kDuckText, "DOUBLE", true},
      {"c_text", "text", kPgHex, kDuckHex, "VARCHAR"},
      {"c_varchar", "varchar(20)", kPgHex, kDuckHex, "VARCHAR"},
      {"c_char", "char(5)", kPgHex, kDuckHex, "VARCHAR"},
      {"c_char1", "\"char\"", kPgHex, kDuckHex, "VARCHAR"},
      {"c_name", "name", kPgHex, kDuckHex, "VARCHAR"},
      {"c_citext", "citext", kPgHex, kDuckHex, "VARCHAR"},
      {"c_bytea", "bytea", "encode($, 'hex')", "lower(hex($))", "BLOB"},
      {"c_bool", "boolean", kPgText, kDuckText, "BOOLEAN"},
      {"c_date", "date", "($ - date '1970-01-01')::text", "CAST($ - DATE '1970-01-01' AS VARCHAR)",
       "DATE"},
      {"c_time", "time", kPgText, kDuckText, "VARCHAR"},
      {"c_timetz", "timetz", kPgText, kDuckText, "VARCHAR"},
      {"c_ts", "timestamp", kPgMicros, kDuckMicros, "TIMESTAMP WITH TIME ZONE"},
      {"c_tstz", "timestamptz", kPgMicros, kDuckMicros, "TIMESTAMP WITH TIME ZONE"},
      {"c_interval", "interval", kPgText, kDuckText, "VARCHAR"},
      {"c_json", "json", kPgHex, kDuckHex, "JSON"},
      {"c_jsonb", "jsonb", kPgHex, kDuckHex, "JSON"},
      {"c_uuid", "uuid", kPgText, kDuckText, "VARCHAR"},
      {"c_enum", "mood", kPgHex, kDuckHex, "VARCHAR"},
      {"c_domain", "price", kPgText, kDuckText, "DECIMAL(10,2)"},
      {"c_inet", "inet", kPgText, kDuckText, "VARCHAR"},
      {"c_cidr", "cidr", kPgText, kDuckText, "VARCHAR"},
      {"c_macaddr", "macaddr", kPgText, kDuckText, "VARCHAR"},
      {"c_macaddr8", "macaddr8", kPgText, kDuckText, "VARCHAR"},
      // Arrays are archived as JSON arrays: the server's JSON text of the array.
      {"c_ints", "int[]", "encode(convert_to(to_json($)::text, 'UTF8'), 'hex')", kDuckHex, "JSON"},
      {"c_texts", "text[]", "encode(convert_to(to_json($)::text, 'UTF8'), 'hex')", kDuckHex,
       "JSON"},
  };
}

TEST(SqlTypes, PostgresEveryMappedTypeRoundTrips) {
  Store s("pg", server_uri("pg"), "e2e_types_pg");
  s.create_database();
  s.query("CREATE EXTENSION IF NOT EXISTS citext");
  s.query("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy ☺')");
  s.query("CREATE DOMAIN price AS numeric(10,2) CHECK (VALUE >= 0)");
  const std::string cols =
      "INSERT INTO types (id, c_int2, c_int4, c_int8, c_oid, c_num, c_num38, c_numu, c_real, "
      "c_double, c_text, c_varchar, c_char, c_char1, c_name, c_citext, c_bytea, c_bool, c_date, "
      "c_time, c_timetz, c_ts, c_tstz, c_interval, c_json, c_jsonb, c_uuid, c_enum, c_domain, "
      "c_inet, c_cidr, c_macaddr, c_macaddr8, c_ints, c_texts) VALUES ";
  std::vector<std::string> inserts = {
      // Typical values.
      cols +
          "(1, 12, 123456, 1234567890123, 42, 1234.5, 3.14159, 1.50, 0.1, 0.1, 'hello', 'world', "
          "'ab', 'x', 'pg_name', 'MiXeD', '\\x0102ff', true, '2024-02-29', '13:45:30.123456', "
          "'13:45:30.5+05:30', '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012+02', "
          "'1 year 2 mons 3 days 04:05:06.789', '{\"a\": [1, 2.50, \"x\"],  \"b\" : null}', "
          "'{\"b\": 1, \"a\": [true, null, \"é\"]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
          "'ok', 19.99, '192.168.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', "
          "'08:00:2b:01:02:03:04:05', '{1,2,NULL,4}', '{\"a,b\",\"q\\\"x\",NULL,\"\"}')",
      // Largest values.
      cols +
          "(2, 32767, 2147483647, 9223372036854775807, 4294967295, 999999999.999, "
          "9999999999999999999999999999.9999999999, "
          "123456789012345678901234567890.000000000000000000001, 3.4028235e38, "
          "1.7976931348623157e308, repeat('ab日🎉', 60000), repeat('é', 20), 'abcde', '~', "
          "repeat('n', 63), repeat('Z', 10000), decode(repeat('00ff', 50000), 'hex'), true, "
          "'9999-12-31', '24:00:00', '23:59:59.999999-15:59', '9999-12-31 23:59:59.999999', "
          "'9999-12-31 23:59:59.999999+00', '178000000 years 11 mons 30 days 23:59:59.999999', "
          "'[1e400, -0, 123456789012345678901234567890]', "
          "'{\"deep\": {\"er\": [[[[1]]]]}, \"n\": 1.000000000000000000001}', "
          "'ffffffff-ffff-ffff-ffff-ffffffffffff', 'happy ☺', 99999999.99, "
          "'2001:db8::ff00:42:8329/128', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', "
          "'ff:ff:ff:ff:ff:ff:ff:ff', '{2147483647,-2147483648}', '{\"日本\",\"🎉\"}')",
      // Smallest values, zeros and empties (empty strings are not NULL).
      cols +
          "(3, -32768, -2147483648, -9223372036854775808, 0, -999999999.999, "
          "-9999999999999999999999999999.9999999999, -0.000000000000000000000000000001, -0, "
          "4.9e-324, '', '', '', '', '', '', '\\x', false, '0001-01-01', '00:00:00', "
          "'00:00:00+15:59', '0001-01-01 00:00:00', '0001-01-01 00:00:00+00', '-1 years -2 mons "
          "+3 days -04:05:06.789', '[]', '{}', '00000000-0000-0000-0000-000000000000', 'sad', 0, "
          "'0.0.0.0/0', '0.0.0.0/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00', '{}', "
          "'{}')",
      // Text that needs care: quotes, backslashes, control characters, bytes with 0x00.
      cols +
          "(4, 0, 0, 0, 1, 0, 0, 100000000, 1.17549435e-38, -2.2250738585072014e-308, "
          "E'tab\\there\\nnew line\\r\\\\ \\'quoted\\' \"dq\" |bar|', E'\\u00e9\\u0301 "
          "\\U0001F600', 'é日', '''', E'a\\tb', E'Ünï \\\\ \\n', '\\x00000001000a0d5c27', "
          "false, '1970-01-01', '12:00:00.000001', '12:00:00.000001-00', '1970-01-01 00:00:00', "
          "'1969-12-31 23:59:59.999999+00', 'PT0.000001S', "
          "'\"a string with \\u0000 and \\n escapes\"', '[\"\\u00e9\", \"|\", \"\\\\\"]', "
          "'123e4567-e89b-12d3-a456-426614174000', 'ok', 0.01, '::1', '::ffff:1.2.3.0/120', "
          "'01:02:03:04:05:06', '01:02:03:04:05:06:07:08', '{{1,2},{3,4}}', "
          "E'{\"multi\\nline\",\"tab\\there\",\"{}\",\"NULL\"}')",
      // Special floats; a date before the Common Era.
      "INSERT INTO types (id, c_real, c_double, c_date, c_ts, c_numu) VALUES (5, 'NaN', "
      "'Infinity', '0044-03-15 BC', '1900-01-01 00:00:00.5', 1e-30)",
      "INSERT INTO types (id, c_real, c_double, c_date, c_numu) VALUES (6, '-Infinity', 'NaN', "
      "'2000-01-01', 12345678901234567890123456789012345678901234567890)",
      // NULL in every column.
      "INSERT INTO types (id) VALUES (7)",
  };
  std::string dir = fresh_dir("pg-types");
  round_trip(s, dir, "types", pg_columns(), inserts, "cold.types");
  if (!HasFailure()) s.drop_database();  // kept for a look when something differs
}

// PostgreSQL timestamps go to year 294276, Strata's (int64 microseconds since 1970) to 294247: a
// later one stops the run with an error naming the column, instead of wrapping around.
TEST(SqlTypes, PostgresTimestampPastStrataRangeFailsNamingTheColumn) {
  Store s("pg", server_uri("pg"), "e2e_types_pg_far");
  s.create_database();
  s.query("CREATE TABLE far (id bigint PRIMARY KEY, ts timestamp)");
  s.query("INSERT INTO far VALUES (1, '2024-01-01'), (2, '294276-12-31 23:59:59.999999')");
  std::string dir = fresh_dir("pg-far");
  write_policy(dir, s, "far", "far", "id", "100", "cold.far", "", "move");
  auto r = run_strata({"run", "far.yaml"}, dir);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("column 'ts'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("after 294247-01-10"), std::string::npos) << r.err;
  EXPECT_EQ(s.count("far"), 2);
  s.drop_database();
}

// ---------------------------------------------------------------------------------------------
// MariaDB

const char* kMyHex = "HEX($)";
const char* kDuckHexUpper = "hex(CAST($ AS VARCHAR))";
const char* kMyText = "CAST($ AS CHAR)";

std::vector<TypeColumn> mysql_columns() {
  return {
      {"c_tiny", "tinyint", kMyText, kDuckText, "BIGINT"},
      {"c_utiny", "tinyint unsigned", kMyText, kDuckText, "BIGINT"},
      {"c_small", "smallint", kMyText, kDuckText, "BIGINT"},
      {"c_medium", "mediumint", kMyText, kDuckText, "BIGINT"},
      {"c_int", "int", kMyText, kDuckText, "BIGINT"},
      {"c_uint", "int unsigned", kMyText, kDuckText, "BIGINT"},
      {"c_big", "bigint", kMyText, kDuckText, "BIGINT"},
      {"c_ubig", "bigint unsigned", kMyText, kDuckText, "DECIMAL(20,0)"},
      {"c_dec", "decimal(30,10)", kMyText, kDuckText, "DECIMAL(30,10)"},
      {"c_dec65", "decimal(65,30)", kMyText, kDuckText, "VARCHAR"},
      {"c_float", "float", kMyText, kDuckText, "DOUBLE", true},
      {"c_double", "double", kMyText, kDuckText, "DOUBLE", true},
      {"c_char", "char(10)", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_varchar", "varchar(200)", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_tinytext", "tinytext", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_text", "text", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_mtext", "mediumtext", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_ltext", "longtext", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_enum", "enum('a','b','c d','é')", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_set", "set('x','y','z')", kMyHex, kDuckHexUpper, "VARCHAR"},
      {"c_bin", "binary(4)", kMyHex, "hex($)", "BLOB"},
      {"c_varbin", "varbinary(16)", kMyHex, "hex($)", "BLOB"},
      {"c_tinyblob", "tinyblob", kMyHex, "hex($)", "BLOB"},
      {"c_blob", "blob", kMyHex, "hex($)", "BLOB"},
      {"c_mblob", "mediumblob", kMyHex, "hex($)", "BLOB"},
      {"c_lblob", "longblob", kMyHex, "hex($)", "BLOB"},
      // BIT(n) is archived as its bit pattern in a 64-bit integer: read back unsigned.
      {"c_bit", "bit(10)", "CAST($ + 0 AS CHAR)", kDuckText, "BIGINT"},
      {"c_bit64", "bit(64)", "CAST($ + 0 AS CHAR)",
       "CAST(CASE WHEN $ < 0 THEN CAST($ AS HUGEINT) + 18446744073709551616 ELSE $ END AS "
       "VARCHAR)",
       "BIGINT"},
      {"c_date", "date", "CAST(DATEDIFF($, '1970-01-01') AS CHAR)",
       "CAST($ - DATE '1970-01-01' AS VARCHAR)", "DATE"},
      {"c_dt", "datetime(6)", "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', $) AS CHAR)",
       kDuckMicros, "TIMESTAMP WITH TIME ZONE"},
      {"c_dt0", "datetime", "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', $) AS CHAR)",
       kDuckMicros, "TIMESTAMP WITH TIME ZONE"},
      {"c_ts", "timestamp(6) NULL",
       "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', $) AS CHAR)", kDuckMicros,
       "TIMESTAMP WITH TIME ZONE"},
      {"c_time", "time", kMyText, kDuckText, "VARCHAR"},
      {"c_time6", "time(6)", kMyText, kDuckText, "VARCHAR"},
      // YEAR is a number: 0 (shown as 0000) archives as 0.
      {"c_year", "year", "CAST($ + 0 AS CHAR)", kDuckText, "BIGINT"},
      {"c_json", "json", kMyHex, kDuckHexUpper, "JSON"},
      {"c_uuid", "uuid", kMyText, kDuckText, "VARCHAR"},
      {"c_inet4", "inet4", kMyText, kDuckText, "VARCHAR"},
      {"c_inet6", "inet6", kMyText, kDuckText, "VARCHAR"},
  };
}

TEST(SqlTypes, MariadbEveryMappedTypeRoundTrips) {
  Store s("mysql", server_uri("mysql"), "e2e_types_mysql");
  s.create_database();
  s.query("ALTER DATABASE e2e_types_mysql CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
  const std::string cols =
      "INSERT INTO types (id, c_tiny, c_utiny, c_small, c_medium, c_int, c_uint, c_big, c_ubig, "
      "c_dec, c_dec65, c_float, c_double, c_char, c_varchar, c_tinytext, c_text, c_mtext, "
      "c_ltext, c_enum, c_set, c_bin, c_varbin, c_tinyblob, c_blob, c_mblob, c_lblob, c_bit, "
      "c_bit64, c_date, c_dt, c_dt0, c_ts, c_time, c_time6, c_year, c_json, c_uuid, c_inet4, "
      "c_inet6) VALUES ";
  std::vector<std::string> inserts = {
      // Typical values.
      cols +
          "(1, 12, 200, 1234, 123456, 1234567, 3000000000, 1234567890123, 1234567890123, "
          "1234.5, 3.14159, 0.1, 0.1, 'ab', 'hello', 'tiny', 'text', 'medium', 'long', 'c d', "
          "'x,z', X'0102', X'0a0b0c', X'ff', X'00ff', X'0001', X'dead', b'101', b'1', "
          "'2024-02-29', '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56', "
          "'2024-02-29 12:34:56.789012', '13:45:30', '-01:02:03.456789', 2024, "
          "'{\"a\": [1, 2.50, \"x\"],  \"b\" : null}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
          "'192.168.0.1', '2001:db8::ff00:42:8329')",
      // Largest values.
      cols +
          "(2, 127, 255, 32767, 8388607, 2147483647, 4294967295, 9223372036854775807, "
          "18446744073709551615, 99999999999999999999.9999999999, "
          "99999999999999999999999999999999999.999999999999999999999999999999, 1e38, "
          "1.7976931348623157e308, 'abcdefghij', REPEAT('é', 200), REPEAT('t', 255), "
          "REPEAT('x', 65535), REPEAT('ab日🎉', 60000), REPEAT('long日🎉', 100000), 'é', 'x,y,z', "
          "X'ffffffff', REPEAT(X'ff', 16), REPEAT(X'00', 255), REPEAT(X'00ff', 30000), "
          "REPEAT(X'00ff', 200000), REPEAT(X'5c00', 300000), b'1111111111', "
          "b'1111111111111111111111111111111111111111111111111111111111111111', '9999-12-31', "
          "'9999-12-31 23:59:59.999999', '9999-12-31 23:59:59', '2038-01-19 03:14:07.999999', "
          "'838:59:59', '838:59:59.000000', 2155, "
          "'{\"deep\": {\"er\": [[[[1]]]]}, \"n\": 1.000000000000000000001, \"s\": \"日🎉\"}', "
          "'ffffffff-ffff-ffff-ffff-ffffffffffff', '255.255.255.255', "
          "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')",
      // Smallest values, zeros and empties (empty strings are not NULL).
      cols +
          "(3, -128, 0, -32768, -8388608, -2147483648, 0, -9223372036854775808, 0, "
          "-99999999999999999999.9999999999, "
          "-0.000000000000000000000000000001, -1e-38, -2.2250738585072014e-308, '', '', '', '', "
          "'', '', 'a', '', X'00000000', X'', X'', X'', X'', X'', b'0', b'0', '1000-01-01', "
          "'1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '1970-01-01 00:00:01', "
          "'-838:59:59', '-838:59:58.999999', 1901, '[]', '00000000-0000-0000-0000-000000000000', "
          "'0.0.0.0', '::')",
      // Text that needs care: quotes, backslashes, control characters, bytes with 0x00.
      cols +
          "(4, 0, 1, 0, 0, 0, 1, 0, 1, 0.0000000001, 0, 1.5, 5e-324, 'é日 ', "
          "'tab\\there\\nnew line\\r\\\\ \\'quoted\\' \"dq\" |bar|', '\\0nul', "
          "'\\u00e9 \\U0001F600 😀', 'a\\tb', 'Ünï \\\\ \\n', 'é', '', X'00010000', "
          "X'000000010a0d5c27', X'00', X'22275c', X'0000', X'ffffffff', b'1000000000', "
          "b'1000000000000000000000000000000000000000000000000000000000000000', '1970-01-01', "
          "'1969-12-31 23:59:59.999999', '1969-12-31 23:59:59', '2000-01-01 00:00:00.5', "
          "'00:00:00', '00:00:00.000001', 0, '\"a string with \\\\u0000 and \\\\n escapes\"', "
          "'123e4567-e89b-12d3-a456-426614174000', '10.0.0.1', '::ffff:192.0.2.1')",
      // NULL in every column.
      "INSERT INTO types (id) VALUES (5)",
  };
  std::string dir = fresh_dir("mysql-types");
  round_trip(s, dir, "types", mysql_columns(), inserts, "types_cold");
  if (!HasFailure()) s.drop_database();  // kept for a look when something differs
}

// ---------------------------------------------------------------------------------------------
// Both stores

class SqlTypesBoth : public ::testing::TestWithParam<const char*> {
 protected:
  std::string db_name(const std::string& what) const {
    return std::string("e2e_") + GetParam() + "_" + what;
  }
};

INSTANTIATE_TEST_SUITE_P(Stores, SqlTypesBoth, ::testing::Values("pg", "mysql"),
                         [](const auto& info) { return std::string(info.param); });

// A two-column primary key (a, b): shards are ranges of a, reads page through (a, b) in batches
// that end inside a group of equal a. Every selected row lands once in Parquet and in the cold
// table, and only the selected rows leave the source.
TEST_P(SqlTypesBoth, CompositeKeyMovesToParquetAndAColdTable) {
  Store s(GetParam(), server_uri(GetParam()), db_name("compkey"));
  s.create_database();
  s.query(
      "CREATE TABLE events (a int NOT NULL, b varchar(20) NOT NULL, payload text, PRIMARY KEY "
      "(a, b))");
  std::string values;
  for (int a = 1; a <= 12; ++a) {
    for (int k = 0; k < 5; ++k) {
      // b sorts differently as text than as a number ("k10" < "k2").
      values += std::string(values.empty() ? "" : ", ") + "(" + std::to_string(a) + ", 'k" +
                std::to_string(k * 5) + "', " +
                (k == 3 ? "NULL" : "'p" + std::to_string(a) + "-" + std::to_string(k) + "'") + ")";
    }
  }
  s.query("INSERT INTO events (a, b, payload) VALUES " + values);
  const std::string show = "SELECT a, b, COALESCE(payload, 'NULL') FROM ";
  const std::string order = " ORDER BY a, b";
  const auto selected = s.query(show + "events WHERE a < 8" + order);
  const auto kept = s.query(show + "events WHERE a >= 8" + order);
  ASSERT_EQ(selected.size(), 35u);
  const std::string cold_table = s.pg() ? "cold.events" : "events_cold";
  std::string dir = fresh_dir(db_name("compkey"));
  write_policy(dir, s, "compkey", "events", "a, b", "8", cold_table, "", "move");
  auto r = run_strata({"run", "compkey.yaml", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows"].get<size_t>(), selected.size());

  std::vector<std::string> archived =
      duckdb_rows(dir + "/archive", {"a", "b", "COALESCE(payload, 'NULL')"}, "ORDER BY a, b");
  std::sort(archived.begin(), archived.end());
  std::vector<std::string> want = selected;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(archived, want);
  std::vector<std::string> cold = s.query(show + cold_table + order);
  std::sort(cold.begin(), cold.end());
  EXPECT_EQ(cold, want);
  EXPECT_EQ(s.query(show + "events" + order), kept);
  // The cold table's key is the source's.
  if (s.pg()) {
    EXPECT_EQ(s.query("SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM pg_index i CROSS "
                      "JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) JOIN "
                      "pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE "
                      "i.indrelid = 'cold.events'::regclass AND i.indisprimary"),
              std::vector<std::string>{"a,b"});
  } else {
    EXPECT_EQ(s.query("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM "
                      "information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
                      "TABLE_NAME = 'events_cold' AND INDEX_NAME = 'PRIMARY'"),
              std::vector<std::string>{"a,b"});
  }
  // Nothing left to do on a second run.
  auto again = run_strata({"run", "compkey.yaml", "--new", "--json"}, dir);
  ASSERT_EQ(again.exit_code, 0) << again.err << again.out;
  EXPECT_EQ(s.count(cold_table), static_cast<int64_t>(selected.size()));
  s.drop_database();
}

// A column whose type Strata cannot store stops the run before anything is archived, with an
// error naming the column; listed in source.exclude, it is left out and the run succeeds.
TEST_P(SqlTypesBoth, UnsupportedColumnFailsTheRunUntilExcluded) {
  Store s(GetParam(), server_uri(GetParam()), db_name("unsupported"));
  s.create_database();
  if (s.pg()) {
    s.query("CREATE TABLE docs (id bigint PRIMARY KEY, body text, body_tsv tsvector, spot point)");
    s.query(
        "INSERT INTO docs SELECT g, 'doc ' || g, to_tsvector('simple', 'doc ' || g), "
        "point(g, g) FROM generate_series(1, 20) g");
  } else {
    s.query("CREATE TABLE docs (id bigint PRIMARY KEY, body text, spot geometry, area polygon)");
    s.query(
        "INSERT INTO docs SELECT seq, CONCAT('doc ', seq), POINT(seq, seq), "
        "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))') FROM seq_1_to_20");
  }
  const std::vector<std::string> unsupported = s.pg() ? std::vector<std::string>{"body_tsv", "spot"}
                                                      : std::vector<std::string>{"spot", "area"};
  const std::string cold_table = s.pg() ? "cold.docs" : "docs_cold";
  std::string dir = fresh_dir(db_name("unsupported"));
  write_policy(dir, s, "docs", "docs", "id", "100", cold_table, "", "move");
  auto r = run_strata({"run", "docs.yaml"}, dir);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE((r.err + r.out).find("'" + unsupported[0] + "'"), std::string::npos) << r.err << r.out;
  EXPECT_NE((r.err + r.out).find("exclude"), std::string::npos) << r.err << r.out;
  EXPECT_EQ(s.count("docs"), 20);
  EXPECT_FALSE(std::filesystem::exists(dir + "/archive/docs")) << "files written by a failed run";

  // Excluding only the first still fails, now naming the second.
  write_policy(dir, s, "docs", "docs", "id", "100", cold_table, unsupported[0], "move");
  r = run_strata({"run", "docs.yaml", "--new"}, dir);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE((r.err + r.out).find("'" + unsupported[1] + "'"), std::string::npos) << r.err << r.out;
  EXPECT_EQ(s.count("docs"), 20);

  write_policy(dir, s, "docs", "docs", "id", "100", cold_table,
               unsupported[0] + ", " + unsupported[1], "move");
  r = run_strata({"run", "docs.yaml", "--new", "--json"}, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rows"].get<size_t>(), 20u);
  EXPECT_EQ(s.count("docs"), 0);
  std::vector<std::string> want;
  for (int i = 1; i <= 20; ++i) want.push_back(std::to_string(i) + "|doc " + std::to_string(i));
  EXPECT_EQ(duckdb_rows(dir + "/archive", {"id", "body"}, "ORDER BY id"), want);
  EXPECT_EQ(s.query("SELECT id, body FROM " + cold_table + " ORDER BY id"), want);
  // Neither the files nor the cold table have the excluded columns.
  auto file_columns = testing_support::duckdb_query(
      {"SELECT string_agg(column_name, ',' ORDER BY column_name) AS c FROM (DESCRIBE SELECT * "
       "FROM read_parquet(" +
       testing_support::sql_quote(dir + "/archive/**/*.parquet") + "))"});
  ASSERT_TRUE(file_columns.is_ok()) << file_columns.status().to_string();
  EXPECT_EQ((*file_columns)[0]["c"], "body,id");
  EXPECT_EQ(s.pg() ? s.query("SELECT string_agg(attname, ',' ORDER BY attname) FROM pg_attribute "
                             "WHERE attrelid = 'cold.docs'::regclass AND attnum > 0 AND NOT "
                             "attisdropped")
                   : s.query("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY COLUMN_NAME) FROM "
                             "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                             "TABLE_NAME = 'docs_cold'"),
            std::vector<std::string>{"body,id"});
  s.drop_database();
}

}  // namespace
}  // namespace strata::e2e

// The PostgreSQL source against the real server (STRATA_TEST_PG_URI): describe, plan, read,
// delete, statements, errors and their verdicts, replication lag.
#include "connectors/postgres/postgres_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "connectors/postgres/pg_test_util.h"
#include "tests/support/reader_checks.h"

namespace strata {
namespace {

using pg_test::PgTest;
using pg_test::Session;

class PostgresSourceTest : public PgTest {
 protected:
  std::unique_ptr<Source> open(const std::string& table, std::vector<std::string> keys,
                               const std::string& time = "", const std::string& where = "",
                               std::vector<std::string> exclude = {},
                               const std::string& uri_suffix = "") {
    SourceSpec spec;
    spec.uri = uri_ + uri_suffix;
    spec.table = table;
    spec.key_columns = std::move(keys);
    spec.time_column = time;
    spec.where = where;
    spec.exclude_columns = std::move(exclude);
    auto src = open_postgres_source(spec);
    EXPECT_TRUE(src.is_ok()) << src.status().to_string();
    return src.is_ok() ? std::move(src).value() : nullptr;
  }

  // Every row the source returns for `shards`, in order: each value as Value::to_string().
  std::vector<std::vector<std::string>> read_rows(Source& src, const Predicate& p,
                                                  const std::vector<Shard>& shards,
                                                  size_t batch_rows) {
    auto schema = std::make_shared<const Schema>(*src.describe());
    std::vector<std::vector<std::string>> rows;
    Batch batch(schema);
    for (const Shard& shard : shards) {
      auto reader = src.read(p, shard, batch_rows);
      EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
      if (!reader.is_ok()) return rows;
      for (;;) {
        auto more = (*reader)->next(batch);
        EXPECT_TRUE(more.is_ok()) << more.status().to_string();
        if (!more.is_ok() || !*more) break;
        EXPECT_GT(batch.num_rows(), 0u);
        EXPECT_LE(batch.num_rows(), batch_rows);
        for (size_t r = 0; r < batch.num_rows(); ++r) {
          std::vector<std::string> row;
          for (size_t c = 0; c < batch.num_columns(); ++c) {
            row.push_back(batch.column(c).value_at(r).to_string());
          }
          rows.push_back(std::move(row));
        }
      }
    }
    return rows;
  }

  std::vector<std::string> read_keys(Source& src, const Predicate& p,
                                     const std::vector<Shard>& shards, size_t batch_rows = 1000) {
    std::vector<std::string> keys;
    for (auto& row : read_rows(src, p, shards, batch_rows)) keys.push_back(row[0]);
    return keys;
  }

  // Shards are numbered, ordered, disjoint and together hold every selected row exactly once.
  void check_cover(const std::vector<Shard>& shards, const std::string& table,
                   const std::string& key, const std::string& cond, int64_t max_rows) {
    int64_t total = 0;
    for (size_t i = 0; i < shards.size(); ++i) {
      EXPECT_EQ(shards[i].index, static_cast<int>(i));
      ASSERT_FALSE(shards[i].range.lo.is_null());
      ASSERT_FALSE(shards[i].range.hi.is_null());
      EXPECT_LE(shards[i].range.lo.compare(shards[i].range.hi), 0) << i;
      if (i > 0) {
        EXPECT_LT(shards[i - 1].range.hi.compare(shards[i].range.lo), 0) << i;
      }
      int64_t n = db_->count("SELECT count(*) FROM " + table + " WHERE " + key + " BETWEEN " +
                             shards[i].range.lo.to_string() + " AND " +
                             shards[i].range.hi.to_string() + (cond.empty() ? "" : " AND " + cond));
      if (max_rows > 0) {
        EXPECT_LE(n, max_rows) << "shard " << i;
      }
      total += n;
    }
    EXPECT_EQ(total,
              db_->count("SELECT count(*) FROM " + table + (cond.empty() ? "" : " WHERE " + cond)));
  }

  static Batch int_keys(const std::vector<int64_t>& keys) {
    Batch b(std::make_shared<const Schema>(std::vector<Column>{{"k", Type::kInt64}}));
    for (int64_t k : keys) b.column(0).append_int(k);
    return b;
  }
};

// ---- describe and read ----

TEST_F(PostgresSourceTest, EveryTypeRoundTripsExactly) {
  db_->exec(
      "CREATE EXTENSION IF NOT EXISTS citext;"
      "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
      "CREATE DOMAIN price AS numeric(8,3);"
      "CREATE TABLE t (id bigint PRIMARY KEY, i2 smallint, i4 integer NOT NULL, i8 bigint, o oid,"
      " n numeric(12,2), nu numeric, p price, f4 real, f8 double precision, tx text,"
      " vc varchar(10), ch char(4), nm name, ci citext, \"c1\" \"char\", by bytea, b boolean,"
      " d date, ts timestamp, tz timestamptz, tm time, ttz timetz, iv interval, js json,"
      " jb jsonb, u uuid, e mood, ip inet, cd cidr, mac macaddr, ai integer[], at text[],"
      " an numeric(5,1)[], atz timestamptz[])");
  db_->exec(
      "INSERT INTO t VALUES (1, -32768, 2147483647, -9223372036854775808, 4294967295,"
      " -1234567890.12, 123456789012345678901234567890.000000000012345, 12345.678, 0.1, "
      " -1.5e300, 'it''s ☃', 'vc', 'ab', 'nm', 'CiTe', 'x', '\\x00ff10', true, '1999-12-31',"
      " '1969-07-20 20:17:40.123456', '2026-01-02 03:04:05.000001+02', '23:59:59.5', "
      " '12:00:00+05:30', '1 year 2 mons 3 days 04:05:06.5', '{\"a\": [1, 2]}',"
      " '{\"b\": 1, \"a\": \"x\"}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'happy',"
      " '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '{1,NULL,3}',"
      " '{\"a,b\",\"q\\\"u\"}', '{1.5,-2.0}', '{\"2026-01-01 00:00:00+00\"}');"
      "INSERT INTO t (id, i4) VALUES (2, 0);"
      "INSERT INTO t (id, i4, n, nu, f4, f8, tx, by, ts, ai) VALUES (3, -1, 0, 0.0001, "
      " 'NaN', '-Infinity', '', '\\x', '2000-01-01 00:00:00', '{}');"
      "INSERT INTO t (id, i4, nu, n) VALUES (4, 7, -0.5, 0.05)");
  auto src = open("t", {"id"});
  auto schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  struct Want {
    const char* name;
    Type type;
    const char* source_type;
  };
  std::vector<Want> want = {
      {"id", Type::kInt64, "bigint"},
      {"i2", Type::kInt64, "smallint"},
      {"i4", Type::kInt64, "integer"},
      {"i8", Type::kInt64, "bigint"},
      {"o", Type::kInt64, "oid"},
      {"n", Type::kDecimal, "numeric(12,2)"},
      {"nu", Type::kDecimal, "numeric"},
      {"p", Type::kDecimal, "price"},
      {"f4", Type::kDouble, "real"},
      {"f8", Type::kDouble, "double precision"},
      {"tx", Type::kString, "text"},
      {"vc", Type::kString, "character varying(10)"},
      {"ch", Type::kString, "character(4)"},
      {"nm", Type::kString, "name"},
      {"ci", Type::kString, "citext"},
      {"c1", Type::kString, "\"char\""},
      {"by", Type::kBytes, "bytea"},
      {"b", Type::kBool, "boolean"},
      {"d", Type::kDate, "date"},
      {"ts", Type::kTimestamp, "timestamp without time zone"},
      {"tz", Type::kTimestamp, "timestamp with time zone"},
      {"tm", Type::kString, "time without time zone"},
      {"ttz", Type::kString, "time with time zone"},
      {"iv", Type::kString, "interval"},
      {"js", Type::kJson, "json"},
      {"jb", Type::kJson, "jsonb"},
      {"u", Type::kString, "uuid"},
      {"e", Type::kString, "mood"},
      {"ip", Type::kString, "inet"},
      {"cd", Type::kString, "cidr"},
      {"mac", Type::kString, "macaddr"},
      {"ai", Type::kJson, "integer[]"},
      {"at", Type::kJson, "text[]"},
      {"an", Type::kJson, "numeric(5,1)[]"},
      {"atz", Type::kJson, "timestamp with time zone[]"},
  };
  ASSERT_EQ(schema->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*schema)[i].name, want[i].name);
    EXPECT_EQ((*schema)[i].type, want[i].type) << want[i].name;
    EXPECT_EQ((*schema)[i].source_type, want[i].source_type) << want[i].name;
  }
  EXPECT_FALSE((*schema)[2].nullable);
  EXPECT_TRUE((*schema)[3].nullable);
  EXPECT_EQ((*schema)[5].precision, 12);
  EXPECT_EQ((*schema)[5].scale, 2);
  EXPECT_EQ((*schema)[6].precision, 0);  // unconstrained: exact text
  EXPECT_EQ((*schema)[7].precision, 8);  // the domain's base type
  EXPECT_EQ((*schema)[7].scale, 3);

  auto rows =
      read_rows(*src, Predicate{}, {Shard{0, KeyRange{Value::of_int(1), Value::of_int(4)}, 4}}, 10);
  ASSERT_EQ(rows.size(), 4u);
  std::vector<std::string> row1 = {
      "1",
      "-32768",
      "2147483647",
      "-9223372036854775808",
      "4294967295",
      "'-1234567890.12'",
      "'123456789012345678901234567890.000000000012345'",
      "'12345.678'",
      "0.1",
      "-1.5e+300",
      "'it''s ☃'",
      "'vc'",
      "'ab  '",
      "'nm'",
      "'CiTe'",
      "'x'",
      "'" + std::string("\0\xff\x10", 3) + "'",
      "1",
      std::to_string(*parse_date("1999-12-31")),
      std::to_string(*parse_timestamp("1969-07-20T20:17:40.123456Z")),
      std::to_string(*parse_timestamp("2026-01-02T01:04:05.000001Z")),
      "'23:59:59.5'",
      "'12:00:00+05:30'",
      "'P1Y2M3DT4H5M6.5S'",
      "'{\"a\": [1, 2]}'",
      "'{\"a\": \"x\", \"b\": 1}'",
      "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
      "'happy'",
      "'192.168.0.1/24'",
      "'10.0.0.0/8'",
      "'08:00:2b:01:02:03'",
      "'[1,null,3]'",
      "'[\"a,b\",\"q\\\"u\"]'",
      "'[1.5,-2.0]'",
      "'[\"2026-01-01T00:00:00+00:00\"]'",
  };
  ASSERT_EQ(rows[0].size(), row1.size());
  for (size_t c = 0; c < row1.size(); ++c) EXPECT_EQ(rows[0][c], row1[c]) << want[c].name;
  for (size_t c = 0; c < row1.size(); ++c) {
    if (c == 0) continue;
    EXPECT_EQ(rows[1][c], c == 2 ? "0" : "NULL") << want[c].name;
  }
  EXPECT_EQ(rows[2][5], "'0.00'");
  EXPECT_EQ(rows[2][6], "'0.0001'");
  EXPECT_EQ(rows[2][8], "NaN");
  EXPECT_EQ(rows[2][9], "-Infinity");
  EXPECT_EQ(rows[2][10], "''");
  EXPECT_EQ(rows[2][16], "''");
  EXPECT_EQ(rows[2][19], std::to_string(*parse_timestamp("2000-01-01T00:00:00Z")));
  EXPECT_EQ(rows[2][31], "'[]'");
  EXPECT_EQ(rows[3][5], "'0.05'");
  EXPECT_EQ(rows[3][6], "'-0.5'");
}

TEST_F(PostgresSourceTest, NumericsDecodeLikeTheServerPrintsThem) {
  db_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v numeric, w numeric(38,10));"
      "INSERT INTO t SELECT i, round(((random() - 0.5) * 10 ^ (i % 40 - 15))::numeric, i % 20),"
      " round(((random() - 0.5) * 10 ^ (i % 28))::numeric, 10) FROM generate_series(1, 3000) i;"
      "INSERT INTO t VALUES (0, 10000, 0), (-1, 1e20, 99999999.9999999999), (-2, 0.00010000, "
      "-0.0000000001)");
  auto src = open("t", {"id"});
  auto rows = read_rows(*src, Predicate{}, {Shard{0, KeyRange{}, 0}}, 512);
  auto v = db_->column("SELECT v::text FROM t ORDER BY id");
  auto w = db_->column("SELECT w::text FROM t ORDER BY id");
  ASSERT_EQ(rows.size(), v.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][1], "'" + v[i] + "'") << rows[i][0];
    EXPECT_EQ(rows[i][2], "'" + w[i] + "'") << rows[i][0];
  }
}

TEST_F(PostgresSourceTest, InfiniteTimestampNamesColumnAndKey) {
  db_->exec(
      "CREATE TABLE t (a int, b text, ts timestamptz, PRIMARY KEY (a, b));"
      "INSERT INTO t VALUES (1, 'x', now()), (2, 'y', 'infinity')");
  auto src = open("t", {"a", "b"});
  ASSERT_TRUE(src->describe().is_ok());
  auto reader = src->read(Predicate{}, Shard{0, KeyRange{}, 0}, 10);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  Batch batch(std::make_shared<const Schema>(*src->describe()));
  auto more = (*reader)->next(batch);
  ASSERT_FALSE(more.is_ok());
  const std::string& m = more.status().message();
  EXPECT_TRUE(more.status().is_permanent());
  EXPECT_NE(m.find("table 't'"), std::string::npos) << m;
  EXPECT_NE(m.find("column 'ts'"), std::string::npos) << m;
  EXPECT_NE(m.find("at key (2, 'y')"), std::string::npos) << m;
  EXPECT_NE(m.find("infinity"), std::string::npos) << m;
  EXPECT_EQ(m.find("strata-test"), std::string::npos) << m;  // never the password
}

TEST_F(PostgresSourceTest, UnsupportedTypeNamesColumnAndExcludeWorks) {
  db_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, doc tsvector, v text);"
      "INSERT INTO t VALUES (1, 'a fat cat', 'one'), (2, NULL, 'two')");
  auto schema = open("t", {"id"})->describe();
  ASSERT_FALSE(schema.is_ok());
  EXPECT_TRUE(schema.status().is_permanent());
  const std::string& m = schema.status().message();
  EXPECT_NE(m.find("table 't' column 'doc' has type 'tsvector'"), std::string::npos) << m;
  EXPECT_NE(m.find("exclude"), std::string::npos) << m;
  EXPECT_EQ(m.find("strata-test"), std::string::npos) << m;

  auto src = open("t", {"id"}, "", "", {"doc"});
  schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  ASSERT_EQ(schema->size(), 2u);
  EXPECT_EQ((*schema)[1].name, "v");
  auto rows = read_rows(*src, Predicate{}, {Shard{0, KeyRange{}, 0}}, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"2", "'two'"}));

  auto bad = open("t", {"id"}, "", "", {"Doc"})->describe();
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("did you mean 'doc'"), std::string::npos)
      << bad.status().message();
  bad = open("t", {"id"}, "", "", {"id"})->describe();
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("cannot be excluded"), std::string::npos);
}

TEST_F(PostgresSourceTest, KeyMustBeAUniqueKeyInIndexOrder) {
  db_->exec(
      "CREATE TABLE plain (k int, v text);"
      "CREATE TABLE comp (a int, b text, c int, PRIMARY KEY (a, b));"
      "CREATE UNIQUE INDEX comp_c ON comp (c);"
      "CREATE TABLE part (k int, v text); CREATE UNIQUE INDEX part_k ON part (k) WHERE v > '';"
      "CREATE TABLE uniq (k text NOT NULL, v text); CREATE UNIQUE INDEX uniq_k ON uniq (k);");
  auto s = open("plain", {"k"})->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.status().is_permanent());
  EXPECT_NE(s.status().message().find("table 'plain' key (k) is not the primary key or a unique "
                                      "index's columns (unique keys: none)"),
            std::string::npos)
      << s.status().message();
  s = open("comp", {"a"})->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("(unique keys: (a, b) [primary key], (c) [unique index "
                                      "comp_c])"),
            std::string::npos)
      << s.status().message();
  s = open("comp", {"b", "a"})->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("in another order"), std::string::npos)
      << s.status().message();
  s = open("part", {"k"})->describe();
  ASSERT_FALSE(s.is_ok());
  s = open("comp", {"A", "b"})->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("key column 'A' does not exist in table 'comp' (did you "
                                      "mean 'a'? names are case-sensitive)"),
            std::string::npos)
      << s.status().message();
  EXPECT_TRUE(open("comp", {"a", "b"})->describe().is_ok());
  EXPECT_TRUE(open("comp", {"c"})->describe().is_ok());
  EXPECT_TRUE(open("uniq", {"k"})->describe().is_ok());
}

TEST_F(PostgresSourceTest, MissingTableViewAndTimeColumnErrors) {
  db_->exec(
      "CREATE TABLE alpha (id int PRIMARY KEY, at text, day date);"
      "CREATE TABLE \"Beta\" (id int PRIMARY KEY);"
      "CREATE VIEW v AS SELECT * FROM alpha");
  auto s = open("gamma", {"id"})->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.status().is_permanent());
  EXPECT_EQ(s.status().message(),
            "postgres " +
                pg_test::with_database(
                    "postgres://strata:***@" + server_.substr(server_.find('@') + 1), db_name_) +
                ": table 'gamma' does not exist (tables: Beta, alpha; "
                "schema-qualify a table outside the search_path)");
  s = open("beta", {"id"})->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("table 'beta' does not exist (did you mean 'Beta'?"),
            std::string::npos)
      << s.status().message();
  s = open("v", {"id"})->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("is a view"), std::string::npos);
  s = open("alpha", {"id"}, "at")->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("time column 'at' is text; it must be a date, timestamp"),
            std::string::npos)
      << s.status().message();
  s = open("alpha", {"id"}, "when")->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("time column 'when' does not exist in table 'alpha' "
                                      "(columns: id, at, day)"),
            std::string::npos)
      << s.status().message();
  EXPECT_TRUE(open("alpha", {"id"}, "day")->describe().is_ok());
  EXPECT_TRUE(open("public.alpha", {"id"}, "day")->describe().is_ok());
}

TEST_F(PostgresSourceTest, QuotedSchemaTableAndColumnNames) {
  db_->exec(
      "CREATE SCHEMA \"Cold Data\";"
      "CREATE TABLE \"Cold Data\".\"My \"\"odd\"\" table\" (\"Select\" int PRIMARY KEY, "
      "\"a b\" text, \"q\"\"uote\" text, \"Order\" timestamptz);"
      "INSERT INTO \"Cold Data\".\"My \"\"odd\"\" table\" VALUES (1, 'x', 'y', '2020-01-01'), "
      "(2, 'x', 'y', '2030-01-01'), (3, 'z', 'y', '2020-01-01')");
  auto src = open("Cold Data.My \"odd\" table", {"Select"}, "Order", "\"a b\" = 'x'");
  auto schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  EXPECT_EQ((*schema)[2].name, "q\"uote");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  auto shards = src->plan(p, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  ASSERT_EQ(shards->size(), 1u);
  EXPECT_EQ(read_keys(*src, p, *shards), std::vector<std::string>{"1"});
  auto deleted = src->delete_keys(p, (*shards)[0], int_keys({1, 2}));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(db_->column("SELECT \"Select\" FROM \"Cold Data\".\"My \"\"odd\"\" table\" ORDER BY 1"),
            (std::vector<std::string>{"2", "3"}));
}

// ---- composite keys ----

TEST_F(PostgresSourceTest, CompositeKeyReadsInKeyOrderAndDeletesTuples) {
  db_->exec(
      "CREATE TABLE t (dev int, seq text, v int, PRIMARY KEY (dev, seq));"
      "INSERT INTO t SELECT d, 's' || lpad(s::text, 3, '0'), d * 1000 + s "
      "FROM generate_series(1, 20) d, generate_series(1, 30) s");
  auto src = open("t", {"dev", "seq"});
  auto shards = src->plan(Predicate{}, SplitOptions{100});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  // A leading value's rows stay in one shard: 100 rows = 3 devices + 10, so 4 devices a shard.
  ASSERT_EQ(shards->size(), 5u);
  for (const Shard& s : *shards) {
    EXPECT_EQ(s.range.hi.as_int() - s.range.lo.as_int(), 3) << s.index;
    EXPECT_EQ(s.estimated_rows, 120);
  }
  auto rows = read_rows(*src, Predicate{}, *shards, 7);
  ASSERT_EQ(rows.size(), 600u);
  auto want = db_->column("SELECT dev || ',' || seq FROM t ORDER BY dev, seq");
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0] + "," + rows[i][1].substr(1, rows[i][1].size() - 2), want[i]);
  }
  Batch keys(std::make_shared<const Schema>(
      std::vector<Column>{{"dev", Type::kInt64}, {"seq", Type::kString}}));
  for (auto [d, s] : std::vector<std::pair<int, const char*>>{
           {1, "s001"}, {1, "s030"}, {2, "s005"}, {9, "s001"}, {3, "nope"}}) {
    keys.column(0).append_int(d);
    keys.column(1).append_text(s);
  }
  // Shard 0 holds devices 1..4: (9, s001) lies outside it and stays.
  auto deleted = src->delete_keys(Predicate{}, (*shards)[0], keys);
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM t"), 597);
  EXPECT_EQ(db_->count("SELECT count(*) FROM t WHERE (dev, seq) IN ((1, 's001'), (1, 's030'), "
                       "(2, 's005'))"),
            0);
  EXPECT_EQ(db_->count("SELECT count(*) FROM t WHERE dev = 9 AND seq = 's001'"), 1);
}

// ---- plan ----

TEST_F(PostgresSourceTest, PlanCoversEveryRowOnceExactAndSampled) {
  db_->exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, ts timestamptz, pad text);"
      "INSERT INTO t SELECT i, timestamptz '2020-01-01' + i * interval '1 minute', "
      "repeat('x', 50) FROM generate_series(1, 20000) i; ANALYZE t");
  Predicate p;
  p.time_before = *parse_timestamp("2020-01-11T00:00:00Z");  // ids 1..14399
  for (const char* suffix : {"", "?plan_exact_rows=0"}) {
    SCOPED_TRACE(suffix);
    auto src = open("t", {"id"}, "ts", "", {}, suffix);
    auto shards = src->plan(p, SplitOptions{700});
    ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
    check_cover(*shards, "t", "id", "ts < '2020-01-11'", std::string(suffix).empty() ? 700 : 2100);
    if (std::string(suffix).empty()) {
      EXPECT_EQ(shards->size(), 21u);
    }
    EXPECT_GE(shards->size(), 10u);
    EXPECT_LE(shards->size(), 45u);
    auto keys = read_keys(*src, p, *shards);
    ASSERT_EQ(keys.size(), 14399u);
    for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(keys[i], std::to_string(i + 1));
  }
}

TEST_F(PostgresSourceTest, PlanSkewedKeys) {
  // Half the rows are dense at the bottom, half spread over twelve orders of magnitude.
  db_->exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, v text);"
      "INSERT INTO t SELECT i, 'dense' FROM generate_series(1, 10000) i;"
      "INSERT INTO t SELECT 10000 + (i::numeric ^ 3)::bigint * 1000, 'sparse' "
      "FROM generate_series(1, 10000) i; ANALYZE t");
  for (const char* suffix : {"", "?plan_exact_rows=0"}) {
    SCOPED_TRACE(suffix);
    auto src = open("t", {"id"}, "", "", {}, suffix);
    auto shards = src->plan(Predicate{}, SplitOptions{1000});
    ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
    check_cover(*shards, "t", "id", "", std::string(suffix).empty() ? 1000 : 3000);
    EXPECT_GE(shards->size(), 10u);
    EXPECT_EQ(read_keys(*src, Predicate{}, *shards).size(), 20000u);
  }
}

// A sample takes whole pages, so the count of sampled pages in a key range is noisy (about a
// third either way at ~12 pages per shard): quantiles of the sampled keys made shards of 0.6-1.5x
// shard_rows. A table in key order is cut by the pages instead, within shard_rows; one whose keys
// are scattered over the pages is still cut by the quantiles.
TEST_F(PostgresSourceTest, PlanSampledCutsAnAppendOnlyTableByItsPages) {
  db_->exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, ts timestamptz, pad text);"
      "INSERT INTO t SELECT i, timestamptz '2020-01-01' + i * interval '1 minute', "
      "repeat('x', 40 + i % 20) FROM generate_series(1, 300000) i;"
      // A stretch at a third of the density: the sample must see it.
      "DELETE FROM t WHERE id BETWEEN 50000 AND 80000 AND id % 3 <> 0; ANALYZE t");
  Predicate p;
  p.time_before = *parse_timestamp("2020-05-19T00:00:00Z");  // ids below 200160
  const std::string cond = "ts < '2020-05-19'";
  auto src = open("t", {"id"}, "ts", "", {}, "?plan_exact_rows=0");
  auto shards = src->plan(p, SplitOptions{5000});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  check_cover(*shards, "t", "id", cond, 5000);
  ASSERT_GE(shards->size(), 37u);
  for (size_t i = 0; i < shards->size(); ++i) {
    const Shard& s = (*shards)[i];
    const int64_t n =
        db_->count("SELECT count(*) FROM t WHERE id BETWEEN " + s.range.lo.to_string() + " AND " +
                   s.range.hi.to_string() + " AND " + cond);
    EXPECT_NEAR(static_cast<double>(s.estimated_rows), static_cast<double>(n), 500) << i;
    if (i + 1 < shards->size()) {
      EXPECT_GE(n, 2000) << i;  // a cut falls at a sampled page: a wide gap after one costs
    }
  }

  // Two workers, shards of at most 70,000: 180k rows need 3, so 4 of about 45k come, which the
  // two workers finish together (the greedy cuts made 3: the last worker alone at the end).
  SplitOptions two{70000};
  two.parallel = 2;
  auto balanced = src->plan(p, two);
  ASSERT_TRUE(balanced.is_ok()) << balanced.status().to_string();
  check_cover(*balanced, "t", "id", cond, 70000);
  ASSERT_EQ(balanced->size(), 4u);
  // With two sessions the last key is probed beside the sample: the plan still ends there.
  EXPECT_EQ(balanced->back().range.hi.as_int(), db_->count("SELECT max(id) FROM t WHERE " + cond));
  const int64_t selected = db_->count("SELECT count(*) FROM t WHERE " + cond);
  for (const Shard& s : *balanced) {
    const int64_t n =
        db_->count("SELECT count(*) FROM t WHERE id BETWEEN " + s.range.lo.to_string() + " AND " +
                   s.range.hi.to_string() + " AND " + cond);
    EXPECT_NEAR(static_cast<double>(n), static_cast<double>(selected) / 4, 2000) << s.index;
  }

  // Tables the page cuts do not apply to: every selected row once, shards within 1.3x.
  auto covers = [&](const std::string& table) {
    SCOPED_TRACE(table);
    auto other = open(table, {"id"}, "", "", {}, "?plan_exact_rows=0");
    auto planned = other->plan(Predicate{}, SplitOptions{5000});
    ASSERT_TRUE(planned.is_ok()) << planned.status().to_string();
    check_cover(*planned, table, "id", "", 6500);
    EXPECT_GE(planned->size(), 30u);
    EXPECT_EQ(read_keys(*other, Predicate{}, *planned).size(), 200000u);
  };
  // Keys scattered over the pages: the order check fails, the quantiles cut it.
  db_->exec(
      "CREATE TABLE r (id bigint PRIMARY KEY, pad text);"
      "INSERT INTO r SELECT i, repeat('x', 50) FROM generate_series(1, 200000) i "
      "ORDER BY md5(i::text); ANALYZE r");
  covers("r");
  // A partitioned table: each leaf numbers its pages from 0, so it is never cut by pages. (This
  // checks the plan covers it; it cannot tell which cut ran, as interleaved leaves fail the order
  // check too.)
  db_->exec(
      "CREATE TABLE pt (id bigint PRIMARY KEY, pad text) PARTITION BY RANGE (id);"
      "CREATE TABLE pt_a PARTITION OF pt FOR VALUES FROM (1) TO (100001);"
      "CREATE TABLE pt_b PARTITION OF pt FOR VALUES FROM (100001) TO (MAXVALUE);"
      "INSERT INTO pt SELECT i, repeat('x', 50) FROM generate_series(1, 200000) i; ANALYZE pt");
  covers("pt");
}

TEST_F(PostgresSourceTest, PlanWithStaleStatisticsStillCoversEveryRow) {
  db_->exec(
      "CREATE TABLE t (k text PRIMARY KEY, n int) WITH (autovacuum_enabled = false);"
      "INSERT INTO t SELECT md5(i::text), i FROM generate_series(1, 100) i; ANALYZE t;"
      "INSERT INTO t SELECT md5(i::text), i FROM generate_series(101, 20000) i");
  // Statistics say 100 rows: the estimate scales them to the table's current size.
  auto src = open("t", {"k"});
  auto shards = src->plan(Predicate{}, SplitOptions{2500});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  check_cover(*shards, "t", "k", "", 2500);
  EXPECT_EQ(shards->size(), 8u);
  // Statistics claiming a billion rows send the plan down the sampling path.
  db_->exec("UPDATE pg_class SET reltuples = 1e9 WHERE oid = 't'::regclass");
  src = open("t", {"k"});
  shards = src->plan(Predicate{}, SplitOptions{2500});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  check_cover(*shards, "t", "k", "", 0);
  auto keys = read_keys(*src, Predicate{}, *shards);
  EXPECT_EQ(keys.size(), 20000u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 20000u);
  // Text keys sampled: shards end at the key before the next shard's first.
  auto sampled = open("t", {"k"}, "", "", {}, "?plan_exact_rows=0");
  shards = sampled->plan(Predicate{}, SplitOptions{2500});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  check_cover(*shards, "t", "k", "", 7500);
  EXPECT_GE(shards->size(), 4u);
}

// The selection's ends are probed in slices of the key's extent, with the caller's pause after
// each, and the plan still ends at the last selected key.
TEST_F(PostgresSourceTest, PlanProbesTheSelectionsEndsInPacedSlices) {
  db_->exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, ts timestamptz);"
      "INSERT INTO t SELECT i, CASE WHEN i <= 5000 THEN timestamptz '2020-01-01' ELSE "
      "timestamptz '2030-01-01' END FROM generate_series(1, 20000) i;"
      "INSERT INTO t VALUES (1000000000, '2030-01-01'); ANALYZE t");
  auto src = open("t", {"id"}, "ts");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  int paces = 0;
  SplitOptions split{1000};
  split.pace = [&](std::chrono::steady_clock::duration) { ++paces; };
  auto shards = src->plan(p, split);
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  check_cover(*shards, "t", "id", "ts < '2025-01-01'", 1000);
  ASSERT_FALSE(shards->empty());
  EXPECT_EQ(shards->back().range.hi, Value::of_int(5000));
  // One slice from the bottom finds the first key; the last takes every slice from the top.
  EXPECT_GE(paces, 60);
  EXPECT_EQ(read_keys(*src, p, *shards).size(), 5000u);
}

TEST_F(PostgresSourceTest, PlanEmptyAndNothingSelected) {
  db_->exec("CREATE TABLE t (id int PRIMARY KEY, ts timestamptz)");
  auto src = open("t", {"id"}, "ts");
  auto shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  EXPECT_TRUE(shards->empty());
  db_->exec("INSERT INTO t VALUES (1, '2030-01-01'), (2, '2030-01-02')");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  shards = src->plan(p, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok());
  EXPECT_TRUE(shards->empty());
  shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok());
  ASSERT_EQ(shards->size(), 1u);
  EXPECT_EQ((*shards)[0].range.lo, Value::of_int(1));
  EXPECT_EQ((*shards)[0].range.hi, Value::of_int(2));
}

// ---- delete ----

TEST_F(PostgresSourceTest, DeleteRechecksPredicateAndShard) {
  db_->exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, at timestamp, v text);"
      "INSERT INTO t SELECT i, '2020-01-01', 'old' FROM generate_series(1, 1200) i");
  auto src = open("t", {"id"}, "at", "v = 'old'");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  auto shards = src->plan(p, SplitOptions{1100});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  ASSERT_EQ(shards->size(), 2u);
  // Archived: the whole first shard (a contiguous run) and, separately, a scattered list with a
  // key outside the shard.
  std::vector<int64_t> run;
  for (int64_t k = 1; k <= 1000; ++k) run.push_back(k);
  db_->exec("UPDATE t SET at = '2026-06-01' WHERE id = 10");  // no longer matches the time
  db_->exec("UPDATE t SET v = 'new' WHERE id = 20");          // no longer matches the where
  db_->exec("DELETE FROM t WHERE id = 30");                   // already gone
  auto deleted = src->delete_keys(p, (*shards)[0], int_keys(run));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 997u);
  deleted = src->delete_keys(p, (*shards)[0], int_keys({1050, 1002, 1150, 1001}));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(db_->column("SELECT id FROM t WHERE id <= 1002 OR id = 1050 ORDER BY id"),
            (std::vector<std::string>{"10", "20"}));
  EXPECT_EQ(db_->count("SELECT count(*) FROM t WHERE id = 1150"), 1);
  deleted = src->delete_keys(p, (*shards)[0], int_keys(run));
  ASSERT_TRUE(deleted.is_ok());
  EXPECT_EQ(*deleted, 0u);
}

TEST_F(PostgresSourceTest, DeleteTextKeysInChunks) {
  db_->exec(
      "CREATE TABLE t (k text PRIMARY KEY);"
      "INSERT INTO t SELECT 'k' || lpad(i::text, 6, '0') FROM generate_series(1, 30000) i");
  auto src = open("t", {"k"});
  Batch keys(std::make_shared<const Schema>(std::vector<Column>{{"k", Type::kString}}));
  for (int i = 1; i <= 30000; i += 2) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "k%06d", i);
    keys.column(0).append_text(buf);
  }
  auto deleted = src->delete_keys(Predicate{}, Shard{0, KeyRange{}, 0}, keys);
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 15000u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM t"), 15000);
}

TEST_F(PostgresSourceTest, RowLockFailsTheDeleteRetryablyWithinLockTimeout) {
  db_->exec("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)");
  auto src = open("t", {"id"}, "", "", {}, "?lock_timeout=300ms");
  ASSERT_TRUE(src->describe().is_ok());
  Session locker(uri_);
  locker.exec("BEGIN; SELECT * FROM t WHERE id = 1 FOR UPDATE");
  auto start = std::chrono::steady_clock::now();
  auto deleted = src->delete_keys(Predicate{}, Shard{0, KeyRange{}, 0}, int_keys({1, 2}));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(deleted.is_ok());
  EXPECT_TRUE(deleted.status().is_retryable()) << deleted.status().to_string();
  EXPECT_NE(deleted.status().message().find("55P03"), std::string::npos);
  EXPECT_NE(deleted.status().message().find("table 't'"), std::string::npos);
  EXPECT_LT(secs, 3.0);
  EXPECT_EQ(db_->count("SELECT count(*) FROM t"), 2);  // the transaction rolled back
  locker.exec("ROLLBACK");
  deleted = src->delete_keys(Predicate{}, Shard{0, KeyRange{}, 0}, int_keys({1, 2}));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 2u);
}

TEST_F(PostgresSourceTest, StatementTimeoutIsRetryable) {
  db_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int);"
      "INSERT INTO t SELECT i, i FROM generate_series(1, 10) i");
  auto src = open("t", {"id"}, "", "pg_sleep(0.5) IS NOT NULL", {}, "?statement_timeout=200ms");
  auto deleted = src->delete_keys(Predicate{}, Shard{0, KeyRange{}, 0}, int_keys({1, 3}));
  ASSERT_FALSE(deleted.is_ok());
  EXPECT_TRUE(deleted.status().is_retryable()) << deleted.status().to_string();
  EXPECT_NE(deleted.status().message().find("57014"), std::string::npos);
}

// ---- connections ----

TEST_F(PostgresSourceTest, ConnectionKilledMidReadIsRetryable) {
  db_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, pad text);"
      "INSERT INTO t SELECT i, repeat('x', 200) FROM generate_series(1, 200000) i");
  auto src = open("t", {"id"});
  auto schema = std::make_shared<const Schema>(*src->describe());
  auto reader = src->read(Predicate{}, Shard{0, KeyRange{}, 0}, 100);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  Batch batch(schema);
  auto more = (*reader)->next(batch);
  ASSERT_TRUE(more.is_ok() && *more) << more.status().to_string();
  EXPECT_EQ(db_->count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "datname = current_database() AND application_name = 'strata' AND query "
                       "LIKE 'COPY%'"),
            1);
  Status failure;
  for (int i = 0; i < 100000 && failure.is_ok(); ++i) {
    more = (*reader)->next(batch);
    if (!more.is_ok())
      failure = more.status();
    else if (!*more)
      break;
  }
  ASSERT_FALSE(failure.is_ok()) << "the read finished despite the killed connection";
  EXPECT_TRUE(failure.is_retryable()) << failure.to_string();
  EXPECT_NE(failure.message().find("table 't'"), std::string::npos) << failure.message();
  // The pool does not hand out the dead connection: the next read works.
  reader = src->read(Predicate{}, Shard{0, KeyRange{Value::of_int(1), Value::of_int(5)}, 5}, 10);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  more = (*reader)->next(batch);
  ASSERT_TRUE(more.is_ok()) << more.status().to_string();
  EXPECT_EQ(batch.num_rows(), 5u);
}

// A source kept open across shards (functions/source_cache.h) holds idle sessions in its pool;
// ones the server ended while idle (pg_terminate_backend, a restart) are left out, so the next
// shard's read starts without a failed attempt.
TEST_F(PostgresSourceTest, IdleSessionsEndedByTheServerAreNotReused) {
  db_->exec("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)");
  auto src = open("t", {"id"});
  auto read_all = [&] {
    return read_rows(*src, Predicate{}, {Shard{0, KeyRange{}, 0}}, 100).size();
  };
  ASSERT_EQ(read_all(), 50u);  // its session goes back to the pool, idle
  const std::string strata_sessions =
      "FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'strata'";
  ASSERT_EQ(db_->count("SELECT count(*) " + strata_sessions), 1);
  EXPECT_EQ(db_->count("SELECT count(pg_terminate_backend(pid)) " + strata_sessions), 1);
  for (int i = 0; i < 100 && db_->count("SELECT count(*) " + strata_sessions) > 0; ++i) {
    usleep(10'000);
  }
  EXPECT_EQ(read_all(), 50u);
  // It read on a new session, which is the pool's one idle session now.
  EXPECT_EQ(db_->count("SELECT count(*) " + strata_sessions), 1);
}

TEST_F(PostgresSourceTest, ConnectionErrorsHaveTheRightVerdict) {
  db_->exec("CREATE TABLE t (id int PRIMARY KEY)");
  // Wrong password: permanent, never printed.
  std::string bad = uri_;
  bad.replace(bad.find(":strata-test@"), 13, ":wrong-secret@");
  SourceSpec spec{bad, "t", {"id"}};
  auto s = (*open_postgres_source(spec))->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.status().is_permanent()) << s.status().to_string();
  EXPECT_EQ(s.status().message().find("wrong-secret"), std::string::npos);
  EXPECT_NE(s.status().message().find("password"), std::string::npos);
  // Nothing listening: retryable.
  std::string closed = "postgres://strata@127.0.0.1:1/" + db_name_;
  spec.uri = closed;
  s = (*open_postgres_source(spec))->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.status().is_retryable()) << s.status().to_string();
  // The password from the environment, expanded only at connect.
  std::string env = uri_;
  env.replace(env.find(":strata-test@"), 13, ":${STRATA_PG_TEST_SECRET}@");
  spec.uri = env;
  unsetenv("STRATA_PG_TEST_SECRET");
  auto src = open_postgres_source(spec);
  ASSERT_TRUE(src.is_ok()) << src.status().to_string();
  s = (*src)->describe();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("STRATA_PG_TEST_SECRET"), std::string::npos);
  setenv("STRATA_PG_TEST_SECRET", "strata-test", 1);
  s = (*src)->describe();
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  unsetenv("STRATA_PG_TEST_SECRET");
  // Unknown options are refused up front.
  spec.uri = uri_ + "?sslmod=require";
  auto refused = open_postgres_source(spec);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("unknown URI option 'sslmod'"), std::string::npos);
}

TEST_F(PostgresSourceTest, SessionSettingsOnEveryConnection) {
  db_->exec("CREATE TABLE t (id int PRIMARY KEY, s text)");
  auto src = open("t", {"id"}, "", "", {}, "?lock_timeout=1500ms");
  auto shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok());
  // The connector's own session shows its settings through a where that reads them.
  db_->exec("INSERT INTO t VALUES (1, 'x')");
  auto probe = open("t", {"id"}, "",
                    "current_setting('lock_timeout') = '1500ms' AND current_setting('TimeZone') "
                    "= 'UTC' AND current_setting('DateStyle') LIKE 'ISO%' AND "
                    "current_setting('application_name') = 'strata'",
                    {}, "?lock_timeout=1500ms");
  EXPECT_EQ(read_keys(*probe, Predicate{}, {Shard{0, KeyRange{}, 0}}),
            std::vector<std::string>{"1"});
}

// Production load: another application's running statement counts. (Other tests share the
// server, so that Strata's own sessions are left out is not asserted here: the query filters on
// the session's own application_name.)
TEST_F(PostgresSourceTest, ForeignActivityCountsOtherApplicationsOnly) {
  db_->exec("CREATE TABLE t (id int PRIMARY KEY)");
  auto src = open("t", {"id"});
  ASSERT_TRUE(src->describe().is_ok());
  auto active_sleepers = [&](const std::string& app) {
    Session watcher(uri_);
    PGresult* r =
        PQexec(watcher.get(), ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                               "application_name = '" +
                               app + "' AND query LIKE 'SELECT pg_sleep%'")
                                  .c_str());
    const int n = std::atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
  };
  auto during = [&](const std::string& app) {
    const std::string uri =
        uri_ + (uri_.find('?') == std::string::npos ? "?" : "&") + "application_name=" + app;
    Session sleeper(uri);
    std::thread t([&] { sleeper.exec("SELECT pg_sleep(1.5)"); });
    for (int i = 0; i < 100 && active_sleepers(app) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto n = src->foreign_activity();
    t.join();
    return n;
  };
  auto busy = during("orders-app");
  ASSERT_TRUE(busy.is_ok()) << busy.status().to_string();
  EXPECT_GE(*busy, 1.0);
}

// A smaller batch size takes effect mid-stream, through the read-ahead too, and loses no row.
TEST_F(PostgresSourceTest, BatchSizeShrinksMidStream) {
  db_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v text);"
      "INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 5000) i");
  auto src = open("t", {"id"});
  auto schema = std::make_shared<const Schema>(*src->describe());
  auto read = src->read(Predicate{}, Shard{0, KeyRange{}, 0}, 1000);
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  testing_support::expect_batch_size_shrinks_mid_stream(std::move(read).value(), schema, 5000);
}

TEST_F(PostgresSourceTest, ConcurrentShardsReadEverything) {
  db_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v text);"
      "INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 5000) i");
  auto src = open("t", {"id"});
  auto shards = src->plan(Predicate{}, SplitOptions{500});
  ASSERT_TRUE(shards.is_ok());
  ASSERT_EQ(shards->size(), 10u);
  std::atomic<int64_t> rows{0};
  std::atomic<int> failures{0};
  auto schema = std::make_shared<const Schema>(*src->describe());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Batch batch(schema);
      for (size_t i = static_cast<size_t>(t); i < shards->size(); i += 4) {
        auto reader = src->read(Predicate{}, (*shards)[i], 64);
        if (!reader.is_ok()) {
          ++failures;
          continue;
        }
        for (;;) {
          auto more = (*reader)->next(batch);
          if (!more.is_ok()) ++failures;
          if (!more.is_ok() || !*more) break;
          rows += static_cast<int64_t>(batch.num_rows());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(rows.load(), 5000);
}

TEST_F(PostgresSourceTest, StatementsShowLiterals) {
  db_->exec("CREATE TABLE t (id int PRIMARY KEY, at timestamptz, v text)");
  auto src = open("t", {"id"}, "at");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  p.where = "v <> 'b'";
  ShardStatements s =
      src->statements(p, Shard{0, KeyRange{Value::of_int(1), Value::of_int(99)}, 1}, 500);
  EXPECT_EQ(s.read,
            "COPY (SELECT \"id\", \"at\", \"v\" FROM \"public\".\"t\" WHERE \"id\" BETWEEN 1 AND "
            "99 AND \"at\" < '2025-01-01 00:00:00+00'::timestamptz AND (v <> 'b') ORDER BY \"id\") "
            "TO STDOUT "
            "(FORMAT binary)");
  EXPECT_EQ(s.purge,
            "DELETE FROM \"public\".\"t\" WHERE \"id\" IN (<archived keys>) AND \"id\" BETWEEN 1 "
            "AND 99 AND \"at\" < '2025-01-01 00:00:00+00'::timestamptz AND (v <> 'b')");
}

// ---- replication ----

TEST_F(PostgresSourceTest, ReplicationLagIsSeen) {
  std::string replica_uri = pg_test::server_uri("STRATA_TEST_PG_REPLICA_URI");
  ASSERT_FALSE(replica_uri.empty());
  db_->exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
  auto src = open("t", {"id"});
  auto lag = src->replication_lag();
  ASSERT_TRUE(lag.is_ok()) << lag.status().to_string();
  EXPECT_LT(lag->count(), 2000000);

  Session replica(replica_uri);
  replica.exec("ALTER SYSTEM SET recovery_min_apply_delay = '3s'");
  replica.exec("SELECT pg_reload_conf()");
  struct Restore {
    Session& s;
    ~Restore() {
      s.exec("ALTER SYSTEM RESET recovery_min_apply_delay");
      s.exec("SELECT pg_reload_conf()");
    }
  } restore{replica};
  int64_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; std::chrono::steady_clock::now() < deadline && seen < 1000000; ++i) {
    db_->exec("INSERT INTO t VALUES (" + std::to_string(i) + ", 'x')");
    lag = src->replication_lag();
    ASSERT_TRUE(lag.is_ok()) << lag.status().to_string();
    seen = std::max<int64_t>(seen, lag->count());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GE(seen, 1000000) << "replay_lag never reached 1s with a 3s apply delay";
}

}  // namespace
}  // namespace strata

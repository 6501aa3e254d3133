// The sqlite source against real database files: describe, plan, read, delete, errors.
#include "connectors/sqlite/sqlite_source.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "core/fs.h"

namespace strata {
namespace {

// A one-column key batch, as purge reads it back from archived files.
Batch as_keys(const ColumnVector& keys) {
  Batch b(std::make_shared<const Schema>(Schema({Column{"key", keys.type()}})));
  for (size_t i = 0; i < keys.size(); ++i) b.column(0).append_from(keys, i);
  return b;
}

// A database file the test writes with plain SQL, independently of the source.
class TestDb {
 public:
  explicit TestDb(const std::string& path) : path_(path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~TestDb() { sqlite3_close_v2(db_); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
  }
  // The first column of every row, as text ("NULL" for null).
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      out.push_back(t ? t : "NULL");
    }
    sqlite3_finalize(st);
    return out;
  }
  int64_t count(const std::string& sql) { return std::stoll(column(sql).at(0)); }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class SqliteSourceTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/strata_sqlite_" + std::to_string(getpid()) + "_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/src.db";
    db_ = std::make_unique<TestDb>(path_);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Source> open(const std::string& table, const std::string& key,
                               const std::string& time = "", const std::string& where = "",
                               const std::string& uri_suffix = "") {
    SourceSpec spec;
    spec.uri = "sqlite://src.db" + uri_suffix;
    spec.base_dir = dir_;
    spec.table = table;
    spec.key_columns = {key};
    spec.time_column = time;
    spec.where = where;
    auto src = open_sqlite_source(spec);
    EXPECT_TRUE(src.is_ok()) << src.status().to_string();
    return std::move(src).value();
  }

  // Every key a source returns for `shards`, in order, as text; checks batch sizes.
  std::vector<std::string> read_keys(Source& src, const Predicate& p,
                                     const std::vector<Shard>& shards, size_t batch_rows,
                                     const std::string& key) {
    auto schema = std::make_shared<const Schema>(*src.describe());
    int k = schema->index_of(key);
    EXPECT_GE(k, 0);
    std::vector<std::string> keys;
    Batch batch(schema);
    for (const Shard& shard : shards) {
      auto reader = src.read(p, shard, batch_rows);
      EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
      if (!reader.is_ok()) return keys;
      for (;;) {
        auto more = (*reader)->next(batch);
        EXPECT_TRUE(more.is_ok()) << more.status().to_string();
        if (!more.is_ok() || !*more) break;
        EXPECT_GT(batch.num_rows(), 0u);
        EXPECT_LE(batch.num_rows(), batch_rows);
        for (size_t r = 0; r < batch.num_rows(); ++r) {
          Value v = batch.column(static_cast<size_t>(k)).value_at(r);
          keys.push_back(v.is_text() ? v.as_text() : v.to_string());
        }
      }
    }
    return keys;
  }

  // Checks shards are in key order, disjoint, and each selects at most `shard_rows` rows.
  void check_shards(const std::vector<Shard>& shards, int64_t shard_rows, const std::string& table,
                    const std::string& key, const std::string& cond) {
    for (size_t i = 0; i < shards.size(); ++i) {
      EXPECT_EQ(shards[i].index, static_cast<int>(i));
      ASSERT_FALSE(shards[i].range.lo.is_null());
      ASSERT_FALSE(shards[i].range.hi.is_null());
      EXPECT_LE(shards[i].range.lo.compare(shards[i].range.hi), 0);
      if (i > 0) {
        EXPECT_LT(shards[i - 1].range.hi.compare(shards[i].range.lo), 0);
      }
      auto lit = [](const Value& v) { return v.to_string(); };  // SQL literal form
      int64_t n = db_->count("SELECT count(*) FROM " + table + " WHERE " + key + " BETWEEN " +
                             lit(shards[i].range.lo) + " AND " + lit(shards[i].range.hi) +
                             (cond.empty() ? "" : " AND " + cond));
      EXPECT_LE(n, shard_rows) << "shard " << i;
      EXPECT_GT(n, 0) << "shard " << i;
      EXPECT_LE(shards[i].estimated_rows, shard_rows);
    }
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<TestDb> db_;
};

TEST_F(SqliteSourceTest, DescribeMapsEveryDeclaredType) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, i BIGINT NOT NULL, r REAL, d DOUBLE, b BOOLEAN, "
      "s VARCHAR(10), c CLOB, x TEXT, bl BLOB, untyped, ts TIMESTAMP, dt DATETIME, day DATE, "
      "money DECIMAL(10,2), n NUMERIC(5), j JSON, other GEOMETRY)");
  auto src = open("t", "id");
  auto schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  std::vector<std::pair<std::string, Type>> want = {
      {"id", Type::kInt64},      {"i", Type::kInt64},       {"r", Type::kDouble},
      {"d", Type::kDouble},      {"b", Type::kBool},        {"s", Type::kString},
      {"c", Type::kString},      {"x", Type::kString},      {"bl", Type::kBytes},
      {"untyped", Type::kBytes}, {"ts", Type::kTimestamp},  {"dt", Type::kTimestamp},
      {"day", Type::kDate},      {"money", Type::kDecimal}, {"n", Type::kDecimal},
      {"j", Type::kJson},        {"other", Type::kString}};
  ASSERT_EQ(schema->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*schema)[i].name, want[i].first);
    EXPECT_EQ((*schema)[i].type, want[i].second) << want[i].first;
  }
  EXPECT_FALSE((*schema)[1].nullable);
  EXPECT_EQ((*schema)[13].precision, 10);
  EXPECT_EQ((*schema)[13].scale, 2);
  EXPECT_EQ((*schema)[13].source_type, "DECIMAL(10,2)");
  EXPECT_EQ((*schema)[16].source_type, "GEOMETRY");
}

TEST_F(SqliteSourceTest, ReadsEveryTypeIntoColumns) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, b BOOLEAN, day DATE, money DECIMAL(10,2), j JSON, "
      "bl BLOB, ts TIMESTAMP, r REAL, s TEXT);"
      "INSERT INTO t VALUES (1, 1, '2026-01-31', 12.5, '{\"a\":1}', x'00ff', "
      "'2026-01-31 12:00:00.5', 1.5, 'it''s');"
      "INSERT INTO t VALUES (2, 0, 20484, '3', '[]', x'', 1769860800, -2, '');"
      "INSERT INTO t VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);");
  auto src = open("t", "id");
  auto schema = std::make_shared<const Schema>(*src->describe());
  Shard all{0, KeyRange{Value::of_int(1), Value::of_int(3)}, 3};
  auto reader = src->read(Predicate{}, all, 10);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  Batch batch(schema);
  auto more = (*reader)->next(batch);
  ASSERT_TRUE(more.is_ok()) << more.status().to_string();
  ASSERT_TRUE(*more);
  ASSERT_EQ(batch.num_rows(), 3u);
  EXPECT_TRUE(batch.column(1).bool_at(0));
  EXPECT_FALSE(batch.column(1).bool_at(1));
  EXPECT_EQ(batch.column(2).int_at(0), *parse_date("2026-01-31"));
  EXPECT_EQ(batch.column(2).int_at(1), 20484);
  EXPECT_EQ(batch.column(3).text_at(0), "12.50");
  EXPECT_EQ(batch.column(3).text_at(1), "3.00");
  EXPECT_EQ(batch.column(4).text_at(0), "{\"a\":1}");
  EXPECT_EQ(batch.column(5).text_at(0), std::string("\0\xff", 2));
  EXPECT_EQ(batch.column(5).text_at(1), "");
  EXPECT_EQ(batch.column(6).int_at(0), *parse_timestamp("2026-01-31T12:00:00.5Z"));
  EXPECT_EQ(batch.column(6).int_at(1), *parse_timestamp("2026-01-31T12:00:00Z"));
  EXPECT_EQ(batch.column(7).double_at(0), 1.5);
  EXPECT_EQ(batch.column(7).double_at(1), -2.0);
  EXPECT_EQ(batch.column(8).text_at(0), "it's");
  EXPECT_FALSE(batch.column(8).is_null(1));
  for (size_t c = 1; c < batch.num_columns(); ++c) EXPECT_TRUE(batch.column(c).is_null(2)) << c;
  more = (*reader)->next(batch);
  ASSERT_TRUE(more.is_ok());
  EXPECT_FALSE(*more);
}

TEST_F(SqliteSourceTest, BadValueNamesTableColumnKeyAndText) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);"
      "INSERT INTO t VALUES (1, 5), (2, 'five');");
  auto src = open("t", "id");
  auto schema = std::make_shared<const Schema>(*src->describe());
  auto reader =
      src->read(Predicate{}, Shard{0, KeyRange{Value::of_int(1), Value::of_int(2)}, 2}, 10);
  ASSERT_TRUE(reader.is_ok());
  Batch batch(schema);
  auto more = (*reader)->next(batch);
  ASSERT_FALSE(more.is_ok());
  const std::string& m = more.status().message();
  EXPECT_TRUE(more.status().is_permanent());
  EXPECT_NE(m.find("'t'"), std::string::npos) << m;
  EXPECT_NE(m.find("'n'"), std::string::npos) << m;
  EXPECT_NE(m.find("key 2"), std::string::npos) << m;
  EXPECT_NE(m.find("'five'"), std::string::npos) << m;
}

TEST_F(SqliteSourceTest, MissingDatabaseIsPermanentAndNotCreated) {
  SourceSpec spec;
  spec.uri = "sqlite://nope.db";
  spec.base_dir = dir_;
  spec.table = "t";
  spec.key_columns = {"id"};
  auto src = open_sqlite_source(spec);
  ASSERT_TRUE(src.is_ok());
  auto schema = (*src)->describe();
  ASSERT_FALSE(schema.is_ok());
  EXPECT_TRUE(schema.status().is_permanent());
  EXPECT_NE(schema.status().message().find(dir_ + "/nope.db"), std::string::npos)
      << schema.status().message();
  EXPECT_FALSE(path_exists(dir_ + "/nope.db"));
}

TEST_F(SqliteSourceTest, ExpandsEnvironmentAtConnect) {
  db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  SourceSpec spec;
  spec.uri = "sqlite://${STRATA_SQLITE_TEST_DIR}/src.db";
  spec.table = "t";
  spec.key_columns = {"id"};
  unsetenv("STRATA_SQLITE_TEST_DIR");
  auto src = open_sqlite_source(spec);
  ASSERT_TRUE(src.is_ok());
  auto missing = (*src)->describe();
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("STRATA_SQLITE_TEST_DIR"), std::string::npos);
  setenv("STRATA_SQLITE_TEST_DIR", dir_.c_str(), 1);
  auto schema = (*src)->describe();
  EXPECT_TRUE(schema.is_ok()) << schema.status().to_string();
  unsetenv("STRATA_SQLITE_TEST_DIR");
}

TEST_F(SqliteSourceTest, MissingTableListsTables) {
  db_->exec(
      "CREATE TABLE alpha (id INTEGER PRIMARY KEY); CREATE TABLE beta (id INTEGER PRIMARY KEY)");
  auto schema = open("gamma", "id")->describe();
  ASSERT_FALSE(schema.is_ok());
  EXPECT_TRUE(schema.status().is_permanent());
  EXPECT_EQ(schema.status().message(),
            "sqlite " + dir_ + "/src.db: table 'gamma' does not exist (tables: alpha, beta)");
}

TEST_F(SqliteSourceTest, MissingKeyAndTimeColumns) {
  db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT)");
  auto schema = open("t", "nope")->describe();
  ASSERT_FALSE(schema.is_ok());
  EXPECT_NE(schema.status().message().find("key column 'nope' does not exist in table 't' "
                                           "(columns: id, at)"),
            std::string::npos)
      << schema.status().message();
  schema = open("t", "id", "when")->describe();
  ASSERT_FALSE(schema.is_ok());
  EXPECT_NE(schema.status().message().find("time column 'when'"), std::string::npos)
      << schema.status().message();
}

TEST_F(SqliteSourceTest, KeyMustBeUnique) {
  db_->exec(
      "CREATE TABLE plain (k INTEGER, v TEXT);"
      "CREATE TABLE composite (a INTEGER, b INTEGER, PRIMARY KEY (a, b));"
      "CREATE TABLE partial (k INTEGER, v TEXT); CREATE UNIQUE INDEX pk ON partial(k) WHERE v > '';"
      "CREATE TABLE uniq (k TEXT, v TEXT); CREATE UNIQUE INDEX uk ON uniq(k);"
      "CREATE TABLE textpk (k TEXT PRIMARY KEY, v TEXT);"
      "CREATE TABLE inline_unique (k INTEGER UNIQUE, v TEXT);");
  for (const char* table : {"plain", "composite", "partial"}) {
    std::string key = std::string(table) == "composite" ? "a" : "k";
    auto schema = open(table, key)->describe();
    ASSERT_FALSE(schema.is_ok()) << table;
    EXPECT_EQ(schema.status().message(),
              "sqlite " + dir_ + "/src.db: key column '" + key + "' of table '" + table +
                  "' is not unique: add a primary key or unique index, or choose another key");
  }
  for (const char* table : {"uniq", "textpk", "inline_unique"}) {
    auto schema = open(table, "k")->describe();
    EXPECT_TRUE(schema.is_ok()) << table << ": " << schema.status().to_string();
  }
}

TEST_F(SqliteSourceTest, QuotesOddIdentifiers) {
  db_->exec(
      "CREATE TABLE \"my \"\"odd\"\" table\" (\"select\" INTEGER PRIMARY KEY, \"a b\" TEXT, "
      "\"q\"\"uote\" TEXT, \"order\" TIMESTAMP);"
      "INSERT INTO \"my \"\"odd\"\" table\" VALUES (1, 'x', 'y', '2020-01-01 00:00:00'), "
      "(2, 'x', 'y', '2030-01-01 00:00:00'), (3, 'z', 'y', '2020-01-01 00:00:00');");
  auto src = open("my \"odd\" table", "select", "order", "\"a b\" = 'x'");
  auto schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  EXPECT_EQ((*schema)[2].name, "q\"uote");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  auto shards = src->plan(p, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  ASSERT_EQ(shards->size(), 1u);
  EXPECT_EQ(read_keys(*src, p, *shards, 10, "select"), std::vector<std::string>{"1"});
  ColumnVector keys(Type::kInt64);
  keys.append_int(1);
  keys.append_int(2);
  auto deleted = src->delete_keys(p, (*shards)[0], as_keys(keys));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(db_->column("SELECT \"select\" FROM \"my \"\"odd\"\" table\" ORDER BY 1"),
            (std::vector<std::string>{"2", "3"}));
}

TEST_F(SqliteSourceTest, SchemaQualifiedTable) {
  db_->exec(
      "CREATE TABLE \"x.y\" (id INTEGER PRIMARY KEY); CREATE TABLE t (id INTEGER PRIMARY KEY);"
      "INSERT INTO t VALUES (1), (2);");
  auto src = open("main.t", "id");
  auto shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  EXPECT_EQ(read_keys(*src, Predicate{}, *shards, 10, "id"), (std::vector<std::string>{"1", "2"}));
  EXPECT_NE(src->statements(Predicate{}, (*shards)[0], 5).read.find("FROM \"main\".\"t\""),
            std::string::npos);
  // A dot that does not name a schema is part of the table name.
  EXPECT_TRUE(open("x.y", "id")->describe().is_ok());
}

TEST_F(SqliteSourceTest, PlanOnEmptyOneAndManyRows) {
  db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  auto src = open("t", "id");
  auto shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  EXPECT_TRUE(shards->empty());

  db_->exec("INSERT INTO t VALUES (7, 'a')");
  shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok());
  ASSERT_EQ(shards->size(), 1u);
  EXPECT_EQ((*shards)[0].range.lo, Value::of_int(7));
  EXPECT_EQ((*shards)[0].range.hi, Value::of_int(7));
  EXPECT_EQ((*shards)[0].estimated_rows, 1);

  db_->exec(
      "WITH RECURSIVE n(x) AS (SELECT 8 UNION ALL SELECT x + 1 FROM n WHERE x < 1000) "
      "INSERT INTO t SELECT x, 'v' FROM n");  // 994 rows in all
  for (int64_t shard_rows : {1, 10, 97, 994, 5000}) {
    shards = src->plan(Predicate{}, SplitOptions{shard_rows});
    ASSERT_TRUE(shards.is_ok());
    EXPECT_EQ(static_cast<int64_t>(shards->size()), (994 + shard_rows - 1) / shard_rows);
    check_shards(*shards, shard_rows, "t", "id", "");
    auto keys = read_keys(*src, Predicate{}, *shards, 33, "id");
    EXPECT_EQ(keys, db_->column("SELECT id FROM t ORDER BY id")) << shard_rows;
  }
}

TEST_F(SqliteSourceTest, PlanSparseIntegerKeysWithPredicate) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);"
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) "
      "INSERT INTO t SELECT x * x * 37, x % 3 FROM n");
  auto src = open("t", "id", "", "v <> 1");
  Predicate p;
  p.key_from = Value::of_int(1000);
  p.key_below = Value::of_int(100000000);
  std::string cond = "v <> 1 AND id >= 1000 AND id < 100000000";
  auto shards = src->plan(p, SplitOptions{50});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  check_shards(*shards, 50, "t", "id", cond);
  int64_t selected = db_->count("SELECT count(*) FROM t WHERE " + cond);
  EXPECT_EQ(static_cast<int64_t>(shards->size()), (selected + 49) / 50);
  EXPECT_EQ(read_keys(*src, p, *shards, 7, "id"),
            db_->column("SELECT id FROM t WHERE " + cond + " ORDER BY id"));
}

TEST_F(SqliteSourceTest, PlanTextKeys) {
  db_->exec(
      "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);"
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 500) "
      "INSERT INTO t SELECT printf('user-%x-''q', x * 7919), x FROM n");
  auto src = open("t", "k");
  auto shards = src->plan(Predicate{}, SplitOptions{64});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  EXPECT_EQ(shards->size(), 8u);
  check_shards(*shards, 64, "t", "k", "");
  EXPECT_TRUE((*shards)[0].range.lo.is_text());
  EXPECT_EQ(read_keys(*src, Predicate{}, *shards, 10, "k"),
            db_->column("SELECT k FROM t ORDER BY k"));
}

TEST_F(SqliteSourceTest, ReadAcrossBatchesMatchesDirectQuery) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, v INTEGER);"
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300) "
      "INSERT INTO t SELECT x * 3, datetime(1767225600 + x * 3600, 'unixepoch'), x % 5 FROM n");
  auto src = open("t", "id", "at");
  Predicate p;
  p.time_before = *parse_timestamp("2026-01-05T00:00:00Z");
  p.where = "v IN (0, 2, 4)";
  auto shards = src->plan(p, SplitOptions{20});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  std::string cond = "at < '2026-01-05 00:00:00' AND v IN (0, 2, 4)";
  check_shards(*shards, 20, "t", "id", cond);
  for (size_t batch_rows : {1, 3, 20, 1000}) {
    EXPECT_EQ(read_keys(*src, p, *shards, batch_rows, "id"),
              db_->column("SELECT id FROM t WHERE " + cond + " ORDER BY id"))
        << batch_rows;
  }
}

TEST_F(SqliteSourceTest, TimeColumnAsIsoText) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT);"
      "INSERT INTO t VALUES (1, '2026-01-01T10:00:00.000Z'), (2, '2026-01-01T11:59:59.999Z'),"
      " (3, '2026-01-01T12:00:00.000Z'), (4, '2026-01-02T00:00:00.000Z'), (5, NULL);");
  auto src = open("t", "id", "at");
  auto schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  EXPECT_EQ((*schema)[1].type, Type::kTimestamp);
  EXPECT_EQ((*schema)[1].source_type, "TEXT");
  Predicate p;
  p.time_before = *parse_timestamp("2026-01-01T12:00:00Z");
  auto shards = src->plan(p, SplitOptions{100});
  ASSERT_TRUE(shards.is_ok());
  EXPECT_EQ(read_keys(*src, p, *shards, 100, "id"), (std::vector<std::string>{"1", "2"}));
  EXPECT_NE(src->statements(p, (*shards)[0], 100).read.find("\"at\" < '2026-01-01T12:00:00.000Z'"),
            std::string::npos)
      << src->statements(p, (*shards)[0], 100).read;
  Predicate from;
  from.time_from = *parse_timestamp("2026-01-01T12:00:00Z");
  shards = src->plan(from, SplitOptions{100});
  ASSERT_TRUE(shards.is_ok());
  EXPECT_EQ(read_keys(*src, from, *shards, 100, "id"), (std::vector<std::string>{"3", "4"}));

  auto sch = std::make_shared<const Schema>(*schema);
  Batch batch(sch);
  auto reader =
      src->read(Predicate{}, Shard{0, KeyRange{Value::of_int(1), Value::of_int(5)}, 5}, 9);
  ASSERT_TRUE(reader.is_ok());
  ASSERT_TRUE(*(*reader)->next(batch));
  EXPECT_EQ(batch.column(1).int_at(1), *parse_timestamp("2026-01-01T11:59:59.999Z"));
  EXPECT_TRUE(batch.column(1).is_null(4));
}

TEST_F(SqliteSourceTest, TimeColumnAsEpochIntegers) {
  const int64_t noon = 1767268800;  // 2026-01-01T12:00:00Z
  for (int64_t unit : {1, 1000, 1000000}) {
    SCOPED_TRACE(unit);
    db_->exec("DROP TABLE IF EXISTS t; CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER)");
    db_->exec("INSERT INTO t VALUES (1, " + std::to_string((noon - 7200) * unit) + "), (2, " +
              std::to_string((noon - 1) * unit) + "), (3, " + std::to_string(noon * unit) +
              "), (4, " + std::to_string((noon + 1) * unit) + ")");
    auto src = open("t", "id", "at");
    Predicate p;
    p.time_before = noon * 1000000;
    auto shards = src->plan(p, SplitOptions{100});
    ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
    EXPECT_EQ(read_keys(*src, p, *shards, 100, "id"), (std::vector<std::string>{"1", "2"}));
    auto schema = std::make_shared<const Schema>(*src->describe());
    Batch batch(schema);
    auto reader = src->read(p, (*shards)[0], 100);
    ASSERT_TRUE(reader.is_ok());
    ASSERT_TRUE(*(*reader)->next(batch));
    EXPECT_EQ(batch.column(1).int_at(1), (noon - 1) * 1000000);
  }
}

TEST_F(SqliteSourceTest, UnparseableTimeIsPermanent) {
  db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT); INSERT INTO t VALUES (42, 'soon')");
  auto schema = open("t", "id", "at")->describe();
  ASSERT_FALSE(schema.is_ok());
  const std::string& m = schema.status().message();
  EXPECT_TRUE(schema.status().is_permanent());
  EXPECT_NE(m.find("table 't'"), std::string::npos) << m;
  EXPECT_NE(m.find("'at'"), std::string::npos) << m;
  EXPECT_NE(m.find("key 42"), std::string::npos) << m;
  EXPECT_NE(m.find("'soon'"), std::string::npos) << m;
}

TEST_F(SqliteSourceTest, DeleteOnlyKeysStillMatching) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, v TEXT);"
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1200) "
      "INSERT INTO t SELECT x, '2020-01-01 00:00:00', 'old' FROM n");
  auto src = open("t", "id", "at", "v = 'old'");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  auto shards = src->plan(p, SplitOptions{1100});
  ASSERT_TRUE(shards.is_ok());
  ASSERT_EQ(shards->size(), 2u);
  // Archived keys: the whole first shard (1..1100), plus 1150 which lies outside it.
  ColumnVector keys(Type::kInt64);
  for (int64_t k = 1; k <= 1100; ++k) keys.append_int(k);
  keys.append_int(1150);
  // Rows that changed after archiving no longer match and must survive.
  db_->exec("UPDATE t SET at = '2026-06-01 00:00:00' WHERE id = 10");
  db_->exec("UPDATE t SET v = 'new' WHERE id = 20");
  db_->exec("DELETE FROM t WHERE id = 30");
  auto deleted = src->delete_keys(p, (*shards)[0], as_keys(keys));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 1097u);
  EXPECT_EQ(db_->column("SELECT id FROM t WHERE id <= 1100 ORDER BY id"),
            (std::vector<std::string>{"10", "20"}));
  EXPECT_EQ(db_->count("SELECT count(*) FROM t"), 102);
  // Deleting again deletes nothing.
  deleted = src->delete_keys(p, (*shards)[0], as_keys(keys));
  ASSERT_TRUE(deleted.is_ok());
  EXPECT_EQ(*deleted, 0u);
}

TEST_F(SqliteSourceTest, DeleteContiguousRunDeletesExactlyTheArchivedKeys) {
  db_->exec(
      "CREATE TABLE u (k INTEGER UNIQUE, at TEXT);"
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20) "
      "INSERT INTO u SELECT x, '2020-01-01 00:00:00' FROM n;"
      "INSERT INTO u VALUES (5.5, '2020-01-01 00:00:00');"      // sorts inside 1..10, not archived
      "UPDATE u SET at = '2026-06-01 00:00:00' WHERE k = 7;");  // no longer matches
  auto src = open("u", "k", "at");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  ColumnVector keys(Type::kInt64);
  for (int64_t k = 1; k <= 10; ++k) keys.append_int(k);
  auto deleted = src->delete_keys(p, Shard{0, KeyRange{Value::of_int(1), Value::of_int(20)}, 20},
                                  as_keys(keys));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 9u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM u WHERE k < 11"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM u WHERE k = 5.5 OR k = 7"), 2);
  EXPECT_EQ(db_->count("SELECT count(*) FROM u"), 12);
}

TEST_F(SqliteSourceTest, DeleteTextKeys) {
  db_->exec("CREATE TABLE t (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('a'), ('b'), ('c')");
  auto src = open("t", "k");
  ColumnVector keys(Type::kString);
  keys.append_text("a");
  keys.append_text("c");
  auto deleted = src->delete_keys(
      Predicate{}, Shard{0, KeyRange{Value::of_text("a"), Value::of_text("b")}, 2}, as_keys(keys));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(db_->column("SELECT k FROM t ORDER BY k"), (std::vector<std::string>{"b", "c"}));
}

TEST_F(SqliteSourceTest, BusyDatabaseIsRetryable) {
  db_->exec("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)");
  auto src = open("t", "id", "", "", "?busy_timeout_ms=100");
  ASSERT_TRUE(src->describe().is_ok());
  TestDb locker(path_);
  locker.exec("BEGIN EXCLUSIVE");
  ColumnVector keys(Type::kInt64);
  keys.append_int(1);
  auto deleted = src->delete_keys(
      Predicate{}, Shard{0, KeyRange{Value::of_int(1), Value::of_int(1)}, 1}, as_keys(keys));
  ASSERT_FALSE(deleted.is_ok());
  EXPECT_TRUE(deleted.status().is_retryable()) << deleted.status().to_string();
  EXPECT_NE(deleted.status().message().find(path_), std::string::npos);
  EXPECT_NE(deleted.status().message().find("'t'"), std::string::npos);
  auto shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_FALSE(shards.is_ok());
  EXPECT_TRUE(shards.status().is_retryable()) << shards.status().to_string();
  locker.exec("ROLLBACK");
  deleted = src->delete_keys(Predicate{}, Shard{0, KeyRange{Value::of_int(1), Value::of_int(1)}, 1},
                             as_keys(keys));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 1u);
}

TEST_F(SqliteSourceTest, StatementsShowLiterals) {
  db_->exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, v TEXT);"
      "INSERT INTO t VALUES (1, '2020-01-01 00:00:00', 'a')");
  auto src = open("t", "id", "at");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01");
  p.where = "v <> 'b'";
  Shard shard{0, KeyRange{Value::of_int(1), Value::of_int(99)}, 1};
  ShardStatements s = src->statements(p, shard, 500);
  EXPECT_EQ(s.read,
            "SELECT \"id\", \"at\", \"v\" FROM \"t\" WHERE \"id\" BETWEEN 1 AND 99 AND \"at\" < "
            "'2025-01-01 00:00:00' AND (v <> 'b') ORDER BY \"id\" LIMIT 500");
  EXPECT_EQ(s.purge,
            "DELETE FROM \"t\" WHERE \"id\" IN (<archived keys>) AND \"id\" BETWEEN 1 AND 99 AND "
            "\"at\" < '2025-01-01 00:00:00' AND (v <> 'b')");
}

TEST_F(SqliteSourceTest, ConcurrentShardsReadEverything) {
  db_->exec(
      "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) "
      "INSERT INTO t SELECT x, hex(randomblob(16)) FROM n");
  auto src = open("t", "id");
  auto shards = src->plan(Predicate{}, SplitOptions{500});
  ASSERT_TRUE(shards.is_ok());
  ASSERT_EQ(shards->size(), 10u);
  std::atomic<int64_t> rows{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  auto schema = std::make_shared<const Schema>(*src->describe());
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

}  // namespace
}  // namespace strata

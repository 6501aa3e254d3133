// The MySQL source against the real MariaDB test server: describe, every type through read, keys,
// plans, deletes, errors under killed connections and held locks, replica lag.
#include "connectors/mysql/mysql_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "connectors/mysql/mysql_test_util.h"
#include "tests/support/reader_checks.h"

namespace strata {
namespace {

using mysql_test::Admin;
using mysql_test::MysqlTest;

class MysqlSourceTest : public MysqlTest {
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
    auto src = open_mysql_source(spec);
    EXPECT_TRUE(src.is_ok()) << src.status().to_string();
    return src.is_ok() ? std::move(src).value() : nullptr;
  }

  // Every row a source returns for `shards`, each row's columns as text, in order.
  std::vector<std::vector<std::string>> read_all(Source& src, const Predicate& p,
                                                 const std::vector<Shard>& shards,
                                                 size_t batch_rows) {
    auto described = src.describe();
    EXPECT_TRUE(described.is_ok()) << described.status().to_string();
    auto schema = std::make_shared<const Schema>(*described);
    std::vector<std::vector<std::string>> out;
    Batch batch(schema);
    for (const Shard& shard : shards) {
      auto reader = src.read(p, shard, batch_rows);
      EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
      if (!reader.is_ok()) return out;
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
          out.push_back(std::move(row));
        }
      }
    }
    return out;
  }

  std::vector<std::string> read_first_column(Source& src, const Predicate& p,
                                             const std::vector<Shard>& shards, size_t batch_rows) {
    std::vector<std::string> keys;
    for (auto& row : read_all(src, p, shards, batch_rows)) keys.push_back(row[0]);
    return keys;
  }

  static Shard all_rows() { return Shard{0, KeyRange{}, 0}; }

  // Kills every other connection into this test's database (the source's), as a DBA or a
  // restart would; returns how many.
  int kill_source_connections() {
    int killed = 0;
    for (auto& row : admin_->rows("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '" +
                                  db_ + "' AND ID <> CONNECTION_ID()")) {
      admin_->exec("KILL CONNECTION " + *row[0]);
      ++killed;
    }
    return killed;
  }

  // The key batch (one int64 column named `id`) for delete_keys.
  static Batch int_keys(const std::vector<int64_t>& ids, const std::string& name = "id") {
    auto schema = std::make_shared<const Schema>(std::vector<Column>{{name, Type::kInt64}});
    Batch b(schema);
    for (int64_t id : ids) b.column(0).append_int(id);
    return b;
  }
};

TEST_F(MysqlSourceTest, DescribeMapsEveryType) {
  admin_->exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, ti tinyint, si smallint, mi mediumint, i int NOT "
      "NULL, ub bigint unsigned, y year, bt bit(10), d decimal(12,2), f float, db double, c "
      "char(3), vc varchar(64), tx text, lt longtext, e enum('a','b'), st set('x','y'), bn "
      "binary(2), vb varbinary(8), bl blob, dt date, dtt datetime(6), ts timestamp(3) NULL, tm "
      "time, j json, u uuid, i4 inet4, i6 inet6)");
  auto src = open("t", {"id"});
  auto schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  std::vector<std::tuple<std::string, Type, std::string>> want = {
      {"id", Type::kInt64, "bigint(20)"},
      {"ti", Type::kInt64, "tinyint(4)"},
      {"si", Type::kInt64, "smallint(6)"},
      {"mi", Type::kInt64, "mediumint(9)"},
      {"i", Type::kInt64, "int(11)"},
      {"ub", Type::kDecimal, "bigint(20) unsigned"},
      {"y", Type::kInt64, "year(4)"},
      {"bt", Type::kInt64, "bit(10)"},
      {"d", Type::kDecimal, "decimal(12,2)"},
      {"f", Type::kDouble, "float"},
      {"db", Type::kDouble, "double"},
      {"c", Type::kString, "char(3)"},
      {"vc", Type::kString, "varchar(64)"},
      {"tx", Type::kString, "text"},
      {"lt", Type::kString, "longtext"},
      {"e", Type::kString, "enum('a','b')"},
      {"st", Type::kString, "set('x','y')"},
      {"bn", Type::kBytes, "binary(2)"},
      {"vb", Type::kBytes, "varbinary(8)"},
      {"bl", Type::kBytes, "blob"},
      {"dt", Type::kDate, "date"},
      {"dtt", Type::kTimestamp, "datetime(6)"},
      {"ts", Type::kTimestamp, "timestamp(3)"},
      {"tm", Type::kString, "time"},
      {"j", Type::kJson, "json"},
      {"u", Type::kString, "uuid"},
      {"i4", Type::kString, "inet4"},
      {"i6", Type::kString, "inet6"}};
  ASSERT_EQ(schema->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*schema)[i].name, std::get<0>(want[i]));
    EXPECT_EQ((*schema)[i].type, std::get<1>(want[i])) << std::get<0>(want[i]);
    EXPECT_EQ((*schema)[i].source_type, std::get<2>(want[i]));
  }
  EXPECT_FALSE((*schema)[0].nullable);
  EXPECT_FALSE((*schema)[4].nullable);
  EXPECT_TRUE((*schema)[1].nullable);
  EXPECT_EQ((*schema)[5].precision, 20);
  EXPECT_EQ((*schema)[8].precision, 12);
  EXPECT_EQ((*schema)[8].scale, 2);
}

TEST_F(MysqlSourceTest, EveryTypeRoundTripsExactly) {
  admin_->exec(
      "CREATE TABLE t (id bigint PRIMARY KEY, ti tinyint, i int, big bigint, ub bigint unsigned, "
      "y year, bt bit(64), d decimal(30,10), f float, db double, vc varchar(64), tx text, e "
      "enum('a','b'), st set('x','y'), vb varbinary(8), bl longblob, dt date, dtt datetime(6), "
      "ts timestamp(6) NULL, tm time(3), j json, u uuid, i6 inet6) CHARACTER SET utf8mb4");
  admin_->exec(
      "INSERT INTO t VALUES (1, -128, -2147483648, -9223372036854775808, 18446744073709551615, "
      "1901, b'1111111111111111111111111111111111111111111111111111111111111111', "
      "-12345678901234567890.0123456789, 12.3, 2.2250738585072014e-308, 'it''s \\\\ \"q\" ☃', "
      "'', 'b', 'x,y', x'00ff0a27', x'', '1000-01-01', '1970-01-01 00:00:00.000001', "
      "'2038-01-19 03:14:07.999999', '-838:59:59.000', '{\"a\": [1, \"☃\"]}', "
      "'c5ab2f2b-1e2a-4a1e-9d4d-0f3a9a1e2b3c', '2001:db8::1')");
  admin_->exec(
      "INSERT INTO t VALUES (2, 127, 2147483647, 9223372036854775807, 0, 2155, b'0', 0.5, "
      "-1e-30, -1.7976931348623157e308, 'x', 'long', 'a', '', x'', x'01', '9999-12-31', "
      "'9999-12-31 23:59:59.999999', '1970-01-01 00:00:01', '00:00:00', '[]', "
      "'00000000-0000-0000-0000-000000000000', '::')");
  admin_->exec("INSERT INTO t (id) VALUES (3)");  // every other column NULL
  auto src = open("t", {"id"});
  auto schema = std::make_shared<const Schema>(*src->describe());
  auto reader = src->read(Predicate{}, all_rows(), 10);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  Batch batch(schema);
  auto more = (*reader)->next(batch);
  ASSERT_TRUE(more.is_ok()) << more.status().to_string();
  ASSERT_TRUE(*more);
  ASSERT_EQ(batch.num_rows(), 3u);
  auto col = [&](const char* name) -> const ColumnVector& {
    return batch.column(static_cast<size_t>(schema->index_of(name)));
  };
  EXPECT_EQ(col("ti").int_at(0), -128);
  EXPECT_EQ(col("ti").int_at(1), 127);
  EXPECT_EQ(col("i").int_at(0), -2147483648LL);
  EXPECT_EQ(col("big").int_at(0), INT64_MIN);
  EXPECT_EQ(col("big").int_at(1), INT64_MAX);
  EXPECT_EQ(col("ub").text_at(0), "18446744073709551615");
  EXPECT_EQ(col("ub").text_at(1), "0");
  EXPECT_EQ(col("y").int_at(0), 1901);
  EXPECT_EQ(col("bt").int_at(0), -1);  // all 64 bits set
  EXPECT_EQ(col("bt").int_at(1), 0);
  EXPECT_EQ(col("d").text_at(0), "-12345678901234567890.0123456789");
  EXPECT_EQ(col("d").text_at(1), "0.5000000000");
  EXPECT_EQ(col("f").double_at(0), 12.3);
  EXPECT_EQ(col("f").double_at(1), -1e-30);
  EXPECT_EQ(col("db").double_at(0), 2.2250738585072014e-308);
  EXPECT_EQ(col("db").double_at(1), -1.7976931348623157e308);
  EXPECT_EQ(col("vc").text_at(0), "it's \\ \"q\" ☃");
  EXPECT_EQ(col("tx").text_at(0), "");
  EXPECT_FALSE(col("tx").is_null(0));
  EXPECT_EQ(col("e").text_at(0), "b");
  EXPECT_EQ(col("st").text_at(0), "x,y");
  EXPECT_EQ(col("st").text_at(1), "");
  EXPECT_EQ(col("vb").text_at(0), std::string("\x00\xff\x0a\x27", 4));
  EXPECT_EQ(col("bl").text_at(0), "");
  EXPECT_EQ(col("bl").text_at(1), "\x01");
  EXPECT_EQ(col("dt").int_at(0), *parse_date("1000-01-01"));
  EXPECT_EQ(col("dt").int_at(1), *parse_date("9999-12-31"));
  EXPECT_EQ(col("dtt").int_at(0), 1);
  EXPECT_EQ(col("dtt").int_at(1), *parse_timestamp("9999-12-31T23:59:59.999999Z"));
  EXPECT_EQ(col("ts").int_at(0), *parse_timestamp("2038-01-19T03:14:07.999999Z"));
  EXPECT_EQ(col("ts").int_at(1), 1000000);
  EXPECT_EQ(col("tm").text_at(0), "-838:59:59.000");
  EXPECT_EQ(col("j").text_at(0), "{\"a\": [1, \"☃\"]}");
  EXPECT_EQ(col("u").text_at(0), "c5ab2f2b-1e2a-4a1e-9d4d-0f3a9a1e2b3c");
  EXPECT_EQ(col("i6").text_at(0), "2001:db8::1");
  for (size_t c = 1; c < batch.num_columns(); ++c) {
    EXPECT_TRUE(batch.column(c).is_null(2)) << (*schema)[c].name;
    EXPECT_FALSE(batch.column(c).is_null(0)) << (*schema)[c].name;
  }
  more = (*reader)->next(batch);
  ASSERT_TRUE(more.is_ok());
  EXPECT_FALSE(*more);
}

TEST_F(MysqlSourceTest, ZeroDateNamesColumnAndKey) {
  admin_->exec("SET SESSION sql_mode = ''");
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, dt datetime); INSERT INTO t VALUES (1, '2026-01-01'), "
      "(7, '0000-00-00 00:00:00')");
  auto src = open("t", {"id"});
  auto schema = std::make_shared<const Schema>(*src->describe());
  auto reader = src->read(Predicate{}, all_rows(), 10);
  ASSERT_TRUE(reader.is_ok());
  Batch batch(schema);
  auto more = (*reader)->next(batch);
  ASSERT_FALSE(more.is_ok());
  EXPECT_TRUE(more.status().is_permanent());
  const std::string& m = more.status().message();
  EXPECT_NE(m.find("column 'dt'"), std::string::npos) << m;
  EXPECT_NE(m.find("id=7"), std::string::npos) << m;
  EXPECT_NE(m.find("0000-00-00"), std::string::npos) << m;
  EXPECT_NE(m.find("table 't'"), std::string::npos) << m;
}

TEST_F(MysqlSourceTest, CompositeKeyReadsInKeyOrderAndDeletesByTuples) {
  admin_->exec(
      "CREATE TABLE t (tenant int NOT NULL, seq varchar(10) NOT NULL, v int, "
      "PRIMARY KEY (tenant, seq))");
  std::string values;
  for (int tenant = 3; tenant >= 1; --tenant) {
    for (int s = 0; s < 7; ++s) {
      values += std::string(values.empty() ? "" : ",") + "(" + std::to_string(tenant) + ", 's" +
                std::to_string(s) + "', " + std::to_string(tenant * 100 + s) + ")";
    }
  }
  admin_->exec("INSERT INTO t VALUES " + values);
  auto src = open("t", {"tenant", "seq"});
  auto rows = read_all(*src, Predicate{}, {all_rows()}, 3);  // pages split tenants
  ASSERT_EQ(rows.size(), 21u);
  for (size_t i = 0; i < rows.size(); ++i) {
    int tenant = static_cast<int>(i / 7) + 1;
    EXPECT_EQ(rows[i][0], std::to_string(tenant)) << i;
    EXPECT_EQ(rows[i][1], "'s" + std::to_string(i % 7) + "'") << i;
  }
  // Shards are ranges of the first key column; a tenant is never split.
  auto shards = src->plan(Predicate{}, SplitOptions{10});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  EXPECT_EQ(read_all(*src, Predicate{}, *shards, 4).size(), 21u);

  auto schema = std::make_shared<const Schema>(
      std::vector<Column>{{"tenant", Type::kInt64}, {"seq", Type::kString}});
  Batch keys(schema);
  for (auto [t, s] : std::vector<std::pair<int, const char*>>{{1, "s0"}, {2, "s6"}, {3, "s9"}}) {
    keys.column(0).append_int(t);
    keys.column(1).append_text(s);
  }
  auto deleted = src->delete_keys(Predicate{}, all_rows(), keys);
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 2u);  // (3, s9) does not exist
  EXPECT_EQ(admin_->count("SELECT count(*) FROM t"), 19);
  EXPECT_EQ(admin_->count("SELECT count(*) FROM t WHERE (tenant, seq) IN ((1,'s0'),(2,'s6'))"), 0);
}

TEST_F(MysqlSourceTest, NamesNeedingQuoting) {
  extra_dbs_.push_back("st odd`db");
  admin_->exec("CREATE DATABASE `st odd``db` CHARACTER SET utf8mb4");
  admin_->exec(
      "CREATE TABLE `st odd``db`.`My ``Table`` x` (`Key Col` int PRIMARY KEY, `When` datetime NOT "
      "NULL, `select` varchar(10), `MiXeD` int)");
  admin_->exec(
      "INSERT INTO `st odd``db`.`My ``Table`` x` VALUES (1, '2020-01-01', 'a', 1), (2, "
      "'2030-01-01', 'b', 2), (3, '2020-06-01', 'it''s', 3)");
  auto src = open("st odd`db.My `Table` x", {"Key Col"}, "When", "`select` <> 'b'");
  Predicate p;
  p.time_before = *parse_timestamp("2025-01-01T00:00:00Z");
  auto shards = src->plan(p, SplitOptions{1});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  auto rows = read_all(*src, p, *shards, 1);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(rows[1][0], "3");
  EXPECT_EQ(rows[1][2], "'it''s'");
  auto deleted = src->delete_keys(p, all_rows(), int_keys({1, 2, 3}, "Key Col"));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 2u);  // key 2 is outside the predicate
  auto st = src->statements(p, (*shards)[0], 100);
  EXPECT_NE(st.read.find("`st odd``db`.`My ``Table`` x`"), std::string::npos) << st.read;
  EXPECT_NE(st.read.find("`When` < '2025-01-01 00:00:00"), std::string::npos) << st.read;
  EXPECT_NE(st.purge.find("DELETE FROM `st odd``db`.`My ``Table`` x`"), std::string::npos)
      << st.purge;
  EXPECT_NE(st.purge.find("(`select` <> 'b')"), std::string::npos) << st.purge;
}

TEST_F(MysqlSourceTest, KeyMustBeUniqueNotNullAndNamedExactly) {
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, n int, plain int, "
      "UNIQUE KEY uk_ab (a, b), UNIQUE KEY uk_n (n))");
  auto expect_error = [&](std::vector<std::string> keys, const std::string& needle,
                          const std::string& time = "") {
    auto src = open("t", keys, time);
    auto s = src->describe();
    ASSERT_FALSE(s.is_ok());
    EXPECT_TRUE(s.status().is_permanent());
    EXPECT_NE(s.status().message().find(needle), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find("strata:***@127.0.0.1"), std::string::npos);
    EXPECT_EQ(s.status().message().find("strata-test"), std::string::npos);  // no password
  };
  expect_error({"plain"}, "unique keys: PRIMARY (id), uk_ab (a, b), uk_n (n)");
  expect_error({"b", "a"}, "is not the primary key or a unique index's columns in that order");
  expect_error({"a"}, "key (a) of table 't'");
  expect_error({"n"}, "allows NULL");
  expect_error({"ID"}, "did you mean 'id'?");
  expect_error({"nope"}, "columns: id, a, b, n, plain");
  expect_error({"id"}, "time column 'plain' of table 't' has type 'int(11)'", "plain");
  expect_error({"id"}, "did you mean 'plain'", "PLAIN");
  EXPECT_TRUE(open("t", {"a", "b"})->describe().is_ok());
  EXPECT_TRUE(open("t", {"id"})->describe().is_ok());

  auto missing = open("T", {"id"})->describe();
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("did you mean 't'?"), std::string::npos)
      << missing.status().message();
  admin_->exec("CREATE VIEW v AS SELECT * FROM t");
  auto view = open("v", {"id"})->describe();
  ASSERT_FALSE(view.is_ok());
  EXPECT_NE(view.status().message().find("is a view"), std::string::npos);
}

TEST_F(MysqlSourceTest, UnsupportedTypeMustBeExcluded) {
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, shape geometry, v int); INSERT INTO t VALUES (1, "
      "ST_GeomFromText('POINT(1 1)'), 5)");
  auto bad = open("t", {"id"})->describe();
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(bad.status().is_permanent());
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("column 'shape' has type 'geometry'"), std::string::npos) << m;
  EXPECT_NE(m.find("exclude"), std::string::npos) << m;
  EXPECT_NE(m.find("table 't'"), std::string::npos) << m;

  auto src = open("t", {"id"}, "", "", {"shape"});
  auto schema = src->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  ASSERT_EQ(schema->size(), 2u);
  EXPECT_EQ((*schema)[1].name, "v");
  auto rows = read_all(*src, Predicate{}, {all_rows()}, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"1", "5"}));

  auto key_excluded = open("t", {"id"}, "", "", {"shape", "id"})->describe();
  ASSERT_FALSE(key_excluded.is_ok());
  EXPECT_NE(key_excluded.status().message().find("excluded but it is a key"), std::string::npos);
}

// Checks `shards` are disjoint, in order, and that reading them gives every selected row once.
void expect_exact_cover(const std::vector<Shard>& shards, const std::vector<std::string>& read,
                        const std::vector<std::string>& want) {
  for (size_t i = 0; i < shards.size(); ++i) {
    EXPECT_EQ(shards[i].index, static_cast<int>(i));
    if (i > 0) {
      ASSERT_FALSE(shards[i - 1].range.hi.is_null());
      EXPECT_LT(shards[i - 1].range.hi.compare(shards[i].range.lo), 0) << i;
    }
  }
  if (!shards.empty()) {
    EXPECT_TRUE(shards.back().range.hi.is_null());
  }
  EXPECT_EQ(read, want);
}

TEST_F(MysqlSourceTest, PlanCoversEveryRowOnceOnDenseAndSkewedKeys) {
  admin_->exec("CREATE TABLE t (id bigint PRIMARY KEY, ts datetime NOT NULL)");
  // Dense 1..3000, then a sparse tail up to 10^12, then a dense clump at 5*10^11.
  admin_->exec("INSERT INTO t SELECT seq, '2020-01-01' + INTERVAL seq MINUTE FROM seq_1_to_3000");
  admin_->exec("INSERT INTO t SELECT seq * 1000000000, '2020-06-01' FROM seq_1_to_1000");
  admin_->exec("INSERT INTO t SELECT 500000000001 + seq, '2020-07-01' FROM seq_1_to_2000");
  admin_->exec("ANALYZE TABLE t");
  auto src = open("t", {"id"}, "ts");
  auto want = admin_->column("SELECT id FROM t ORDER BY id");
  for (int64_t shard_rows : {100, 700, 100000}) {
    auto shards = src->plan(Predicate{}, SplitOptions{shard_rows});
    ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
    expect_exact_cover(*shards, read_first_column(*src, Predicate{}, *shards, 997), want);
    // Bounded shards: each near shard_rows (optimizer estimates), never a runaway.
    size_t biggest = 0;
    for (const Shard& s : *shards) {
      std::string hi = s.range.hi.is_null() ? "" : " AND id <= " + s.range.hi.to_string();
      biggest = std::max<size_t>(
          biggest, static_cast<size_t>(admin_->count(
                       "SELECT count(*) FROM t WHERE id >= " + s.range.lo.to_string() + hi)));
    }
    EXPECT_LE(biggest, static_cast<size_t>(shard_rows * 2)) << shard_rows;
    if (shard_rows == 100) {
      EXPECT_GE(shards->size(), 60u);
    }
    if (shard_rows == 100000) {
      EXPECT_EQ(shards->size(), 1u);
    }
  }
  // With a predicate: only the selected rows, each once.
  Predicate p;
  p.time_before = *parse_timestamp("2020-01-02T00:00:00Z");  // ids 1..1439
  p.key_from = Value::of_int(10);
  auto shards = src->plan(p, SplitOptions{200});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  expect_exact_cover(*shards, read_first_column(*src, p, *shards, 64),
                     admin_->column("SELECT id FROM t WHERE ts < '2020-01-02' AND id >= 10 "
                                    "ORDER BY id"));
  EXPECT_LE(shards->size(), 12u);  // the filtered bounds keep the sparse tail out
  // Nothing selected: no shard.
  Predicate none;
  none.time_before = *parse_timestamp("2000-01-01T00:00:00Z");
  auto empty = src->plan(none, SplitOptions{100});
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->empty());
}

// InnoDB's estimate for a dense range of a unique key runs about 2x high; a range of b - a + 1
// keys holds at most that many rows, so the shards come out near shard_rows, not half of it.
TEST_F(MysqlSourceTest, PlanDenseIntegerKeysNearShardRows) {
  admin_->exec("CREATE TABLE t (id bigint PRIMARY KEY, pad varchar(100) NOT NULL)");
  admin_->exec("INSERT INTO t SELECT seq, REPEAT('x', 60) FROM seq_1_to_200000");
  admin_->exec("ANALYZE TABLE t");
  auto src = open("t", {"id"});
  auto shards = src->plan(Predicate{}, SplitOptions{20000});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  expect_exact_cover(*shards, read_first_column(*src, Predicate{}, *shards, 5000),
                     admin_->column("SELECT id FROM t ORDER BY id"));
  EXPECT_GE(shards->size(), 10u);
  EXPECT_LE(shards->size(), 13u);
  for (const Shard& s : *shards) {
    EXPECT_LE(s.estimated_rows, 25000) << s.index;
    if (!s.range.hi.is_null()) {
      EXPECT_LE(s.range.hi.as_int() - s.range.lo.as_int() + 1, 25000) << s.index;
    }
  }
}

TEST_F(MysqlSourceTest, PlanTextKeysAndLaterInsertsAboveMax) {
  admin_->exec("CREATE TABLE t (k varchar(20) PRIMARY KEY, v int) CHARACTER SET utf8mb4");
  admin_->exec("INSERT INTO t SELECT CONCAT('key-', LPAD(seq, 5, '0')), seq FROM seq_1_to_1234");
  auto src = open("t", {"k"});
  auto shards = src->plan(Predicate{}, SplitOptions{100});
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  EXPECT_GE(shards->size(), 7u);
  EXPECT_LE(shards->size(), 40u);
  for (const Shard& s : *shards) {
    std::string hi = s.range.hi.is_null() ? "" : " AND k <= '" + s.range.hi.as_text() + "'";
    EXPECT_LE(
        admin_->count("SELECT count(*) FROM t WHERE k >= '" + s.range.lo.as_text() + "'" + hi),
        200);
  }
  auto want = admin_->column("SELECT k FROM t ORDER BY k");
  std::vector<std::string> quoted;
  for (auto& k : want) quoted.push_back("'" + k + "'");
  expect_exact_cover(*shards, read_first_column(*src, Predicate{}, *shards, 33), quoted);
  // A key above the planned maximum, inserted later, is read by the last shard.
  admin_->exec("INSERT INTO t VALUES ('zzz', 0)");
  auto last = read_first_column(*src, Predicate{}, {shards->back()}, 1000);
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(last.back(), "'zzz'");
}

// Rows the server read from `table` so far (user statistics: every row a handler returned).
int64_t rows_read(Admin& admin, const std::string& db, const std::string& table) {
  auto v = admin.column(
      "SELECT ROWS_READ FROM information_schema.TABLE_STATISTICS WHERE "
      "TABLE_SCHEMA = '" +
      db + "' AND TABLE_NAME = '" + table + "'");
  return v.empty() ? 0 : std::stoll(v[0]);
}

// A key bound as a MySQL literal's text.
std::string literal_text(const Value& v) {
  if (!v.is_int()) return v.as_text();
  std::string t = format_timestamp(v.as_int());  // 2024-01-01T00:00:01Z or with .ffffff
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  if (auto at = t.find('T'); at != std::string::npos) t[at] = ' ';
  return t;
}

// Text and time keys are planned by halving at real keys with the optimizer's estimates: a few
// index probes per shard, not a walk of the index, and still every row exactly once.
TEST_F(MysqlSourceTest, PlanTextAndTimeKeysWithoutWalkingTheIndex) {
  admin_->exec("SET GLOBAL userstat = 1");
  admin_->exec("CREATE TABLE t (k varchar(40) PRIMARY KEY, v int)");
  admin_->exec("INSERT INTO t SELECT MD5(seq), seq FROM seq_1_to_100000");
  admin_->exec("CREATE TABLE w (at datetime NOT NULL PRIMARY KEY, v int)");
  // A second apart, then a sparse tail a day apart.
  admin_->exec(
      "INSERT INTO w SELECT '2024-01-01' + INTERVAL seq SECOND, seq FROM "
      "seq_1_to_50000");
  admin_->exec("INSERT INTO w SELECT '2024-03-01' + INTERVAL seq DAY, seq FROM seq_1_to_300");
  admin_->exec("ANALYZE TABLE t, w");
  struct Case {
    std::string table, key;
    int64_t shard_rows, total;
  };
  for (const Case& c : {Case{"t", "k", 5000, 100000}, Case{"w", "at", 2000, 50300}}) {
    SCOPED_TRACE(c.table);
    auto src = open(c.table, {c.key});
    ASSERT_TRUE(src->describe().is_ok());
    const int64_t before = rows_read(*admin_, db_, c.table);
    auto shards = src->plan(Predicate{}, SplitOptions{c.shard_rows});
    ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
    const int64_t read_by_plan = rows_read(*admin_, db_, c.table) - before;
    // A walk reads every key; halving reads a couple of keys per probe.
    EXPECT_LT(read_by_plan, c.total / 10) << "rows read while planning";
    EXPECT_GE(shards->size(), static_cast<size_t>(c.total / c.shard_rows / 2));
    EXPECT_LE(shards->size(), static_cast<size_t>(c.total / c.shard_rows * 4));
    auto want = admin_->column("SELECT " + c.key + " FROM " + c.table + " ORDER BY " + c.key);
    auto got = read_first_column(*src, Predicate{}, *shards, 4096);
    ASSERT_EQ(got.size(), want.size());
    std::set<std::string> distinct(got.begin(), got.end());
    EXPECT_EQ(distinct.size(), want.size());
    for (size_t i = 0; i < shards->size(); ++i) {
      const Shard& s = (*shards)[i];
      EXPECT_EQ(s.index, static_cast<int>(i));
      // Shard sizes stay near shard_rows (the estimates are the optimizer's).
      std::string cond = c.key + " >= '" + literal_text(s.range.lo) + "'";
      if (!s.range.hi.is_null()) {
        cond += " AND " + c.key + " <= '" + literal_text(s.range.hi) + "'";
      }
      EXPECT_LE(admin_->count("SELECT count(*) FROM " + c.table + " WHERE " + cond),
                c.shard_rows * 2)
          << cond;
    }
  }
}

// Under a case-insensitive collation byte order is not key order; the plan still covers every
// row once, and still without walking the index.
TEST_F(MysqlSourceTest, PlanTextKeysUnderCaseInsensitiveCollations) {
  admin_->exec("SET GLOBAL userstat = 1");
  for (const char* collation : {"utf8mb4_general_ci", "utf8mb4_unicode_ci", "utf8mb4_bin"}) {
    SCOPED_TRACE(collation);
    admin_->exec("DROP TABLE IF EXISTS t");
    admin_->exec(std::string("CREATE TABLE t (k varchar(20) PRIMARY KEY, v int) COLLATE ") +
                 collation);
    admin_->exec(
        "INSERT INTO t SELECT CONCAT(ELT(1 + seq % 5, 'a', 'B', 'c', 'D', '_'), "
        "LPAD(seq, 6, '0')), seq FROM seq_1_to_20000");
    admin_->exec("INSERT INTO t VALUES ('é-accent', 1), ('Zulu', 2), ('~tilde', 3)");
    admin_->exec("ANALYZE TABLE t");
    auto src = open("t", {"k"});
    ASSERT_TRUE(src->describe().is_ok());
    const int64_t before = rows_read(*admin_, db_, "t");
    auto shards = src->plan(Predicate{}, SplitOptions{1000});
    ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
    EXPECT_LT(rows_read(*admin_, db_, "t") - before, 4000) << "rows read while planning";
    EXPECT_GE(shards->size(), 8u);
    auto want = admin_->column("SELECT k FROM t ORDER BY k");
    std::vector<std::string> quoted;
    for (auto& k : want) quoted.push_back("'" + k + "'");
    EXPECT_EQ(read_first_column(*src, Predicate{}, *shards, 777), quoted);
  }
}

TEST_F(MysqlSourceTest, DeleteRechecksPredicateAndShard) {
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, ts datetime(6) NOT NULL, status varchar(10)); INSERT "
      "INTO t SELECT seq, '2020-01-01', 'old' FROM seq_1_to_20");
  auto src = open("t", {"id"}, "ts", "status <> 'pinned'");
  Predicate p;
  p.time_before = *parse_timestamp("2021-01-01T00:00:00Z");
  // Rows changed after they were archived no longer match: they stay.
  admin_->exec("UPDATE t SET ts = '2022-01-01' WHERE id = 3");
  admin_->exec("UPDATE t SET status = 'pinned' WHERE id = 4");
  Shard shard{0, KeyRange{Value::of_int(1), Value::of_int(10)}, 10};
  // A contiguous run 1..12 (BETWEEN): 11 and 12 are outside the shard.
  auto deleted = src->delete_keys(p, shard, int_keys({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 8u);
  EXPECT_EQ(admin_->column("SELECT id FROM t WHERE id <= 12 ORDER BY id"),
            (std::vector<std::string>{"3", "4", "11", "12"}));
  // An IN list with gaps, and keys already gone.
  Shard all{0, KeyRange{Value::of_int(11), Value::null()}, 10};
  deleted = src->delete_keys(p, all, int_keys({1, 11, 13, 15, 17, 99}));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 4u);
  EXPECT_EQ(admin_->count("SELECT count(*) FROM t"), 20 - 8 - 4);
  auto st = src->statements(p, shard, 10);
  EXPECT_NE(st.purge.find("`id` BETWEEN 1 AND 10"), std::string::npos) << st.purge;
  EXPECT_NE(st.purge.find("`ts` < '2021-01-01 00:00:00'"), std::string::npos) << st.purge;
  EXPECT_NE(st.read.find("LIMIT 10"), std::string::npos) << st.read;
}

// Production load: another connection's running statement counts (Strata's own statements
// carry the /* strata */ marker and are left out).
TEST_F(MysqlSourceTest, ForeignActivityCountsOtherConnectionsStatements) {
  admin_->exec("CREATE TABLE t (id int PRIMARY KEY)");
  auto src = open("t", {"id"});
  ASSERT_TRUE(src->describe().is_ok());
  Admin sleeper(base_uri_);
  std::thread t([&] { sleeper.exec("SELECT SLEEP(1.5)"); });
  for (int i = 0; i < 100; ++i) {
    auto r = admin_->rows(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(1.5)'");
    if (!r.empty() && r[0][0] && *r[0][0] != "0") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto busy = src->foreign_activity();
  t.join();
  ASSERT_TRUE(busy.is_ok()) << busy.status().to_string();
  EXPECT_GE(*busy, 1.0);
}

TEST_F(MysqlSourceTest, KilledConnectionMidReadIsRetryable) {
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT seq, "
      "REPEAT('x', 100) FROM seq_1_to_5000");
  auto src = open("t", {"id"});
  auto schema = std::make_shared<const Schema>(*src->describe());
  auto reader = src->read(Predicate{}, all_rows(), 100);
  ASSERT_TRUE(reader.is_ok());
  Batch batch(schema);
  auto more = (*reader)->next(batch);
  ASSERT_TRUE(more.is_ok() && *more) << more.status().to_string();
  ASSERT_GE(kill_source_connections(), 1);  // the reader's
  Status failed;
  for (int i = 0; i < 100 && failed.is_ok(); ++i) {
    more = (*reader)->next(batch);
    if (!more.is_ok()) failed = more.status();
    if (more.is_ok() && !*more) break;
  }
  ASSERT_FALSE(failed.is_ok()) << "the read went on after its connection was killed";
  EXPECT_TRUE(failed.is_retryable()) << failed.to_string();
  EXPECT_NE(failed.message().find("reading table 't'"), std::string::npos) << failed.message();
  // The source recovers with a fresh connection.
  EXPECT_EQ(read_first_column(*src, Predicate{}, {all_rows()}, 1000).size(), 5000u);
}

// A source kept open across shards (functions/source_cache.h) holds idle sessions in its pool;
// ones the server ended while idle (KILL, a restart) are left out at once, not after a failed
// statement.
TEST_F(MysqlSourceTest, IdleSessionsEndedByTheServerAreNotReused) {
  admin_->exec("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_50");
  auto src = open("t", {"id"});
  ASSERT_EQ(read_first_column(*src, Predicate{}, {all_rows()}, 100).size(), 50u);
  ASSERT_GE(kill_source_connections(), 1);  // the pool's idle one
  usleep(50'000);
  auto deleted = src->delete_keys(Predicate{}, all_rows(), int_keys({1, 2}));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 2u);
}

TEST_F(MysqlSourceTest, RowLockHeldByAnotherSessionFailsDeleteRetryably) {
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int) ENGINE=InnoDB; INSERT INTO t SELECT "
      "seq, seq FROM seq_1_to_100");
  Admin holder(uri_, db_);
  holder.exec("START TRANSACTION");
  holder.exec("SELECT * FROM t WHERE id = 50 FOR UPDATE");
  auto src = open("t", {"id"}, "", "", {}, "?lock_wait_timeout=1");
  auto start = std::chrono::steady_clock::now();
  auto deleted = src->delete_keys(Predicate{}, all_rows(), int_keys({48, 49, 50, 51}));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(deleted.is_ok());
  EXPECT_TRUE(deleted.status().is_retryable()) << deleted.status().to_string();
  EXPECT_NE(deleted.status().message().find("1205"), std::string::npos);
  EXPECT_LT(secs, 5.0);
  holder.exec("ROLLBACK");
  EXPECT_EQ(admin_->count("SELECT count(*) FROM t"), 100);  // rolled back: nothing deleted
  deleted = src->delete_keys(Predicate{}, all_rows(), int_keys({48, 49, 50, 51}));
  ASSERT_TRUE(deleted.is_ok()) << deleted.status().to_string();
  EXPECT_EQ(*deleted, 4u);
}

TEST_F(MysqlSourceTest, ConnectionErrorsAndOptions) {
  admin_->exec("CREATE TABLE t (id int PRIMARY KEY)");
  // A wrong password is permanent and never printed.
  std::string bad = uri_;
  bad.replace(bad.find(":strata-test@"), 13, ":wrong-pw@");
  SourceSpec spec;
  spec.uri = bad;
  spec.table = "t";
  spec.key_columns = {"id"};
  auto src = open_mysql_source(spec);
  ASSERT_TRUE(src.is_ok());
  auto d = (*src)->describe();
  ASSERT_FALSE(d.is_ok());
  EXPECT_TRUE(d.status().is_permanent()) << d.status().to_string();
  EXPECT_EQ(d.status().message().find("wrong-pw"), std::string::npos);
  EXPECT_NE(d.status().message().find("1045"), std::string::npos) << d.status().message();
  // Nothing listening: retryable.
  spec.uri = "mysql://strata:x@127.0.0.1:1/" + db_;
  auto down = (*open_mysql_source(spec))->describe();
  ASSERT_FALSE(down.is_ok());
  EXPECT_TRUE(down.status().is_retryable()) << down.status().to_string();
  // ${ENV} in the URI, and MYSQL_PWD when the URI has no password.
  setenv("STRATA_TEST_MY_PW", "strata-test", 1);
  spec.uri = uri_;
  spec.uri.replace(spec.uri.find(":strata-test@"), 13, ":${STRATA_TEST_MY_PW}@");
  EXPECT_TRUE((*open_mysql_source(spec))->describe().is_ok());
  spec.uri = uri_;
  spec.uri.replace(spec.uri.find(":strata-test@"), 13, "@");
  setenv("MYSQL_PWD", "strata-test", 1);
  EXPECT_TRUE((*open_mysql_source(spec))->describe().is_ok());
  unsetenv("MYSQL_PWD");
  // Unknown options are refused up front.
  spec.uri = uri_ + "?lock_timeout=3";
  auto unknown = open_mysql_source(spec);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("unknown URI option 'lock_timeout'"),
            std::string::npos);
}

TEST_F(MysqlSourceTest, ReplicationLagSeenWhenReplicaStops) {
  std::string replica_uri = mysql_test::env_or_fail("STRATA_TEST_MYSQL_REPLICA_URI");
  ASSERT_FALSE(replica_uri.empty());
  mysql_test::Address r = mysql_test::parse_address(replica_uri);
  admin_->exec("CREATE TABLE t (id int PRIMARY KEY)");
  auto named = open("t", {"id"}, "", "", {}, "?replicas=" + r.host + ":" + std::to_string(r.port));
  auto discovered = open("t", {"id"});
  auto lag = named->replication_lag();
  ASSERT_TRUE(lag.is_ok()) << lag.status().to_string();
  EXPECT_LT(*lag, std::chrono::seconds(60));
  lag = discovered->replication_lag();
  ASSERT_TRUE(lag.is_ok()) << lag.status().to_string();
  EXPECT_LT(*lag, std::chrono::seconds(60));

  Admin replica(replica_uri);
  replica.exec("STOP SLAVE SQL_THREAD");
  auto stopped_named = named->replication_lag();
  auto stopped_discovered = discovered->replication_lag();
  replica.exec("START SLAVE SQL_THREAD");
  ASSERT_TRUE(stopped_named.is_ok()) << stopped_named.status().to_string();
  EXPECT_GE(*stopped_named, std::chrono::hours(24));
  ASSERT_TRUE(stopped_discovered.is_ok()) << stopped_discovered.status().to_string();
  EXPECT_GE(*stopped_discovered, std::chrono::hours(24));
  Result<Micros> back = Micros(0);
  for (int i = 0; i < 50; ++i) {
    back = named->replication_lag();
    if (back.is_ok() && *back < std::chrono::seconds(60)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(back.is_ok());
  EXPECT_LT(*back, std::chrono::seconds(60));

  auto unreachable = open("t", {"id"}, "", "", {}, "?replicas=127.0.0.1:1");
  auto u = unreachable->replication_lag();
  ASSERT_FALSE(u.is_ok());
  EXPECT_TRUE(u.status().is_retryable());
  EXPECT_NE(u.status().message().find("replica 127.0.0.1:1"), std::string::npos);
}

// A smaller batch size takes effect mid-stream, through the read-ahead too, and loses no row.
TEST_F(MysqlSourceTest, BatchSizeShrinksMidStream) {
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT seq, seq FROM "
      "seq_1_to_5000");
  auto src = open("t", {"id"});
  auto schema = std::make_shared<const Schema>(*src->describe());
  auto read = src->read(Predicate{}, all_rows(), 1000);
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  testing_support::expect_batch_size_shrinks_mid_stream(std::move(read).value(), schema, 5000);
}

TEST_F(MysqlSourceTest, ConcurrentShardsReadEverything) {
  admin_->exec(
      "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT seq, seq FROM "
      "seq_1_to_20000");
  auto src = open("t", {"id"});
  auto shards = src->plan(Predicate{}, SplitOptions{2500});
  ASSERT_TRUE(shards.is_ok());
  ASSERT_GE(shards->size(), 4u);
  std::vector<std::vector<std::string>> got(shards->size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < shards->size(); ++i) {
    threads.emplace_back(
        [&, i] { got[i] = read_first_column(*src, Predicate{}, {(*shards)[i]}, 1000); });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  size_t total = 0;
  for (auto& g : got) {
    total += g.size();
    all.insert(g.begin(), g.end());
  }
  EXPECT_EQ(total, 20000u);
  EXPECT_EQ(all.size(), 20000u);
}

}  // namespace
}  // namespace strata

// The PostgreSQL cold-table target against the real server: create, idempotent load, read back
// through the source, documents.
#include "connectors/postgres/postgres_table_target.h"

#include <gtest/gtest.h>

#include "connectors/postgres/pg_test_util.h"
#include "connectors/postgres/postgres_source.h"

namespace strata {
namespace {

using pg_test::PgTest;

class PostgresTableTargetTest : public PgTest {
 protected:
  std::unique_ptr<TableTarget> open_target(const std::string& table) {
    auto uri = parse_uri(uri_ + "?table=" + table);
    EXPECT_TRUE(uri.is_ok());
    auto t = open_postgres_table_target(*uri);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return t.is_ok() ? std::move(t).value() : nullptr;
  }

  // All rows of a source, every value as Value::to_string().
  static std::vector<std::vector<std::string>> read_all(Source& src) {
    auto schema = src.describe();
    EXPECT_TRUE(schema.is_ok()) << schema.status().to_string();
    std::vector<std::vector<std::string>> rows;
    if (!schema.is_ok()) return rows;
    Batch batch(std::make_shared<const Schema>(*schema));
    auto reader = src.read(Predicate{}, Shard{0, KeyRange{}, 0}, 100);
    EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
    if (!reader.is_ok()) return rows;
    for (;;) {
      auto more = (*reader)->next(batch);
      EXPECT_TRUE(more.is_ok()) << more.status().to_string();
      if (!more.is_ok() || !*more) break;
      for (size_t r = 0; r < batch.num_rows(); ++r) {
        std::vector<std::string> row;
        for (size_t c = 0; c < batch.num_columns(); ++c) {
          row.push_back(batch.column(c).value_at(r).to_string());
        }
        rows.push_back(std::move(row));
      }
    }
    return rows;
  }
};

TEST_F(PostgresTableTargetTest, CreatesLoadsTwiceWithoutDuplicatesAndReadsBack) {
  // A PostgreSQL source table with types that need their source_type to come back the same.
  db_->exec(
      "CREATE TYPE mood AS ENUM ('sad', 'happy');"
      "CREATE TABLE src (id bigint PRIMARY KEY, ts timestamptz NOT NULL, amount numeric(12,2), "
      "big numeric, r real, tags integer[], names text[], doc jsonb, raw bytea, day date, "
      "flag boolean, m mood, iv interval, u uuid, note text);"
      "INSERT INTO src SELECT i, timestamptz '2024-01-01' + i * interval '1 hour', i * 1.25, "
      "i::numeric ^ 5 / 7, i / 10.0, ARRAY[i, NULL, i + 1], ARRAY['a' || i, 'q\"u,o'], "
      "jsonb_build_object('i', i), decode(lpad(to_hex(i), 4, '0'), 'hex'), date '2024-01-01' + "
      "i, i % 2 = 0, CASE WHEN i % 3 = 0 THEN 'sad' ELSE 'happy' END::mood, i * interval "
      "'1 minute', md5(i::text)::uuid, CASE WHEN i % 5 = 0 THEN NULL ELSE 'n' || i END "
      "FROM generate_series(1, 250) i");
  SourceSpec spec;
  spec.uri = uri_;
  spec.table = "src";
  spec.key_columns = {"id"};
  spec.time_column = "ts";
  auto src = open_postgres_source(spec);
  ASSERT_TRUE(src.is_ok());
  auto schema = (*src)->describe();
  ASSERT_TRUE(schema.is_ok()) << schema.status().to_string();
  auto source_rows = read_all(**src);
  ASSERT_EQ(source_rows.size(), 250u);

  auto target = open_target("archive.telemetry");
  EXPECT_EQ(target->table(), "archive.telemetry");
  EXPECT_EQ(target->describe().find("strata-test"), std::string::npos);
  ASSERT_TRUE(target->prepare(*schema, {"id"}, "postgres").is_ok());
  EXPECT_EQ(db_->column("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                        "attrelid = 'archive.telemetry'::regclass AND attnum > 0 ORDER BY attnum"),
            (std::vector<std::string>{"bigint", "timestamp with time zone", "numeric(12,2)",
                                      "numeric", "real", "integer[]", "text[]", "jsonb", "bytea",
                                      "date", "boolean", "mood", "interval", "uuid", "text"}));
  // Load the rows in two batches, then everything again: nothing is duplicated.
  auto sch = std::make_shared<const Schema>(*schema);
  Batch all(sch);
  auto reader = (*src)->read(Predicate{}, Shard{0, KeyRange{}, 0}, 1000);
  ASSERT_TRUE(reader.is_ok());
  ASSERT_TRUE(*(*reader)->next(all));
  ASSERT_EQ(all.num_rows(), 250u);
  Batch first(sch);
  first.append_rows(all, 0, 100);
  auto n = target->load(first);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 100u);
  n = target->load(all);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 150u);
  n = target->load(all);
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM archive.telemetry"), 250);
  // The cold table holds the same values, compared by the server in the source types...
  EXPECT_EQ(db_->count("SELECT count(*) FROM src s FULL JOIN archive.telemetry t USING (id) "
                       "WHERE (s.*)::text IS DISTINCT FROM (t.*)::text"),
            0);
  // ...and read back through the source interface, value for value.
  auto cold = target->as_source(spec);
  ASSERT_TRUE(cold.is_ok()) << cold.status().to_string();
  EXPECT_EQ(read_all(**cold), source_rows);
  // prepare on an existing table checks its columns.
  ASSERT_TRUE(target->prepare(*schema, {"id"}, "postgres").is_ok());
  Schema more = *schema;
  more.add(Column{"extra", Type::kString});
  Status s = target->prepare(more, {"id"}, "postgres");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("table 'archive.telemetry' has no column 'extra'"), std::string::npos)
      << s.message();
}

TEST_F(PostgresTableTargetTest, StrataTypesFromAnotherSourceKind) {
  auto schema = std::make_shared<const Schema>(
      std::vector<Column>{{"Id", Type::kInt64, false},
                          {"at", Type::kTimestamp},
                          {"price", Type::kDecimal, true, 10, 3},
                          {"any", Type::kDecimal},
                          {"ok", Type::kBool},
                          {"blob", Type::kBytes},
                          {"doc", Type::kJson},
                          {"day", Type::kDate},
                          {"x", Type::kDouble},
                          {"s", Type::kString, true, 0, 0, "GEOMETRY"}});
  auto target = open_target("Cold \"T\"");
  ASSERT_TRUE(target->prepare(*schema, {"Id"}, "sqlite").is_ok());
  EXPECT_EQ(
      db_->column("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                  "attrelid = '\"Cold \"\"T\"\"\"'::regclass AND attnum > 0 ORDER BY attnum"),
      (std::vector<std::string>{"bigint", "timestamp with time zone", "numeric(10,3)", "numeric",
                                "boolean", "bytea", "jsonb", "date", "double precision", "text"}));
  Batch b(schema);
  b.column(0).append_int(7);
  b.column(1).append_int(*parse_timestamp("1960-05-06T07:08:09.000123Z"));
  b.column(2).append_text("-12.500");
  b.column(3).append_text("123456789012345678901234567890.5");
  b.column(4).append_bool(true);
  b.column(5).append_text(std::string("\0\x01\xfe", 3));
  b.column(6).append_text("{\"k\": [1, 2]}");
  b.column(7).append_int(-1);
  b.column(8).append_double(-0.25);
  b.column(9).append_text("POINT(1 2)");
  b.column(0).append_int(8);
  for (size_t c = 1; c < b.num_columns(); ++c) b.column(c).append_null();
  auto n = target->load(b);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(db_->column("SELECT concat_ws('|', \"Id\", at, price, \"any\", ok, blob, doc, day, x, "
                        "s) FROM \"Cold \"\"T\"\"\" ORDER BY 1"),
            (std::vector<std::string>{"7|1960-05-06 07:08:09.000123+00|-12.500|"
                                      "123456789012345678901234567890.5|t|\\x0001fe|{\"k\": [1, "
                                      "2]}|1969-12-31|-0.25|POINT(1 2)",
                                      "8"}));
}

// Loads go by COPY straight into the table in each column's binary form (narrower integers and
// real, numeric, jsonb, varchar, timestamp) until a batch meets keys already there; that batch and
// later ones go through the load table and skip those keys. A value the direct form cannot hold
// is left to the load table's cast, whose error names the problem.
TEST_F(PostgresTableTargetTest, DirectCopyThenTheLoadTableOnceKeysConflict) {
  db_->exec(
      "CREATE TABLE narrow (id bigint PRIMARY KEY, i4 integer, i2 smallint, r real, "
      "n numeric(24,6), u numeric, j jsonb, v varchar(10), t timestamp, tz timestamptz)");
  auto schema =
      std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64, false},
                                                         {"i4", Type::kInt64},
                                                         {"i2", Type::kInt64},
                                                         {"r", Type::kDouble},
                                                         {"n", Type::kDecimal, true, 24, 6},
                                                         {"u", Type::kDecimal},
                                                         {"j", Type::kJson},
                                                         {"v", Type::kString},
                                                         {"t", Type::kTimestamp},
                                                         {"tz", Type::kTimestamp}});
  auto target = open_target("narrow");
  ASSERT_TRUE(target->prepare(*schema, {"id"}, "postgres").is_ok());
  const std::vector<std::string> numerics = {"0",
                                             "-0.000000",
                                             "0.000001",
                                             "10000",
                                             "-10000.5",
                                             "123.456789",
                                             "99999999.99",
                                             "+0.5",
                                             ".25",
                                             "100000000.000001",
                                             "-1",
                                             "1234567890123456.789012",
                                             "0.0001",
                                             "20000000000",
                                             "7"};
  auto fill = [&](Batch& b, int from, int to) {
    for (int i = from; i < to; ++i) {
      const size_t k = static_cast<size_t>(i) % numerics.size();
      b.column(0).append_int(i);
      b.column(1).append_int(i % 2 ? -2147483648LL + i : 2147483647LL - i);
      b.column(2).append_int(i % 2 ? -32768 + i : 32767 - i);
      b.column(3).append_double(i / 10.0);  // as a real column is archived: 0.1, not 0.1f
      b.column(4).append_text(numerics[k]);
      b.column(5).append_text(numerics[(k + 3) % numerics.size()]);
      b.column(6).append_text("{\"i\": " + std::to_string(i) + "}");
      b.column(7).append_text("v" + std::to_string(i));
      b.column(8).append_int(1700000000000000LL + i * 1000001LL);
      if (i % 4 == 0) {
        b.column(9).append_null();
      } else {
        b.column(9).append_int(-1700000000000000LL + i);
      }
    }
  };
  Batch first(schema), second(schema);
  fill(first, 0, 30);
  fill(second, 20, 50);  // 10 keys already loaded
  auto n = target->load(first);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 30u);
  n = target->load(second);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(*n, 20u);
  EXPECT_EQ(db_->count("SELECT count(*) FROM narrow"), 50);
  // Every value as the server reads it back, against what the same text gives through SQL.
  for (int i : {0, 1, 2, 5, 9, 11, 14, 29, 49}) {
    const size_t k = static_cast<size_t>(i) % numerics.size();
    const std::string want_n = numerics[k], want_u = numerics[(k + 3) % numerics.size()];
    EXPECT_EQ(
        db_->count("SELECT count(*) FROM narrow WHERE id = " + std::to_string(i) + " AND n = '" +
                   want_n + "'::numeric(24,6) AND n::text = ('" + want_n +
                   "'::numeric(24,6))::text AND u::text = ('" + want_u +
                   "'::numeric)::text AND i4 = " +
                   std::to_string(i % 2 ? -2147483648LL + i : 2147483647LL - i) +
                   " AND i2 = " + std::to_string(i % 2 ? -32768 + i : 32767 - i) + " AND r = (" +
                   std::to_string(i) + " / 10.0)::real AND j = '{\"i\": " + std::to_string(i) +
                   "}' AND v = 'v" + std::to_string(i) + "' AND t = to_timestamp(" +
                   std::to_string(1700000000 + i) + ".000000 + " + std::to_string(i) +
                   " / 1000000.0) AT TIME ZONE 'UTC' AND (tz IS NULL) = (" + std::to_string(i % 4) +
                   " = 0)"),
        1)
        << "row " << i << " (n " << want_n << ", u " << want_u << ")";
  }
  // A value no direct form holds: the load table's cast reports it.
  Batch bad(schema);
  fill(bad, 100, 101);
  bad.column(2).clear();
  bad.column(2).append_int(40000);
  auto e = target->load(bad);
  ASSERT_FALSE(e.is_ok());
  EXPECT_NE(e.status().message().find("smallint"), std::string::npos) << e.status().message();
}

TEST_F(PostgresTableTargetTest, DocumentsPutGetListRemove) {
  auto target = open_target("archive.t");
  auto missing = target->get("a");
  ASSERT_TRUE(missing.is_ok()) << missing.status().to_string();
  EXPECT_FALSE(missing->has_value());
  auto none = target->list("");
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(target->put("m/task1/0.json", "{\"a\":1}").is_ok());
  ASSERT_TRUE(target->put("m/task1/1.json", "one").is_ok());
  ASSERT_TRUE(target->put("m/task2/0.json", "two").is_ok());
  ASSERT_TRUE(target->put("m/task1/0.json", "replaced").is_ok());
  auto got = target->get("m/task1/0.json");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(**got, "replaced");
  auto listed = target->list("m/task1/");
  ASSERT_TRUE(listed.is_ok());
  EXPECT_EQ(*listed, (std::vector<std::string>{"m/task1/0.json", "m/task1/1.json"}));
  EXPECT_EQ(db_->count("SELECT count(*) FROM archive._strata_documents"), 3);
  ASSERT_TRUE(target->remove("m/task1/1.json").is_ok());
  ASSERT_TRUE(target->remove("m/never").is_ok());
  listed = target->list("m/");
  ASSERT_TRUE(listed.is_ok());
  EXPECT_EQ(*listed, (std::vector<std::string>{"m/task1/0.json", "m/task2/0.json"}));
}

TEST_F(PostgresTableTargetTest, UriIsChecked) {
  auto uri = parse_uri(uri_);
  auto t = open_postgres_table_target(*uri);
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("?table="), std::string::npos);
  EXPECT_EQ(t.status().message().find("strata-test"), std::string::npos);
  uri = parse_uri(uri_ + "?table=x&bogus=1");
  t = open_postgres_table_target(*uri);
  ASSERT_FALSE(t.is_ok());
  EXPECT_NE(t.status().message().find("unknown URI option 'bogus'"), std::string::npos);
}

}  // namespace
}  // namespace strata

// The MySQL cold-table target against the real MariaDB: created from a MySQL source (its own
// column types) and from Strata types, loaded twice without duplicates, read back, documents.
#include "connectors/mysql/mysql_table_target.h"

#include <gtest/gtest.h>

#include "connectors/mysql/mysql_source.h"
#include "connectors/mysql/mysql_test_util.h"

namespace strata {
namespace {

using mysql_test::MysqlTest;

class MysqlTableTargetTest : public MysqlTest {
 protected:
  std::unique_ptr<TableTarget> open_target(const std::string& table) {
    auto uri = parse_uri(uri_ + "?table=" + table);
    EXPECT_TRUE(uri.is_ok());
    auto t = open_mysql_table_target(*uri);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return std::move(t).value();
  }
  // Every row of a source's only shard, as text.
  static std::vector<std::string> rows_of(Source& src, const Predicate& p = Predicate{}) {
    auto schema = std::make_shared<const Schema>(*src.describe());
    std::vector<std::string> out;
    auto reader = src.read(p, Shard{0, KeyRange{}, 0}, 7);
    EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
    Batch batch(schema);
    for (;;) {
      auto more = (*reader)->next(batch);
      EXPECT_TRUE(more.is_ok()) << more.status().to_string();
      if (!more.is_ok() || !*more) break;
      for (size_t r = 0; r < batch.num_rows(); ++r) {
        std::string line;
        for (size_t c = 0; c < batch.num_columns(); ++c) {
          line += (c ? "|" : "") + batch.column(c).value_at(r).to_string();
        }
        out.push_back(line);
      }
    }
    return out;
  }
};

TEST_F(MysqlTableTargetTest, FromMysqlSourceCreatedLoadedTwiceAndReadBack) {
  admin_->exec(
      "CREATE TABLE src (id bigint unsigned PRIMARY KEY, ts datetime(6) NOT NULL, d "
      "decimal(12,2), e enum('a','b'), bt bit(4), j json, b varbinary(4), s varchar(20)) "
      "CHARACTER SET utf8mb4");
  admin_->exec(
      "INSERT INTO src VALUES (18446744073709551615, '2020-01-01 00:00:00.5', -1.25, 'b', b'101', "
      "'{\"k\": 1}', x'00ff', 'Grüße'), (1, '2020-01-02', NULL, NULL, NULL, NULL, NULL, NULL)");
  SourceSpec spec;
  spec.uri = uri_;
  spec.table = "src";
  spec.key_columns = {"id"};
  spec.time_column = "ts";
  auto src = std::move(open_mysql_source(spec)).value();
  auto schema = std::make_shared<const Schema>(*src->describe());
  extra_dbs_.push_back(db_ + "_cold");
  auto target = open_target(db_ + "_cold.archive");
  ASSERT_TRUE(target->prepare(*schema, {"id"}, "mysql").is_ok());
  auto ddl = admin_->rows("SHOW CREATE TABLE `" + db_ + "_cold`.archive");
  ASSERT_EQ(ddl.size(), 1u);
  EXPECT_NE(ddl[0][1]->find("`e` enum('a','b')"), std::string::npos) << *ddl[0][1];
  EXPECT_NE(ddl[0][1]->find("`id` bigint(20) unsigned NOT NULL"), std::string::npos);
  EXPECT_NE(ddl[0][1]->find("PRIMARY KEY (`id`)"), std::string::npos);
  // Loading twice inserts once.
  Batch batch(schema);
  auto reader = std::move(src->read(Predicate{}, Shard{0, KeyRange{}, 0}, 100)).value();
  ASSERT_TRUE(*reader->next(batch));
  auto first = target->load(batch);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(*first, 2u);
  auto second = target->load(batch);
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(*second, 0u);
  EXPECT_EQ(admin_->count("SELECT count(*) FROM `" + db_ + "_cold`.archive"), 2);
  // Read back through as_source: the same rows, value for value.
  auto cold = target->as_source(spec);
  ASSERT_TRUE(cold.is_ok()) << cold.status().to_string();
  EXPECT_EQ(rows_of(**cold), rows_of(*src));
  EXPECT_EQ(*(*cold)->describe(), *schema);
  // prepare again on the existing table is fine; a missing column is named.
  EXPECT_TRUE(target->prepare(*schema, {"id"}, "mysql").is_ok());
  Schema more = *schema;
  more.add(Column{"extra", Type::kInt64});
  Status missing = target->prepare(more, {"id"}, "mysql");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.message().find("no column 'extra'"), std::string::npos) << missing.message();
}

TEST_F(MysqlTableTargetTest, FromStrataTypesWithCompositeKey) {
  auto schema =
      std::make_shared<const Schema>(std::vector<Column>{{"k1", Type::kString, false},
                                                         {"k2", Type::kInt64, false},
                                                         {"d", Type::kDouble},
                                                         {"flag", Type::kBool},
                                                         {"blob", Type::kBytes},
                                                         {"ts", Type::kTimestamp},
                                                         {"day", Type::kDate},
                                                         {"money", Type::kDecimal, true, 10, 3},
                                                         {"doc", Type::kJson},
                                                         {"txt", Type::kString}});
  Batch batch(schema);
  for (int i = 0; i < 3; ++i) {
    batch.column(0).append_text(i == 0 ? "A" : "a");  // distinct keys under a binary collation
    batch.column(1).append_int(i);
    batch.column(2).append_double(i * 0.1);
    batch.column(3).append_bool(i % 2);
    batch.column(4).append_text(std::string("\0\x01", 2));
    batch.column(5).append_int(1700000000123456LL + i);
    batch.column(6).append_int(20000 + i);
    batch.column(7).append_text("12.345");
    batch.column(8).append_text("{\"i\": 1}");
    if (i == 2) {
      batch.column(9).append_null();
    } else {
      batch.column(9).append_text("it's");
    }
  }
  auto target = open_target("cold");
  ASSERT_TRUE(target->prepare(*schema, {"k1", "k2"}, "sqlite").is_ok());
  auto first = target->load(batch);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(*first, 3u);
  EXPECT_EQ(*target->load(batch), 0u);
  SourceSpec like;
  like.key_columns = {"k1", "k2"};
  like.time_column = "ts";
  auto cold = std::move(target->as_source(like)).value();
  auto rows = rows_of(*cold);
  ASSERT_EQ(rows.size(), 3u);
  const std::string bytes("\0\x01", 2);
  EXPECT_EQ(rows[0],
            "'A'|0|0|0|'" + bytes + "'|1700000000123456|20000|'12.345'|'{\"i\": 1}'|'it''s'");
  EXPECT_EQ(rows[1],
            "'a'|1|0.1|1|'" + bytes + "'|1700000000123457|20001|'12.345'|'{\"i\": 1}'|'it''s'");
  EXPECT_EQ(rows[2],
            "'a'|2|0.2|0|'" + bytes + "'|1700000000123458|20002|'12.345'|'{\"i\": 1}'|NULL");
}

TEST_F(MysqlTableTargetTest, DocumentsPutGetListRemove) {
  auto target = open_target("cold");
  EXPECT_FALSE(target->get("a/1.json")->has_value());
  ASSERT_TRUE(target->put("a/1.json", "{\"v\": 1}").is_ok());
  ASSERT_TRUE(target->put("a/2.json", "two").is_ok());
  ASSERT_TRUE(target->put("b/1.json", "other").is_ok());
  ASSERT_TRUE(target->put("a/1.json", "{\"v\": 2}").is_ok());  // replaces
  EXPECT_EQ(**target->get("a/1.json"), "{\"v\": 2}");
  EXPECT_EQ(*target->list("a/"), (std::vector<std::string>{"a/1.json", "a/2.json"}));
  EXPECT_EQ(target->list("")->size(), 3u);
  ASSERT_TRUE(target->remove("a/2.json").is_ok());
  ASSERT_TRUE(target->remove("a/404.json").is_ok());
  EXPECT_EQ(*target->list("a/"), (std::vector<std::string>{"a/1.json"}));
}

}  // namespace
}  // namespace strata

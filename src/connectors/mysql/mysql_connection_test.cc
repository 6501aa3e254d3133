// MySQL connection helpers without a server: URI options, literals, placeholders, time text and
// the error verdicts.
#include "connectors/mysql/mysql_connection.h"

#include <gtest/gtest.h>

namespace strata::mysql {
namespace {

TEST(MysqlLiteralTest, EveryTypeAsALiteral) {
  auto lit = [](const Value& v, Type t) {
    std::string out;
    Status s = append_literal(out, v, t);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return out;
  };
  EXPECT_EQ(lit(Value::of_int(-42), Type::kInt64), "-42");
  EXPECT_EQ(lit(Value::null(), Type::kString), "NULL");
  EXPECT_EQ(lit(Value::of_text("a'b\\"), Type::kString), "_utf8mb4 X'6127625C'");
  EXPECT_EQ(lit(Value::of_text(""), Type::kString), "_utf8mb4 X''");
  EXPECT_EQ(lit(Value::of_text(std::string("\0\xff", 2)), Type::kBytes), "X'00FF'");
  EXPECT_EQ(lit(Value::of_text("-12.50"), Type::kDecimal), "-12.50");
  EXPECT_EQ(lit(Value::of_int(1), Type::kTimestamp), "'1970-01-01 00:00:00.000001'");
  EXPECT_EQ(lit(Value::of_int(-1), Type::kTimestamp), "'1969-12-31 23:59:59.999999'");
  EXPECT_EQ(lit(Value::of_int(0), Type::kDate), "'1970-01-01'");
  EXPECT_EQ(lit(Value::of_double(0.1), Type::kDouble), "0.1");
  std::string out;
  EXPECT_FALSE(append_literal(out, Value::of_text("1; DROP TABLE t"), Type::kDecimal).is_ok());
}

TEST(MysqlLiteralTest, PlaceholdersOutsideQuotesOnly) {
  Value a = Value::of_int(7), b = Value::of_text("x");
  auto s = bind_literals("SELECT '?', `a?`, \"?\" /* ? */ FROM t WHERE a = ? AND b = ? -- ?\n",
                         {{&a, Type::kInt64}, {&b, Type::kString}});
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(*s, "SELECT '?', `a?`, \"?\" /* ? */ FROM t WHERE a = 7 AND b = _utf8mb4 X'78' -- ?\n");
  EXPECT_FALSE(bind_literals("a = ?", {}).is_ok());
  EXPECT_FALSE(bind_literals("a = 1", {{&a, Type::kInt64}}).is_ok());
  auto esc = bind_literals("WHERE s = 'it\\'s ?' AND k = ?", {{&a, Type::kInt64}});
  ASSERT_TRUE(esc.is_ok());
  EXPECT_EQ(*esc, "WHERE s = 'it\\'s ?' AND k = 7");
}

TEST(MysqlLiteralTest, DatetimeText) {
  int64_t us = 0, days = 0;
  ASSERT_TRUE(parse_datetime_text("2026-01-02 03:04:05.123456", us));
  EXPECT_EQ(us, *parse_timestamp("2026-01-02T03:04:05.123456Z"));
  ASSERT_TRUE(parse_datetime_text("2026-01-02 03:04:05.5", us));
  EXPECT_EQ(us, *parse_timestamp("2026-01-02T03:04:05.5Z"));
  ASSERT_TRUE(parse_datetime_text("1000-01-01 00:00:00", us));
  EXPECT_FALSE(parse_datetime_text("0000-00-00 00:00:00", us));
  EXPECT_FALSE(parse_datetime_text("2026-00-10 00:00:00", us));
  EXPECT_FALSE(parse_datetime_text("2026-01-02 03:04", us));
  ASSERT_TRUE(parse_date_text("1969-12-31", days));
  EXPECT_EQ(days, -1);
  EXPECT_FALSE(parse_date_text("0000-00-00", days));
  std::string out;
  append_datetime_text(out, *parse_timestamp("2026-01-02T03:04:05Z"));
  EXPECT_EQ(out, "2026-01-02 03:04:05");
}

TEST(MysqlErrorTest, Verdicts) {
  ErrorContext where{"mysql://app:***@db:3306/shop", "orders"};
  for (unsigned e : {2002u, 2003u, 2006u, 2013u, 1205u, 1213u, 1040u, 1927u, 1969u, 1053u}) {
    EXPECT_TRUE(map_error(e, "x", where, "reading").is_retryable()) << e;
  }
  for (unsigned e : {1045u, 1146u, 1054u, 1142u, 1064u}) {
    Status s = map_error(e, "x", where, "reading");
    EXPECT_TRUE(s.is_permanent()) << e;
    EXPECT_NE(s.message().find("mysql://app:***@db:3306/shop: reading table 'orders'"),
              std::string::npos)
        << s.message();
  }
  EXPECT_NE(map_error(1142, "denied", where, "purging from").message().find("GRANT"),
            std::string::npos);
}

TEST(MysqlUriTest, Options) {
  auto uri =
      parse_uri("mysql://u:p@h:3307/db?ssl_mode=REQUIRED&lock_wait_timeout=2&replicas=r1:3308,r2");
  ASSERT_TRUE(uri.is_ok());
  auto o = resolve_options(*uri);
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_EQ(o->host, "h");
  EXPECT_EQ(o->port, 3307);
  EXPECT_EQ(o->database, "db");
  EXPECT_EQ(*o->password, "p");
  EXPECT_EQ(o->ssl_mode, "required");
  EXPECT_EQ(o->lock_wait_timeout_s, 2);
  ASSERT_EQ(o->replicas.size(), 2u);
  EXPECT_EQ(o->replicas[1], std::make_pair(std::string("r2"), 3306));
  EXPECT_FALSE(check_uri(*parse_uri("mysql://u@h/db?nope=1")).is_ok());
  EXPECT_FALSE(check_uri(*parse_uri("mysql://u@h/")).is_ok());
  auto bad = resolve_options(*parse_uri("mysql://u@h/db?lock_wait_timeout=soon"));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("lock_wait_timeout"), std::string::npos);
}

}  // namespace
}  // namespace strata::mysql

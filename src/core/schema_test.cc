#include "core/schema.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace strata {
namespace {

TEST(Schema, IndexOf) {
  Schema s({{"id", Type::kInt64}, {"name", Type::kString}});
  EXPECT_EQ(s.index_of("name"), 1);
  EXPECT_EQ(s.index_of("missing"), -1);
}

TEST(ColumnVector, AppendsAndClearsKeepingNullCount) {
  ColumnVector c(Type::kString);
  c.append_text("a");
  c.append_null();
  c.append_text("");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c.text_at(0), "a");
  EXPECT_TRUE(c.is_null(1));
  EXPECT_EQ(c.text_at(1), "");
  EXPECT_FALSE(c.is_null(2));
  EXPECT_EQ(c.null_count(), 1u);
  c.clear();
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.null_count(), 0u);
}

TEST(Time, TimestampRoundTrip) {
  for (int64_t us : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1764000000123456},
                     int64_t{-62135596800000000}, int64_t{253402300799999999}}) {
    std::string s = format_timestamp(us);
    auto back = parse_timestamp(s);
    ASSERT_TRUE(back.is_ok()) << s << " " << back.status().to_string();
    EXPECT_EQ(*back, us) << s;
  }
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(*parse_timestamp("2026-01-01 01:00:00+01:00"), *parse_timestamp("2026-01-01"));
  EXPECT_FALSE(parse_timestamp("2026-13-01").is_ok());
  EXPECT_FALSE(parse_timestamp("yesterday").is_ok());
}

TEST(Time, DateRoundTrip) {
  EXPECT_EQ(format_date(0), "1970-01-01");
  EXPECT_EQ(*parse_date("2000-02-29"), days_from_civil(2000, 2, 29));
  EXPECT_EQ(format_date(*parse_date("1900-03-01")), "1900-03-01");
  EXPECT_FALSE(parse_date("2000-02-29x").is_ok());
}

TEST(Numbers, DoubleTextIsExact) {
  for (double d : {0.1, -0.0, 1e308, 5e-324, 3.141592653589793, -123456.789}) {
    std::string s;
    append_double(s, d);
    EXPECT_EQ(*parse_double(s), d) << s;
  }
  std::string s;
  append_double(s, std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(std::isnan(*parse_double(s)));
  EXPECT_FALSE(parse_double("1.5x").is_ok());
  EXPECT_EQ(*parse_int("-9223372036854775808"), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(parse_int("").is_ok());
}

TEST(Value, OrdersAndPrints) {
  EXPECT_LT(Value::null(), Value::of_int(1));
  EXPECT_LT(Value::of_int(1), Value::of_int(2));
  EXPECT_EQ(Value::of_int(2).compare(Value::of_double(2.0)), 0);
  EXPECT_LT(Value::of_text("a"), Value::of_text("b"));
  EXPECT_EQ(Value::of_text("it's").to_string(), "'it''s'");
}

}  // namespace
TEST(FloatAsDecimal, TheShortestDecimalFormAsADouble) {
  EXPECT_EQ(float_as_decimal(12.3f), 12.3);
  EXPECT_EQ(float_as_decimal(0.1f), 0.1);
  EXPECT_EQ(float_as_decimal(-0.0f), 0.0);
  EXPECT_TRUE(std::signbit(float_as_decimal(-0.0f)));
  EXPECT_EQ(float_as_decimal(16777216.0f), 16777216.0);
  EXPECT_EQ(float_as_decimal(3.4028235e38f), 3.4028235e38);
  EXPECT_EQ(float_as_decimal(1e-45f), 1e-45);  // the smallest subnormal
  EXPECT_TRUE(std::isnan(float_as_decimal(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(float_as_decimal(-std::numeric_limits<float>::infinity()),
            -std::numeric_limits<double>::infinity());
  // Every value the same, asked again (from the cache) or among colliding others.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 20000; ++i) {
      const float f = static_cast<float>(i) / 10.0f;
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, f);
      double want = 0;
      std::from_chars(buf, r.ptr, want);
      ASSERT_EQ(float_as_decimal(f), want) << f;
    }
  }
}

}  // namespace strata

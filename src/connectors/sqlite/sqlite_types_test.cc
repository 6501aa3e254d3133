// Declared-type mapping, time encodings and decimal normalisation.
#include "connectors/sqlite/sqlite_types.h"

#include <gtest/gtest.h>

namespace strata::sqlite {
namespace {

Column map(const std::string& declared) { return column_for_declared_type("c", declared, false); }

TEST(SqliteTypes, DeclaredTypes) {
  EXPECT_EQ(map("INTEGER").type, Type::kInt64);
  EXPECT_EQ(map("bigint").type, Type::kInt64);
  EXPECT_EQ(map("UNSIGNED BIG INT").type, Type::kInt64);
  EXPECT_EQ(map("REAL").type, Type::kDouble);
  EXPECT_EQ(map("DOUBLE PRECISION").type, Type::kDouble);
  EXPECT_EQ(map("FLOAT").type, Type::kDouble);
  EXPECT_EQ(map("BOOLEAN").type, Type::kBool);
  EXPECT_EQ(map("VARCHAR(20)").type, Type::kString);
  EXPECT_EQ(map("CLOB").type, Type::kString);
  EXPECT_EQ(map("TEXT").type, Type::kString);
  EXPECT_EQ(map("BLOB").type, Type::kBytes);
  EXPECT_EQ(map("").type, Type::kBytes);
  EXPECT_EQ(map("TIMESTAMP").type, Type::kTimestamp);
  EXPECT_EQ(map("timestamp with time zone").type, Type::kTimestamp);
  EXPECT_EQ(map("DATETIME").type, Type::kTimestamp);
  EXPECT_EQ(map("DATE").type, Type::kDate);
  EXPECT_EQ(map("JSON").type, Type::kJson);
  EXPECT_EQ(map("NUMERIC").type, Type::kString);
  EXPECT_EQ(map("whatever").type, Type::kString);
  Column d = map("DECIMAL(10, 2)");
  EXPECT_EQ(d.type, Type::kDecimal);
  EXPECT_EQ(d.precision, 10);
  EXPECT_EQ(d.scale, 2);
  EXPECT_EQ(d.source_type, "DECIMAL(10, 2)");
  Column n = map("numeric(7)");
  EXPECT_EQ(n.type, Type::kDecimal);
  EXPECT_EQ(n.precision, 7);
  EXPECT_EQ(n.scale, 0);
  EXPECT_FALSE(column_for_declared_type("c", "INT", true).nullable);
}

TEST(SqliteTypes, TextEncodingKeepsTheLayout) {
  auto enc = detect_text_encoding("2026-01-31 12:00:00");
  ASSERT_TRUE(enc.is_ok());
  int64_t t = *parse_timestamp("2026-01-31T12:00:00Z");
  EXPECT_EQ(encode_cutoff(*enc, t).as_text(), "2026-01-31 12:00:00");
  // Rounded up to the stored precision: "< 12:00:00.5" on whole seconds is "< 12:00:01".
  EXPECT_EQ(encode_cutoff(*enc, t + 500000).as_text(), "2026-01-31 12:00:01");

  enc = detect_text_encoding("2026-01-31T12:00:00.123Z");
  ASSERT_TRUE(enc.is_ok());
  EXPECT_EQ(enc->separator, 'T');
  EXPECT_EQ(enc->fraction_digits, 3);
  EXPECT_EQ(enc->suffix, "Z");
  EXPECT_EQ(encode_cutoff(*enc, t).as_text(), "2026-01-31T12:00:00.000Z");
  EXPECT_EQ(encode_cutoff(*enc, t + 1).as_text(), "2026-01-31T12:00:00.001Z");

  enc = detect_text_encoding("2026-01-31T14:00:00+02:00");
  ASSERT_TRUE(enc.is_ok());
  EXPECT_EQ(encode_cutoff(*enc, t).as_text(), "2026-01-31T14:00:00+02:00");

  enc = detect_text_encoding("2026-01-31");
  ASSERT_TRUE(enc.is_ok());
  EXPECT_FALSE(enc->has_time);
  EXPECT_EQ(encode_cutoff(*enc, t).as_text(), "2026-02-01");
  EXPECT_EQ(encode_cutoff(*enc, *parse_timestamp("2026-01-31")).as_text(), "2026-01-31");

  auto bad = detect_text_encoding("yesterday");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("'yesterday'"), std::string::npos);
}

TEST(SqliteTypes, EpochEncodings) {
  int64_t t = *parse_timestamp("2026-01-31T12:00:00.250Z");
  TimeEncoding s = detect_int_encoding(1769860800);
  EXPECT_EQ(s.unit_micros, 1000000);
  EXPECT_EQ(encode_cutoff(s, t).as_int(), 1769860801);  // rounded up
  TimeEncoding ms = detect_int_encoding(1769860800000);
  EXPECT_EQ(ms.unit_micros, 1000);
  EXPECT_EQ(encode_cutoff(ms, t).as_int(), 1769860800250);
  TimeEncoding us = detect_int_encoding(1769860800000000);
  EXPECT_EQ(us.unit_micros, 1);
  EXPECT_EQ(encode_cutoff(us, t).as_int(), t);
  TimeEncoding real = detect_real_encoding(1769860800.5);
  EXPECT_EQ(real.unit_micros, 1000000);
  EXPECT_DOUBLE_EQ(encode_cutoff(real, t).as_double(), 1769860800.25);
}

TEST(SqliteTypes, DecimalNormalisation) {
  std::string out;
  auto norm = [&](std::string_view in, int scale) {
    Status s = normalize_decimal(in, scale, out);
    return s.is_ok() ? out : "error: " + s.message();
  };
  EXPECT_EQ(norm("12.5", 2), "12.50");
  EXPECT_EQ(norm("12", 2), "12.00");
  EXPECT_EQ(norm("-0.05", 2), "-0.05");
  EXPECT_EQ(norm("007.10", 1), "7.1");
  EXPECT_EQ(norm("1.0e+3", 2), "1000.00");
  EXPECT_EQ(norm("5.0e-02", 2), "0.05");
  EXPECT_EQ(norm("-0.00", 2), "0.00");
  EXPECT_EQ(norm("42", 0), "42");
  EXPECT_EQ(norm("0", 0), "0");
  EXPECT_NE(norm("12.345", 2).find("more than 2 digits"), std::string::npos);
  EXPECT_NE(norm("abc", 2).find("not a decimal"), std::string::npos);
}

}  // namespace
}  // namespace strata::sqlite

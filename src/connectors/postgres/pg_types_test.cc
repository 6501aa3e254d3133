// PostgreSQL type mapping and binary value decoding, without a server (crafted wire bytes).
#include "connectors/postgres/pg_types.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace strata::pg {
namespace {

// A binary numeric: ndigits, weight, sign, dscale, then base-10000 digits.
std::string numeric(int16_t weight, uint16_t sign, uint16_t dscale, std::vector<uint16_t> digits) {
  std::string out;
  auto put = [&](uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xff);
  };
  put(static_cast<uint16_t>(digits.size()));
  put(static_cast<uint16_t>(weight));
  put(sign);
  put(dscale);
  for (uint16_t d : digits) put(d);
  return out;
}

std::string text_of(const std::string& bytes) {
  std::string out;
  std::string err = numeric_text(bytes.data(), bytes.size(), out);
  return err.empty() ? out : "error: " + err;
}

TEST(PgTypes, NumericText) {
  EXPECT_EQ(text_of(numeric(0, 0, 0, {})), "0");
  EXPECT_EQ(text_of(numeric(0, 0, 2, {})), "0.00");
  EXPECT_EQ(text_of(numeric(1, 0, 0, {1, 0})), "10000");
  EXPECT_EQ(text_of(numeric(2, 0, 0, {1})), "100000000");
  EXPECT_EQ(text_of(numeric(0, 0x4000, 3, {12, 3400})), "-12.340");
  EXPECT_EQ(text_of(numeric(-1, 0, 4, {1})), "0.0001");
  EXPECT_EQ(text_of(numeric(-2, 0, 6, {5000})), "0.000050");
  EXPECT_EQ(text_of(numeric(0, 0, 1, {7, 5000})), "7.5");
  EXPECT_EQ(text_of(numeric(0, 0xC000, 0, {})), "error: numeric NaN");
  EXPECT_EQ(text_of(numeric(0, 0xD000, 0, {})), "error: numeric Infinity");
  EXPECT_EQ(text_of(std::string("\0\1", 2)), "error: a 2-byte value for numeric");
  std::string truncated = numeric(0, 0, 0, {1, 2});
  truncated.pop_back();
  EXPECT_NE(text_of(truncated).find("error"), std::string::npos);
}

TEST(PgTypes, MapType) {
  auto map = [](const char* name, char typtype = 'b', int typmod = -1) {
    CatalogType t;
    t.name = name;
    t.typtype = typtype;
    t.typmod = typmod;
    return map_type(t);
  };
  EXPECT_EQ(map("int4").type, Type::kInt64);
  EXPECT_EQ(map("timestamptz").type, Type::kTimestamp);
  EXPECT_EQ(map("interval").cast, "text");
  EXPECT_EQ(map("mood", 'e').type, Type::kString);
  EXPECT_FALSE(map("tsvector").supported);
  EXPECT_FALSE(map("geometry").supported);
  EXPECT_FALSE(map("int4range", 'r').supported);
  ColumnMapping n = map("numeric", 'b', ((12 << 16) | 2) + 4);
  EXPECT_EQ(n.precision, 12);
  EXPECT_EQ(n.scale, 2);
  EXPECT_EQ(map("numeric", 'b', ((50 << 16) | 2) + 4).precision, 0);     // too wide: text
  EXPECT_EQ(map("numeric", 'b', ((5 << 16) | 0x7fe) + 4).precision, 0);  // scale -2: text
  CatalogType arr;
  arr.name = "_int4";
  arr.is_array = true;
  arr.element = "int4";
  EXPECT_EQ(map_type(arr).type, Type::kJson);
  EXPECT_EQ(map_type(arr).cast, "json");
  arr.element = "tsvector";
  EXPECT_FALSE(map_type(arr).supported);
}

std::string literal_of(const std::string& json) {
  std::string out;
  std::string err = array_literal(json, out);
  return err.empty() ? out : "error: " + err;
}

TEST(PgTypes, ArrayLiteralFromJson) {
  EXPECT_EQ(literal_of("[]"), "{}");
  EXPECT_EQ(literal_of("[1,2,null,4]"), "{1,2,NULL,4}");
  EXPECT_EQ(literal_of("[[1,2],[3,4]]"), "{{1,2},{3,4}}");
  EXPECT_EQ(literal_of(" [ [ [1.50] ] , [ [ -2e3 ] ] ] "), "{{{1.50}},{{-2e3}}}");
  EXPECT_EQ(literal_of("[true,false]"), "{true,false}");
  EXPECT_EQ(literal_of(R"(["a,b","q\"x",null,"","NULL","{}"])"),
            R"({"a,b","q\"x",NULL,"","NULL","{}"})");
  EXPECT_EQ(literal_of(R"(["back\\slash","tab\tnl\n","\u00e9\ud83c\udf89"])"),
            "{\"back\\\\slash\",\"tab\tnl\n\",\"\u00e9\U0001F389\"}");
  EXPECT_EQ(literal_of(R"([{"a": "}", "b": [1]}, null])"),
            R"({"{\"a\": \"}\", \"b\": [1]}",NULL})");
  EXPECT_EQ(literal_of("{}").rfind("error: ", 0), 0u);
  EXPECT_EQ(literal_of("[1,").rfind("error: ", 0), 0u);
  EXPECT_EQ(literal_of("[\"x]").rfind("error: ", 0), 0u);
}

TEST(PgTypes, DecodeRejectsInfinityAndBadLengths) {
  ColumnVector ts(Type::kTimestamp);
  std::string scratch;
  const char inf[8] = {0x7f, '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
  EXPECT_EQ(decode_value(Decode::kTimestamp, inf, 8, ts, scratch), "timestamp 'infinity'");
  const char zero[8] = {};
  EXPECT_EQ(decode_value(Decode::kTimestamp, zero, 8, ts, scratch), "");
  EXPECT_EQ(ts.int_at(0), kPgEpochMicros);
  EXPECT_NE(decode_value(Decode::kTimestamp, zero, 4, ts, scratch), "");
  auto be = [](int64_t v) {
    std::string b(8, '\0');
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(static_cast<uint64_t>(v) >> (56 - 8 * i));
    return b;
  };
  // 294276-12-31 23:59:59.999999, PostgreSQL's last timestamp, is past what int64 microseconds
  // since 1970 hold: an error, not a wrapped-around value.
  std::string last = be(9223371331200000000LL - 1);
  EXPECT_EQ(decode_value(Decode::kTimestamp, last.data(), 8, ts, scratch),
            "a timestamp after 294247-01-10 04:00:54.775807 UTC");
  // 294247-01-10 04:00:54.775807 is the last one Strata holds.
  std::string edge = be(std::numeric_limits<int64_t>::max() - kPgEpochMicros);
  EXPECT_EQ(decode_value(Decode::kTimestamp, edge.data(), 8, ts, scratch), "");
  EXPECT_EQ(ts.int_at(1), std::numeric_limits<int64_t>::max());
  ColumnVector d(Type::kDate);
  const char neg[4] = {'\x80', 0, 0, 0};
  EXPECT_EQ(decode_value(Decode::kDate, neg, 4, d, scratch), "date '-infinity'");
}

}  // namespace
}  // namespace strata::pg

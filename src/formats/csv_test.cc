// CSV specifics: the exact text written (quoting, NULL vs empty string, LF), what the reader
// accepts (CRLF, embedded newlines), header checks, and that malformed input is a clear error.
#include <gtest/gtest.h>

#include <random>

#include "formats/format_test_util.h"

namespace strata {
namespace {

using namespace format_testing;

std::shared_ptr<const Schema> small_schema() {
  return std::make_shared<Schema>(std::vector<Column>{{"id", Type::kInt64},
                                                      {"x", Type::kDouble},
                                                      {"ok", Type::kBool},
                                                      {"s", Type::kString},
                                                      {"ts", Type::kTimestamp},
                                                      {"d", Type::kDate},
                                                      {"b", Type::kBytes}});
}

const std::string kHeader = "id,x,ok,s,ts,d,b\n";

Result<std::vector<Batch>> read_text(const std::string& text,
                                     std::shared_ptr<const Schema> schema = small_schema()) {
  ReadOptions options;
  options.schema = std::move(schema);
  return read_bytes(spec_of("csv", "none"), text, options, 1000, "in.csv");
}

std::string error_of(const std::string& text, int line) {
  Result<std::vector<Batch>> r = read_text(text);
  EXPECT_FALSE(r.is_ok()) << "accepted: " << text;
  if (r.is_ok()) return "";
  EXPECT_TRUE(r.status().is_permanent());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("in.csv"), std::string::npos) << m;
  if (line > 0) {
    EXPECT_NE(m.find("line " + std::to_string(line) + ":"), std::string::npos) << m;
  }
  return m;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(CsvWriter, WritesTheDocumentedText) {
  auto schema = small_schema();
  Batch b(schema);
  auto row = [&](int64_t id, double x, bool ok, std::string s, int64_t ts, int64_t d,
                 std::string bytes) {
    b.column(0).append_int(id);
    b.column(1).append_double(x);
    b.column(2).append_bool(ok);
    b.column(3).append_text(s);
    b.column(4).append_int(ts);
    b.column(5).append_int(d);
    b.column(6).append_text(bytes);
  };
  row(1, 0.1, true, "plain", 1793536496500000, 20758, "\x01\x02");
  row(2, std::numeric_limits<double>::infinity(), false, "", 0, 0, "");
  row(3, -2.5e-300, true, "a,b \"q\"\nnext\rcr", -1, -1, std::string(1, '\xFF'));
  b.column(0).append_int(4);
  for (size_t c = 1; c < b.num_columns(); ++c) b.column(c).append_null();
  std::string text = write_bytes(spec_of("csv", "none"), schema, {&b});
  EXPECT_EQ(text, kHeader +
                      "1,0.1,true,plain,2026-11-01T12:34:56.500000Z,2026-11-01,AQI=\n"
                      "2,Infinity,false,\"\",1970-01-01T00:00:00Z,1970-01-01,\"\"\n"
                      "3,-2.5e-300,true,\"a,b \"\"q\"\"\nnext\rcr\",1969-12-31T23:59:59.999999Z,"
                      "1969-12-31,/w==\n"
                      "4,,,,,,\n");
}

TEST(CsvWriter, ZeroRowsIsTheHeaderAndNamesAreQuotedWhenNeeded) {
  auto schema = std::make_shared<Schema>(
      std::vector<Column>{{"a,b", Type::kInt64}, {"q\"", Type::kString}, {"plain", Type::kDate}});
  std::string text = write_bytes(spec_of("csv", "none"), schema, {});
  EXPECT_EQ(text, "\"a,b\",\"q\"\"\",plain\n");
  ReadOptions options;
  options.schema = schema;
  Result<std::vector<Batch>> back = read_bytes(spec_of("csv", "none"), text, options);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_TRUE(back->empty());
}

TEST(CsvReader, AcceptsCrlfEmbeddedNewlinesAndQuotedValues) {
  std::string text =
      "id,x,ok,s,ts,d,b\r\n"
      "1,NaN,true,\"multi\r\nline\nvalue\",\"2026-11-01T12:34:56.500000Z\",2026-11-01,\"AQI=\"\r\n"
      "\"2\",-0,false,\"\",,,\r\n"
      "3,,,,,,\r\n";
  Result<std::vector<Batch>> r = read_text(text);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  const Batch& b = (*r)[0];
  ASSERT_EQ(b.num_rows(), 3u);
  EXPECT_TRUE(std::isnan(b.column(1).double_at(0)));
  EXPECT_EQ(b.column(3).text_at(0), "multi\r\nline\nvalue");
  EXPECT_EQ(b.column(4).int_at(0), 1793536496500000);
  EXPECT_EQ(b.column(6).text_at(0), "\x01\x02");
  EXPECT_EQ(b.column(0).int_at(1), 2);
  EXPECT_TRUE(std::signbit(b.column(1).double_at(1)));
  EXPECT_FALSE(b.column(3).is_null(1));
  EXPECT_EQ(b.column(3).text_at(1), "");
  EXPECT_TRUE(b.column(4).is_null(1));
  for (size_t c = 1; c < b.num_columns(); ++c) EXPECT_TRUE(b.column(c).is_null(2));
}

TEST(CsvReader, HeaderMustNameTheSchemaColumns) {
  EXPECT_TRUE(contains(error_of("", 0), "empty file"));
  std::string m = error_of("id,x,ok,str,ts,d,b\n", 1);
  EXPECT_TRUE(contains(m, "header column 4 is 'str'"));
  EXPECT_TRUE(contains(m, "'s'"));
  EXPECT_TRUE(contains(error_of("id,x,ok,s,ts,d\n", 1), "column 'b' is missing"));
  EXPECT_TRUE(contains(error_of("id,x,ok,s,ts,d,b,extra\n", 1), "more than the 7 fields"));
  EXPECT_TRUE(contains(error_of("x,id,ok,s,ts,d,b\n1,2,,,,,\n", 1), "header column 1 is 'x'"));
}

TEST(CsvReader, MalformedInputIsAnErrorWithLineAndColumn) {
  const std::string h = kHeader;
  EXPECT_TRUE(contains(error_of(h + "1,2\n", 2), "expected 7 fields, found 2"));
  EXPECT_TRUE(contains(error_of(h + "1,,,,,,,\n", 2), "more than the 7 fields"));
  EXPECT_TRUE(contains(error_of(h + "x,,,,,,\n", 2), "column 'id': expected a 64-bit integer"));
  EXPECT_TRUE(contains(error_of(h + "99999999999999999999,,,,,,\n", 2), "column 'id'"));
  EXPECT_TRUE(contains(error_of(h + "1,1.5.5,,,,,\n", 2), "column 'x': expected a number"));
  EXPECT_TRUE(contains(error_of(h + "1,,yes,,,,\n", 2), "column 'ok': expected true or false"));
  EXPECT_TRUE(contains(error_of(h + "1,,,,noon,,\n", 2), "column 'ts': expected a timestamp"));
  EXPECT_TRUE(contains(error_of(h + "1,,,,,2026-02-30x,\n", 2), "column 'd': expected a date"));
  EXPECT_TRUE(contains(error_of(h + "1,,,,,,A\n", 2), "column 'b': expected base64"));
  EXPECT_TRUE(contains(error_of(h + "1,,,\"\",,,\"\"\"\n", 2), "unterminated"));
  EXPECT_TRUE(contains(error_of(h + "1,,,ab\"c,,,\n", 2), "quote inside an unquoted field"));
  EXPECT_TRUE(contains(error_of(h + "1,,,\"ab\"c,,,\n", 2), "after a closing quote"));
  EXPECT_TRUE(contains(error_of(h + "1,,,\"ab\" ,,,\n", 2), "after a closing quote"));
  EXPECT_TRUE(
      contains(error_of(h + "1,,,\"never closed\n2,,,,,,\n", 2), "unterminated quoted field"));
  // A multi-line record moves the line count on: the bad record is on line 6.
  EXPECT_TRUE(contains(error_of(h + "1,,,\"a\nb\nc\",,,\n2,,,,,,\nbad,,,,,,\n", 6), "column 'id'"));
  EXPECT_TRUE(contains(error_of(h + "\n", 2), "expected 7 fields, found 1"));
  EXPECT_TRUE(contains(error_of(h + "1,,,,,,\n2,,,,,,", 3), "no line end"));
  EXPECT_TRUE(contains(error_of("id,x,ok,s,ts,d,b", 1), "no line end"));
}

TEST(CsvReader, TruncatedFilesAreErrorsUnlessCutAtARecordEnd) {
  auto schema = all_types_schema();
  Batch b = all_types_batch(schema, 200);
  ReadOptions options;
  options.schema = schema;
  for (const char* codec : {"none", "zstd"}) {
    FormatSpec spec = spec_of("csv", codec);
    std::string bytes = write_bytes(spec, schema, {&b});
    Result<std::vector<Batch>> whole = read_bytes(spec, bytes, options);
    ASSERT_TRUE(whole.is_ok());
    std::mt19937 rng(5);
    int errors = 0;
    for (int i = 0; i < 100; ++i) {
      size_t cut = 1 + rng() % (bytes.size() - 1);
      Result<std::vector<Batch>> r = read_bytes(spec, bytes.substr(0, cut), options, 1000, "t.csv");
      if (r.is_ok()) {
        // Only a plain file cut at a record boundary can read cleanly, and then it has fewer rows.
        EXPECT_STREQ(codec, "none");
        EXPECT_LT(checksum_of(*r).rows(), b.num_rows());
      } else {
        ++errors;
        EXPECT_NE(r.status().message().find("t.csv"), std::string::npos);
      }
    }
    EXPECT_GT(errors, 50) << codec;
  }
}

TEST(CsvReader, RandomCorruptionNeverCrashes) {
  auto schema = all_types_schema();
  Batch b = all_types_batch(schema, 300);
  for (const char* codec : {"none", "zstd"}) {
    FormatSpec spec = spec_of("csv", codec);
    std::string bytes = write_bytes(spec, schema, {&b});
    ReadOptions options;
    options.schema = schema;
    std::mt19937 rng(13);
    for (int i = 0; i < 1000; ++i) {
      std::string mutated = mutate(bytes, rng);
      Result<std::vector<Batch>> r = read_bytes(spec, mutated, options, 64);
      if (!r.is_ok()) {
        EXPECT_TRUE(r.status().is_permanent());
      }
    }
  }
}

}  // namespace
}  // namespace strata

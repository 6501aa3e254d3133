// NDJSON specifics: the exact text written, JSON validity (checked with nlohmann-json as an
// independent parser), what the reader accepts, and that malformed input is a clear error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "formats/format_test_util.h"
#include "formats/zstd_stream.h"

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
                                                      {"dec", Type::kDecimal},
                                                      {"j", Type::kJson},
                                                      {"b", Type::kBytes}});
}

Result<std::vector<Batch>> read_text(const std::string& text,
                                     std::shared_ptr<const Schema> schema = small_schema()) {
  ReadOptions options;
  options.schema = std::move(schema);
  return read_bytes(spec_of("ndjson", "none"), text, options, 1000, "in.ndjson");
}

// The message of the error reading `text`, which must fail with a permanent error that names
// the source and the line.
std::string error_of(const std::string& text, int line) {
  Result<std::vector<Batch>> r = read_text(text);
  EXPECT_FALSE(r.is_ok()) << "accepted: " << text;
  if (r.is_ok()) return "";
  EXPECT_TRUE(r.status().is_permanent());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("in.ndjson"), std::string::npos) << m;
  EXPECT_NE(m.find("line " + std::to_string(line) + ":"), std::string::npos) << m;
  return m;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(NdjsonWriter, WritesTheDocumentedText) {
  auto schema = small_schema();
  Batch b(schema);
  b.column(0).append_int(-9223372036854775807 - 1);
  b.column(1).append_double(0.1);
  b.column(2).append_bool(true);
  b.column(3).append_text("a\"b\\c\nd\te\x01 caf\xC3\xA9");
  b.column(4).append_int(1793536496500000);
  b.column(5).append_int(20758);
  b.column(6).append_text("-12.340");
  b.column(7).append_text("{\"x\":[1,2]}");
  b.column(8).append_text(std::string("\x00\x01\xFF", 3));
  b.column(0).append_int(2);
  b.column(1).append_double(std::numeric_limits<double>::quiet_NaN());
  b.column(2).append_bool(false);
  b.column(3).append_text("");
  for (size_t c = 4; c < 9; ++c) b.column(c).append_null();
  b.column(0).append_int(3);
  b.column(1).append_double(-std::numeric_limits<double>::infinity());
  for (size_t c = 2; c < 9; ++c) b.column(c).append_null();
  std::string text = write_bytes(spec_of("ndjson", "none"), schema, {&b});
  EXPECT_EQ(
      text,
      "{\"id\":-9223372036854775808,\"x\":0.1,\"ok\":true,"
      "\"s\":\"a\\\"b\\\\c\\nd\\te\\u0001 caf\xC3\xA9\",\"ts\":\"2026-11-01T12:34:56.500000Z\","
      "\"d\":\"2026-11-01\",\"dec\":\"-12.340\",\"j\":\"{\\\"x\\\":[1,2]}\",\"b\":\"AAH/\"}\n"
      "{\"id\":2,\"x\":\"NaN\",\"ok\":false,\"s\":\"\",\"ts\":null,\"d\":null,\"dec\":null,"
      "\"j\":null,\"b\":null}\n"
      "{\"id\":3,\"x\":\"-Infinity\",\"ok\":null,\"s\":null,\"ts\":null,\"d\":null,"
      "\"dec\":null,\"j\":null,\"b\":null}\n");
}

TEST(NdjsonWriter, EscapesColumnNames) {
  auto schema = std::make_shared<Schema>(std::vector<Column>{{"we\"ird\nname", Type::kInt64}});
  Batch b(schema);
  b.column(0).append_int(1);
  std::string text = write_bytes(spec_of("ndjson", "none"), schema, {&b});
  EXPECT_EQ(text, "{\"we\\\"ird\\nname\":1}\n");
  ReadOptions options;
  options.schema = schema;
  Result<std::vector<Batch>> back = read_bytes(spec_of("ndjson", "none"), text, options);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ((*back)[0].column(0).int_at(0), 1);
}

TEST(NdjsonWriter, EveryLineIsValidJsonEvenForInvalidUtf8) {
  auto schema = all_types_schema();
  Batch b = all_types_batch(schema, 300);
  // Invalid UTF-8: lone continuation, truncated sequence, overlong, surrogate, > U+10FFFF.
  const std::vector<std::string> invalid = {
      "\x80", "a\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF\xFE", "ok\xE2\x82"};
  for (size_t i = 0; i < invalid.size(); ++i) {
    b.column(0).append_int(1000 + static_cast<int64_t>(i));
    for (size_t c = 1; c < b.num_columns(); ++c) {
      if (c == 4) {
        b.column(c).append_text(invalid[i]);
      } else {
        b.column(c).append_null();
      }
    }
  }
  std::string text = write_bytes(spec_of("ndjson", "none"), schema, {&b});
  size_t lines = 0, start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    ASSERT_NE(nl, std::string::npos);
    std::string line = text.substr(start, nl - start);
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j.size(), schema->size());
    start = nl + 1;
    ++lines;
  }
  EXPECT_EQ(lines, b.num_rows());

  // Valid UTF-8 strings come back from an independent parser byte for byte.
  size_t row = 0;
  start = 0;
  while (start < text.size() && row < 300) {
    size_t nl = text.find('\n', start);
    auto j = nlohmann::json::parse(text.substr(start, nl - start));
    if (b.column(4).is_null(row)) {
      EXPECT_TRUE(j["name"].is_null());
    } else {
      EXPECT_EQ(j["name"].get<std::string>(), b.column(4).text_at(row));
    }
    EXPECT_EQ(j["id"].get<int64_t>(), b.column(0).int_at(row));
    start = nl + 1;
    ++row;
  }

  // And Strata's reader gives the invalid bytes back unchanged.
  ReadOptions options;
  options.schema = schema;
  Result<std::vector<Batch>> back = read_bytes(spec_of("ndjson", "none"), text, options);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(cells_of(*back), cells_of({&b}));
}

TEST(NdjsonReader, AcceptsAnyKeyOrderMissingKeysWhitespaceAndEscapes) {
  std::string text =
      "  { \"s\" : \"\\u0041\\u00e9\\u4e2d\\ud83d\\ude00\\/\\b\\f\\r\" , \"id\":7 }  \r\n"
      "\n"
      "   \r\n"
      "{\"x\":1e3,\"id\":8,\"ok\":false,\"d\":\"2026-11-01\",\"ts\":\"2026-11-01 "
      "12:00:00+01:00\"}\n"
      "{}\n"
      "{\"x\":-0.0,\"dec\":\"1.5\",\"j\":\"[]\",\"b\":\"\",\"id\":9}\n";
  Result<std::vector<Batch>> r = read_text(text);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 1u);
  const Batch& b = (*r)[0];
  ASSERT_EQ(b.num_rows(), 4u);
  EXPECT_EQ(b.column(0).int_at(0), 7);
  // \u00e9 is the byte 0xE9 (Strata's convention for \u0000..\u00FF); \u4e2d and the surrogate
  // pair become UTF-8.
  EXPECT_EQ(b.column(3).text_at(0), "A\xE9\xE4\xB8\xAD\xF0\x9F\x98\x80/\b\f\r");
  EXPECT_TRUE(b.column(1).is_null(0));
  EXPECT_EQ(b.column(1).double_at(1), 1000.0);
  EXPECT_EQ(b.column(2).bool_at(1), false);
  EXPECT_EQ(b.column(5).int_at(1), 20758);
  EXPECT_EQ(b.column(4).int_at(1), 1793530800000000);  // 2026-11-01T11:00:00Z
  for (size_t c = 0; c < b.num_columns(); ++c) EXPECT_TRUE(b.column(c).is_null(2));
  EXPECT_TRUE(std::signbit(b.column(1).double_at(3)));
  EXPECT_EQ(b.column(6).text_at(3), "1.5");
  EXPECT_EQ(b.column(8).text_at(3), "");
  EXPECT_FALSE(b.column(8).is_null(3));
}

TEST(NdjsonReader, MalformedInputIsAnErrorWithLineAndColumn) {
  const std::string ok = "{\"id\":1}\n";
  EXPECT_TRUE(contains(error_of(ok + "garbage\n", 2), "expected '{'"));
  EXPECT_TRUE(contains(error_of(ok + "[1,2]\n", 2), "expected '{'"));
  EXPECT_TRUE(contains(error_of(ok + ok + "{\"id\":1\n", 3), "',' or '}'"));
  EXPECT_TRUE(contains(error_of(ok + ok + "{\"id\":1}", 3), "no line end"));
  EXPECT_TRUE(contains(error_of("{\"id\":1,\"s\":\"abc\n", 1), "unterminated string"));
  EXPECT_TRUE(contains(error_of("{\"id\":1,\"s\":\"abc\n\"}\n", 1), "unterminated string"));
  EXPECT_TRUE(contains(error_of("{\"id\":1,\"s\n", 1), "unterminated string"));
  EXPECT_TRUE(contains(error_of("{\"id\":1,\"nope\":2}\n", 1), "unknown key 'nope'"));
  EXPECT_TRUE(contains(error_of("{\"id\":1,\"id\":2}\n", 1), "twice"));
  EXPECT_TRUE(contains(error_of("{\"id\":\"1\"}\n", 1), "column 'id': expected an integer"));
  EXPECT_TRUE(contains(error_of("{\"id\":1.5}\n", 1), "column 'id': expected an integer"));
  EXPECT_TRUE(contains(error_of("{\"id\":9223372036854775808}\n", 1), "64-bit range"));
  EXPECT_TRUE(contains(error_of("{\"id\":-}\n", 1), "column 'id'"));
  EXPECT_TRUE(contains(error_of("{\"x\":\"fast\"}\n", 1), "column 'x'"));
  EXPECT_TRUE(contains(error_of("{\"x\":1e999}\n", 1), "column 'x'"));
  EXPECT_TRUE(contains(error_of("{\"x\":.5}\n", 1), "column 'x'"));
  EXPECT_TRUE(contains(error_of("{\"ok\":1}\n", 1), "column 'ok': expected true or false"));
  EXPECT_TRUE(contains(error_of("{\"ok\":tru}\n", 1), "column 'ok'"));
  EXPECT_TRUE(contains(error_of("{\"s\":5}\n", 1), "column 's': expected a string"));
  EXPECT_TRUE(contains(error_of("{\"s\":nul}\n", 1), "column 's': expected null"));
  EXPECT_TRUE(
      contains(error_of("{\"ts\":\"yesterday\"}\n", 1), "column 'ts': expected a timestamp"));
  EXPECT_TRUE(contains(error_of("{\"d\":\"2026-13-01\"}\n", 1), "column 'd': expected a date"));
  EXPECT_TRUE(contains(error_of("{\"b\":\"abc\"}\n", 1), "column 'b': expected base64"));
  EXPECT_TRUE(contains(error_of("{\"b\":\"a=bc\"}\n", 1), "column 'b': expected base64"));
  EXPECT_TRUE(contains(error_of("{\"s\":\"\\x\"}\n", 1), "valid escape"));
  EXPECT_TRUE(contains(error_of("{\"s\":\"\\u12\"}\n", 1), "4 hex digits"));
  EXPECT_TRUE(contains(error_of("{\"s\":\"\\ud800\"}\n", 1), "surrogate"));
  EXPECT_TRUE(contains(error_of("{\"s\":\"\\udc00\"}\n", 1), "surrogate"));
  EXPECT_TRUE(contains(error_of("{\"s\":\"a\tb\"}\n", 1), "control character"));
  EXPECT_TRUE(contains(error_of("{\"id\":1} x\n", 1), "end of the line"));
  EXPECT_TRUE(contains(error_of("{\"id\":1}{\"id\":2}\n", 1), "end of the line"));
  EXPECT_TRUE(contains(error_of("{\"id\" 1}\n", 1), "':'"));
  EXPECT_TRUE(contains(error_of("{id:1}\n", 1), "a key"));
  EXPECT_TRUE(contains(error_of("{\"id\":1,}\n", 1), "a key"));
  EXPECT_TRUE(contains(error_of("{\"s\":{\"a\":1}}\n", 1), "column 's'"));
  EXPECT_TRUE(contains(error_of(ok + ok + ok + "{\"id\":[1]}\n", 4), "column 'id'"));
}

TEST(NdjsonReader, UnprojectedValuesAreStillCheckedForSyntax) {
  ReadOptions options;
  options.schema = small_schema();
  options.columns = {"id"};
  auto read = [&](const std::string& text) {
    return read_bytes(spec_of("ndjson", "none"), text, options, 100, "p.ndjson");
  };
  Result<std::vector<Batch>> good =
      read("{\"s\":\"x\\\"y\",\"x\":-1.5e3,\"ok\":true,\"id\":4,\"b\":null}\n");
  ASSERT_TRUE(good.is_ok()) << good.status().to_string();
  EXPECT_EQ((*good)[0].column(0).int_at(0), 4);
  EXPECT_FALSE(read("{\"id\":4,\"s\":\"unterminated}\n").is_ok());
  EXPECT_FALSE(read("{\"id\":4,\"s\":[1]}\n").is_ok());
  EXPECT_FALSE(read("{\"id\":4,\"zz\":1}\n").is_ok());
}

TEST(NdjsonReader, ErrorsAreStickyAndRowsBeforeThemAreReturned) {
  StringSource source("{\"id\":1}\n{\"id\":2}\n{\"id\":oops}\n{\"id\":4}\n", "s.ndjson");
  ReadOptions options;
  options.schema = small_schema();
  auto reader = open_format_reader(spec_of("ndjson", "none"), &source, options);
  ASSERT_TRUE(reader.is_ok());
  Batch b((*reader)->schema_ptr());
  Result<bool> first = (*reader)->next(b, 2);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(b.num_rows(), 2u);
  Result<bool> second = (*reader)->next(b, 2);
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find("line 3"), std::string::npos);
  EXPECT_EQ(b.num_rows(), 0u);
  EXPECT_FALSE((*reader)->next(b, 2).is_ok());
}

TEST(NdjsonReader, TruncatedCompressedFileIsAnError) {
  auto schema = all_types_schema();
  Batch b = all_types_batch(schema, 5000);
  FormatSpec spec = spec_of("ndjson", "zstd");
  std::string bytes = write_bytes(spec, schema, {&b});
  ReadOptions options;
  options.schema = schema;
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t{10}, size_t{0}}) {
    Result<std::vector<Batch>> r =
        read_bytes(spec, bytes.substr(0, cut), options, 1000, "part-9.ndjson.zst");
    ASSERT_FALSE(r.is_ok()) << cut;
    EXPECT_TRUE(r.status().is_permanent());
    EXPECT_NE(r.status().message().find("part-9.ndjson.zst"), std::string::npos);
  }
}

TEST(NdjsonReader, TruncatedUncompressedFileIsAnErrorUnlessCutAtALineEnd) {
  auto schema = all_types_schema();
  Batch b = all_types_batch(schema, 200);
  FormatSpec spec = spec_of("ndjson", "none");
  std::string bytes = write_bytes(spec, schema, {&b});
  ReadOptions options;
  options.schema = schema;
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    size_t cut = rng() % bytes.size();
    Result<std::vector<Batch>> r = read_bytes(spec, bytes.substr(0, cut), options);
    // A cut right after a '\n' leaves whole lines: no way to tell from the text alone.
    // Anything else must be an error.
    if (cut == 0 || bytes[cut - 1] == '\n') {
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      EXPECT_LT(checksum_of(*r).rows(), b.num_rows());
    } else {
      EXPECT_FALSE(r.is_ok()) << "cut at " << cut;
    }
  }
}

TEST(NdjsonReader, RandomCorruptionNeverCrashes) {
  auto schema = all_types_schema();
  Batch b = all_types_batch(schema, 300);
  for (const char* codec : {"none", "zstd"}) {
    FormatSpec spec = spec_of("ndjson", codec);
    std::string bytes = write_bytes(spec, schema, {&b});
    ReadOptions options;
    options.schema = schema;
    std::mt19937 rng(11);
    int errors = 0;
    for (int i = 0; i < 1000; ++i) {
      std::string mutated = mutate(bytes, rng);
      Result<std::vector<Batch>> r = read_bytes(spec, mutated, options, 64);
      if (!r.is_ok()) {
        ++errors;
        EXPECT_TRUE(r.status().is_permanent());
      }
    }
    EXPECT_GT(errors, 300) << codec;
  }
}

}  // namespace
}  // namespace strata

// Tests of format names, specs, extensions and the local file source.
#include "formats/format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/fs.h"
#include "tests/support/duckdb.h"

namespace strata {
namespace {

using testing_support::fresh_dir;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Compression, NamesRoundTrip) {
  for (Compression c :
       {Compression::kNone, Compression::kZstd, Compression::kSnappy, Compression::kGzip}) {
    Result<Compression> back = parse_compression(compression_name(c));
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(*back, c);
  }
  Result<Compression> bad = parse_compression("lz4");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(bad.status().is_permanent());
  EXPECT_TRUE(contains(bad.status().message(), "lz4"));
  EXPECT_TRUE(contains(bad.status().message(), "none, zstd, snappy or gzip"));
}

TEST(FormatSpec, DefaultsAndLevels) {
  Result<FormatSpec> s = make_format_spec("ndjson", "zstd", 0);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->name, "ndjson");
  EXPECT_EQ(s->compression, Compression::kZstd);
  EXPECT_EQ(s->level, 3);
  EXPECT_EQ(make_format_spec("csv", "zstd", 19)->level, 19);
  EXPECT_EQ(make_format_spec("csv", "zstd", 1)->level, 1);
  EXPECT_EQ(make_format_spec("csv", "", 0)->compression, Compression::kZstd);
  EXPECT_EQ(make_format_spec("csv", "none", 3)->compression, Compression::kNone);
  EXPECT_EQ(make_format_spec("parquet", "snappy", 0)->compression, Compression::kSnappy);
  EXPECT_EQ(make_format_spec("parquet", "gzip", 0)->level, 6);
  EXPECT_EQ(make_format_spec("parquet", "none", 0)->compression, Compression::kNone);

  for (int bad_level : {20, -1, 100}) {
    Result<FormatSpec> bad = make_format_spec("ndjson", "zstd", bad_level);
    ASSERT_FALSE(bad.is_ok()) << bad_level;
    EXPECT_TRUE(bad.status().is_permanent());
    EXPECT_TRUE(contains(bad.status().message(), "1..19"));
  }
  EXPECT_FALSE(make_format_spec("parquet", "gzip", 10).is_ok());
}

TEST(FormatSpec, RejectsUnknownNamesAndCombinations) {
  Result<FormatSpec> unknown = make_format_spec("avro", "zstd", 0);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_TRUE(unknown.status().is_permanent());
  EXPECT_TRUE(contains(unknown.status().message(), "'avro'"));
  EXPECT_TRUE(contains(unknown.status().message(), "ndjson, csv or parquet"));

  for (const char* format : {"ndjson", "csv"}) {
    for (const char* codec : {"snappy", "gzip"}) {
      Result<FormatSpec> bad = make_format_spec(format, codec, 0);
      ASSERT_FALSE(bad.is_ok()) << format << "+" << codec;
      EXPECT_TRUE(contains(bad.status().message(), "none or zstd"));
    }
  }
  Result<FormatSpec> bad_codec = make_format_spec("parquet", "brotli", 0);
  ASSERT_FALSE(bad_codec.is_ok());
  EXPECT_TRUE(contains(bad_codec.status().message(), "none, zstd, snappy or gzip"));
}

TEST(FormatSpec, ExtensionsAndTheirInverse) {
  struct Case {
    const char* format;
    const char* codec;
    const char* ext;
  };
  for (const Case& c : {Case{"ndjson", "zstd", ".ndjson.zst"}, Case{"ndjson", "none", ".ndjson"},
                        Case{"csv", "zstd", ".csv.zst"}, Case{"csv", "none", ".csv"},
                        Case{"parquet", "snappy", ".parquet"}}) {
    FormatSpec spec = *make_format_spec(c.format, c.codec, 0);
    EXPECT_EQ(file_extension(spec), c.ext);
    Result<FormatSpec> back =
        format_spec_from_path(std::string("dt=2026-11-01/part-t-s-0") + c.ext);
    ASSERT_TRUE(back.is_ok()) << c.ext;
    EXPECT_EQ(back->name, c.format);
    if (std::string(c.format) != "parquet") {
      EXPECT_EQ(back->compression, spec.compression);
    }
    EXPECT_EQ(file_extension(*back), c.ext);
  }
  for (const char* bad : {"part.json", "part.zst", "part.csv.gz", "part", "ndjson"}) {
    Result<FormatSpec> r = format_spec_from_path(bad);
    ASSERT_FALSE(r.is_ok()) << bad;
    EXPECT_TRUE(r.status().is_permanent());
    EXPECT_TRUE(contains(r.status().message(), bad));
  }
}

TEST(FormatDispatch, UnknownFormatNameIsAnError) {
  FormatSpec spec;
  spec.name = "xml";
  auto schema = std::make_shared<Schema>(std::vector<Column>{{"a", Type::kInt64}});
  class NullSink : public ByteSink {
   public:
    Status write(const void*, size_t) override { return Status::ok(); }
  } sink;
  auto w = open_format_writer(spec, schema, &sink);
  ASSERT_FALSE(w.is_ok());
  EXPECT_TRUE(contains(w.status().message(), "'xml'"));
}

TEST(FileSource, ReadsAtOffsetsAndNamesThePathInErrors) {
  std::string dir = fresh_dir("file_source");
  std::string path = dir + "/data.bin";
  ASSERT_TRUE(write_file_atomic(path, "0123456789").is_ok());
  auto src = open_file_source(path);
  ASSERT_TRUE(src.is_ok()) << src.status().to_string();
  EXPECT_EQ((*src)->name(), path);
  EXPECT_EQ(*(*src)->size(), 10u);
  char buf[4];
  ASSERT_TRUE((*src)->read_at(3, 4, buf).is_ok());
  EXPECT_EQ(std::string(buf, 4), "3456");
  ASSERT_TRUE((*src)->read_at(0, 0, buf).is_ok());
  Status past = (*src)->read_at(8, 4, buf);
  ASSERT_FALSE(past.is_ok());
  EXPECT_TRUE(past.is_permanent());
  EXPECT_TRUE(contains(past.message(), path));

  auto missing = open_file_source(dir + "/nope.bin");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(missing.status().is_permanent());
  EXPECT_TRUE(contains(missing.status().message(), dir + "/nope.bin"));

  auto directory = open_file_source(dir);
  ASSERT_FALSE(directory.is_ok());
  EXPECT_TRUE(contains(directory.status().message(), dir));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata

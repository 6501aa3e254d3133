// Truncated, corrupted and foreign inputs: the reader returns a permanent error naming the source
// and what is wrong, and never crashes (run these under STRATA_SANITIZE too; the fuzz target in
// fuzz/ goes further).
#include <gtest/gtest.h>

#include <random>

#include "formats/parquet/parquet_test_util.h"

namespace strata::parquet {
namespace {

// Opens and reads everything; returns the error, or "" if the file read cleanly.
std::string read_all(const std::string& bytes) {
  StringSource source(bytes, "bad.parquet");
  auto reader = open_parquet_reader(&source, {});
  if (!reader.is_ok()) return reader.status().message();
  Batch batch((*reader)->schema_ptr());
  for (;;) {
    auto more = (*reader)->next(batch, 500);
    if (!more.is_ok()) return more.status().message();
    if (!*more) return "";
  }
}

std::string sample_file(Compression c) {
  auto schema = testing::all_types_schema();
  Batch b(schema);
  testing::fill_all_types(b);
  FormatSpec spec = testing::parquet_spec(c);
  auto bytes = testing::write_parquet(schema, {&b, &b}, spec);
  EXPECT_TRUE(bytes.is_ok());
  return *bytes;
}

TEST(ParquetCorrupt, EveryTruncationIsAClearError) {
  const std::string file = sample_file(Compression::kNone);
  ASSERT_EQ(read_all(file), "");
  for (size_t n = 0; n < file.size(); ++n) {
    const std::string err = read_all(file.substr(0, n));
    ASSERT_NE(err, "") << "prefix of " << n << " bytes read without error";
    EXPECT_NE(err.find("parquet file 'bad.parquet'"), std::string::npos) << err;
  }
  EXPECT_NE(read_all(file.substr(0, 5)).find("too small"), std::string::npos);
  EXPECT_NE(read_all(file.substr(0, file.size() - 1)).find("no PAR1 magic at the end"),
            std::string::npos);
}

TEST(ParquetCorrupt, ChunkCutOutOfTheMiddleIsDetected) {
  std::string file = sample_file(Compression::kZstd);
  // Keep the footer but drop data bytes: offsets now point past the data.
  std::string cut = file.substr(0, 100) + file.substr(file.size() / 2);
  const std::string err = read_all(cut);
  EXPECT_NE(err, "");
}

TEST(ParquetCorrupt, RandomByteFlipsNeverCrash) {
  std::mt19937_64 rng(7);
  for (Compression c :
       {Compression::kNone, Compression::kZstd, Compression::kSnappy, Compression::kGzip}) {
    const std::string file = sample_file(c);
    for (int trial = 0; trial < 400; ++trial) {
      std::string bad = file;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
      }
      const std::string err = read_all(bad);  // any outcome but a crash or a hang
      if (!err.empty()) {
        EXPECT_NE(err.find("bad.parquet"), std::string::npos) << err;
      }
    }
  }
}

TEST(ParquetCorrupt, NotParquetAtAll) {
  EXPECT_NE(read_all(""), "");
  EXPECT_NE(read_all(std::string(1000, 'x')), "");
  EXPECT_NE(read_all("PAR1" + std::string(3, '\0') + "PAR1").find("too small"), std::string::npos);
  std::string huge_footer =
      "PAR1" + std::string(10, '\0') + std::string("\xFF\xFF\xFF\x7F", 4) + "PAR1";
  EXPECT_NE(read_all(huge_footer).find("footer length"), std::string::npos);
  EXPECT_NE(read_all("PAR1" + std::string(10, '\0') + std::string("\x0A\0\0\0", 4) + "PARE")
                .find("encrypted"),
            std::string::npos);
}

}  // namespace
}  // namespace strata::parquet

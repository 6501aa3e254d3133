// Tests of the streaming zstd sink and the (de)compressing byte streams, checked against the
// zstd command-line tool as an independent codec.
#include "formats/zstd_stream.h"

#include <gtest/gtest.h>

#include <random>

#include "core/fs.h"
#include "formats/memory_io.h"
#include "tests/support/duckdb.h"

namespace strata {
namespace {

using testing_support::fresh_dir;
using testing_support::run_command;

std::string compress(const std::string& data, int level, size_t piece = 1000) {
  StringSink out;
  auto z = ZstdCompressSink::open(&out, level);
  EXPECT_TRUE(z.is_ok());
  for (size_t i = 0; i < data.size(); i += piece) {
    EXPECT_TRUE((*z)->write(data.data() + i, std::min(piece, data.size() - i)).is_ok());
  }
  EXPECT_TRUE((*z)->finish().is_ok());
  return out.data();
}

Result<std::string> read_all(ByteSource* source, Compression c, size_t chunk) {
  STRATA_ASSIGN_OR_RETURN(auto stream, open_byte_stream(source, c));
  std::string out, buf(chunk, '\0');
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(size_t n, stream->read(buf.data(), buf.size()));
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

std::string sample(size_t n, bool compressible, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = compressible ? "abcdefgh,\n"[rng() % 10] : static_cast<char>(rng());
  }
  return s;
}

TEST(Zstd, RoundTripsAcrossSizesAndReadChunks) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{4095}, size_t{3} << 20}) {
    for (bool compressible : {true, false}) {
      std::string data = sample(n, compressible);
      std::string z = compress(data, 3, 100000);
      for (size_t chunk : {size_t{1}, size_t{777}, size_t{1} << 20}) {
        if (chunk == 1 && n > 10000) continue;
        StringSource src(z, "mem.zst");
        Result<std::string> back = read_all(&src, Compression::kZstd, chunk);
        ASSERT_TRUE(back.is_ok()) << back.status().to_string() << " n=" << n << " chunk=" << chunk;
        EXPECT_EQ(*back, data) << "n=" << n << " chunk=" << chunk;
      }
    }
  }
}

TEST(Zstd, NoneIsAPassThrough) {
  std::string data = sample(100000, false);
  StringSource src(data, "mem");
  Result<std::string> back = read_all(&src, Compression::kNone, 4096);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, data);
  StringSource empty("", "empty");
  EXPECT_EQ(*read_all(&empty, Compression::kNone, 10), "");
}

TEST(Zstd, TheCommandLineToolReadsOurFramesAndWeReadItsFrames) {
  std::string dir = fresh_dir("zstd_cli");
  std::string data = sample(500000, true);
  ASSERT_TRUE(write_file_atomic(dir + "/ours.zst", compress(data, 19)).is_ok());
  auto [rc, out] = run_command("zstd -q -d -c " + dir + "/ours.zst");
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(out, data);

  ASSERT_TRUE(write_file_atomic(dir + "/plain", data).is_ok());
  // Two frames back to back: zstd allows concatenation.
  auto [rc2, _] =
      run_command("zstd -q -c " + dir + "/plain > " + dir + "/theirs.zst && zstd -q -c " + dir +
                  "/plain >> " + dir + "/theirs.zst");
  ASSERT_EQ(rc2, 0);
  auto src = open_file_source(dir + "/theirs.zst");
  ASSERT_TRUE(src.is_ok());
  Result<std::string> back = read_all(src->get(), Compression::kZstd, 65536);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(*back, data + data);
}

TEST(Zstd, TruncatedEmptyAndCorruptStreamsAreErrorsNamingTheSource) {
  std::string data = sample(200000, false);
  std::string z = compress(data, 3);
  for (size_t cut : {z.size() - 1, z.size() - 4, z.size() / 2, size_t{5}}) {
    StringSource src(z.substr(0, cut), "part-1.ndjson.zst");
    Result<std::string> back = read_all(&src, Compression::kZstd, 65536);
    ASSERT_FALSE(back.is_ok()) << "cut at " << cut;
    EXPECT_TRUE(back.status().is_permanent());
    EXPECT_NE(back.status().message().find("part-1.ndjson.zst"), std::string::npos);
  }
  StringSource empty("", "empty.zst");
  Result<std::string> e = read_all(&empty, Compression::kZstd, 100);
  ASSERT_FALSE(e.is_ok());
  EXPECT_NE(e.status().message().find("empty.zst"), std::string::npos);

  std::string corrupt = z;
  corrupt[corrupt.size() / 2] ^= 0x55;
  StringSource bad(corrupt, "bad.zst");
  Result<std::string> c = read_all(&bad, Compression::kZstd, 65536);
  ASSERT_FALSE(c.is_ok());
  EXPECT_TRUE(c.status().is_permanent());
  EXPECT_NE(c.status().message().find("bad.zst"), std::string::npos);

  StringSource garbage(std::string(1000, 'x'), "garbage.zst");
  EXPECT_FALSE(read_all(&garbage, Compression::kZstd, 100).is_ok());
}

TEST(Zstd, EmptyInputMakesAValidFrame) {
  std::string z = compress("", 3);
  EXPECT_GT(z.size(), 0u);
  StringSource src(z, "e.zst");
  Result<std::string> back = read_all(&src, Compression::kZstd, 100);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(*back, "");
}

TEST(Zstd, WriteAfterFinishAndSinkErrorsAreReported) {
  StringSink out;
  auto z = ZstdCompressSink::open(&out, 3);
  ASSERT_TRUE(z.is_ok());
  ASSERT_TRUE((*z)->write("abc", 3).is_ok());
  ASSERT_TRUE((*z)->finish().is_ok());
  EXPECT_FALSE((*z)->write("abc", 3).is_ok());
  EXPECT_FALSE((*z)->finish().is_ok());

  class FailingSink : public ByteSink {
   public:
    Status write(const void*, size_t) override { return Status::retryable("upload failed"); }
  } failing;
  auto f = ZstdCompressSink::open(&failing, 3);
  ASSERT_TRUE(f.is_ok());
  Status s = (*f)->write("abc", 3);  // buffered inside zstd; the error comes at finish()
  if (s.is_ok()) s = (*f)->finish();
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(s.is_retryable());
  EXPECT_EQ(s.message(), "upload failed");
}

TEST(Zstd, UnsupportedCodecsForStreamsAreErrors) {
  StringSource src("x", "f.gz");
  auto s = open_byte_stream(&src, Compression::kGzip);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("gzip"), std::string::npos);
}

}  // namespace
}  // namespace strata

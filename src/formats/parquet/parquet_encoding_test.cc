// The RLE / bit-packed hybrid and the dictionaries, against the format's worked example and random
// data of every bit width.
#include <gtest/gtest.h>

#include <random>

#include "formats/parquet/parquet_encoding.h"

namespace strata::parquet {
namespace {

std::vector<uint32_t> decode(const std::string& bytes, int bit_width, size_t n) {
  RleDecoder d;
  d.reset(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), bit_width);
  std::vector<uint32_t> out(n);
  out.resize(d.get(out.data(), n));
  return out;
}

TEST(ParquetEncoding, BitPackedExampleFromTheSpec) {
  // Encodings.md: values 0..7 with bit width 3 bit-pack to 0x88 0xC6 0xFA after header 0x03.
  std::string out;
  RleEncoder e;
  e.reset(3, &out);
  for (uint32_t v = 0; v < 8; ++v) e.put(v);
  e.flush();
  EXPECT_EQ(out, std::string("\x03\x88\xC6\xFA", 4));
  EXPECT_EQ(decode(out, 3, 8), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(ParquetEncoding, LongRunsBecomeRleRuns) {
  std::string out;
  RleEncoder e;
  e.reset(1, &out);
  e.put_repeated(1, 1000000);
  e.flush();
  EXPECT_LE(out.size(), 5u);  // varint header + one value byte
  const auto v = decode(out, 1, 1000000);
  ASSERT_EQ(v.size(), 1000000u);
  EXPECT_EQ(std::count(v.begin(), v.end(), 1u), 1000000);
}

TEST(ParquetEncoding, RandomRoundTripEveryBitWidth) {
  std::mt19937_64 rng(42);
  for (int bw = 1; bw <= 32; ++bw) {
    for (int pattern = 0; pattern < 3; ++pattern) {
      const size_t n = 1 + rng() % 5000;
      std::vector<uint32_t> in(n);
      const uint64_t mask = bw == 32 ? 0xFFFFFFFFull : (1ull << bw) - 1;
      for (size_t i = 0; i < n; ++i) {
        if (pattern == 0) in[i] = static_cast<uint32_t>(rng() & mask);                   // literals
        if (pattern == 1) in[i] = static_cast<uint32_t>((i / (1 + rng() % 40)) & mask);  // runs
        if (pattern == 2) in[i] = static_cast<uint32_t>((rng() % 3 == 0 ? rng() : 7) & mask);
      }
      std::string out;
      RleEncoder e;
      e.reset(bw, &out);
      for (size_t i = 0; i < n; ++i) {
        if (i % 97 == 0 && i + 20 < n) {
          e.put_repeated(in[i], 20);
          for (size_t k = 1; k < 20; ++k) in[i + k] = in[i];
          i += 19;
          continue;
        }
        e.put(in[i]);
      }
      e.flush();
      EXPECT_EQ(decode(out, bw, n), in) << "bit width " << bw << " pattern " << pattern;
    }
  }
}

TEST(ParquetEncoding, DecoderStopsAtTheEndOfCorruptInput) {
  const std::string bytes("\x7F\xFF\xFF", 3);  // literal run claiming 63 groups, 2 bytes present
  const auto v = decode(bytes, 8, 1000);
  EXPECT_EQ(v.size(), 2u);  // only the values whose bytes are present
  EXPECT_TRUE(decode(std::string("\x80\x80\x80\x80\x80\x80", 6), 8, 10).empty());
}

TEST(ParquetEncoding, Dictionaries) {
  IntDictionary d;
  for (int round = 0; round < 2; ++round) {
    for (uint64_t i = 0; i < 100000; ++i) EXPECT_EQ(d.get_or_insert(i * 7919), i);
  }
  EXPECT_EQ(d.size(), 100000u);
  d.truncate(10);
  EXPECT_EQ(d.get_or_insert(9 * 7919), 9u);
  EXPECT_EQ(d.get_or_insert(10 * 7919), 10u);

  BytesDictionary b;
  bool inserted = false;
  EXPECT_EQ(b.get_or_insert("", inserted), 0u);
  EXPECT_TRUE(inserted);
  for (int i = 0; i < 50000; ++i) b.get_or_insert("k" + std::to_string(i), inserted);
  EXPECT_EQ(b.get_or_insert("k123", inserted), 124u);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(b.at(124), "k123");
  b.truncate(5);
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(b.get_or_insert("k3", inserted), 4u);
  EXPECT_EQ(b.get_or_insert("k4", inserted), 5u);
  EXPECT_TRUE(inserted);
}

}  // namespace
}  // namespace strata::parquet

// The RLE / bit-packed hybrid, DELTA_BINARY_PACKED and the dictionaries, against the format's
// worked examples and random data of every bit width.
#include <gtest/gtest.h>

#include <limits>
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
template <typename T>
std::vector<T> delta_round_trip(const std::vector<T>& in, size_t* encoded = nullptr) {
  std::string out;
  delta_binary_pack(reinterpret_cast<const char*>(in.data()), in.size(), sizeof(T), out);
  if (encoded) *encoded = out.size();
  out += "tail";  // the decoder must stop at the stream's end
  std::vector<uint8_t> plain;
  std::string error;
  const auto* p = reinterpret_cast<const uint8_t*>(out.data());
  const uint8_t* stop = delta_binary_unpack(p, p + out.size(), sizeof(T), in.size(), plain, error);
  EXPECT_NE(stop, nullptr) << error;
  if (!stop) return {};
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(stop), 4), "tail");
  std::vector<T> back(plain.size() / sizeof(T));
  if (!back.empty()) std::memcpy(back.data(), plain.data(), back.size() * sizeof(T));
  return back;
}

TEST(ParquetEncoding, DeltaExampleFromTheSpec) {
  // Encodings.md, example 1: 1 2 3 4 5 has deltas 1 1 1 1, min delta 1, all miniblocks 0 bits:
  // header 128 4 5 zigzag(1), block zigzag(1) and four zero widths, no miniblock bytes.
  const std::vector<int64_t> in{1, 2, 3, 4, 5};
  std::string out;
  delta_binary_pack(reinterpret_cast<const char*>(in.data()), in.size(), 8, out);
  EXPECT_EQ(out, std::string("\x80\x01\x04\x05\x02\x02\x00\x00\x00\x00", 10));
  EXPECT_EQ(delta_round_trip(in), in);
}

TEST(ParquetEncoding, DeltaRoundTripsEveryLengthAndWraparound) {
  std::mt19937_64 rng(7);
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (size_t n : {0, 1, 2, 31, 32, 33, 127, 128, 129, 130, 257, 1000, 65536}) {
    std::vector<int64_t> sorted(n), random(n), extremes(n), jumps(n);
    std::vector<int32_t> small(n), edges(n);
    for (size_t i = 0; i < n; ++i) {
      sorted[i] =
          1700000000000000 + static_cast<int64_t>(i) * 1000000 + static_cast<int64_t>(rng() % 1000);
      random[i] = static_cast<int64_t>(rng());
      extremes[i] = i % 3 == 0 ? kMin : (i % 3 == 1 ? kMax : 0);
      jumps[i] = i % 100 == 99 ? static_cast<int64_t>(i) << 40 : static_cast<int64_t>(i);
      small[i] = static_cast<int32_t>(rng() % 200) - 100;
      edges[i] = i % 2 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int32_t>::max();
    }
    EXPECT_EQ(delta_round_trip(sorted), sorted) << n;
    EXPECT_EQ(delta_round_trip(random), random) << n;
    EXPECT_EQ(delta_round_trip(extremes), extremes) << n;
    EXPECT_EQ(delta_round_trip(jumps), jumps) << n;
    EXPECT_EQ(delta_round_trip(small), small) << n;
    EXPECT_EQ(delta_round_trip(edges), edges) << n;
  }
  // Timestamps a second apart with jitter: about 20 bits a value instead of 64.
  std::vector<int64_t> ts(65536);
  for (size_t i = 0; i < ts.size(); ++i) {
    ts[i] =
        1700000000000000 + static_cast<int64_t>(i) * 1000000 + static_cast<int64_t>(rng() % 999999);
  }
  size_t encoded = 0;
  EXPECT_EQ(delta_round_trip(ts, &encoded), ts);
  EXPECT_LT(encoded, ts.size() * 8 / 2);
}

TEST(ParquetEncoding, DeltaCorruptInputIsAnErrorNotACrash) {
  std::vector<int64_t> in(300);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int64_t>(i * i);
  std::string good;
  delta_binary_pack(reinterpret_cast<const char*>(in.data()), in.size(), 8, good);
  std::vector<uint8_t> plain;
  std::string error;
  // Every truncation is an error.
  for (size_t len = 0; len < good.size(); ++len) {
    const auto* p = reinterpret_cast<const uint8_t*>(good.data());
    plain.clear();
    error.clear();
    EXPECT_EQ(delta_binary_unpack(p, p + len, 8, in.size(), plain, error), nullptr) << len;
    EXPECT_NE(error.find("DELTA_BINARY_PACKED"), std::string::npos) << error;
  }
  // More values than the page holds, a block size the format forbids, a 65-bit miniblock.
  const auto* p = reinterpret_cast<const uint8_t*>(good.data());
  EXPECT_EQ(delta_binary_unpack(p, p + good.size(), 8, in.size() - 1, plain, error), nullptr);
  EXPECT_NE(error.find("claims 300 values"), std::string::npos) << error;
  std::string bad_block = good;
  bad_block[0] = 100;  // block size 100
  p = reinterpret_cast<const uint8_t*>(bad_block.data());
  EXPECT_EQ(delta_binary_unpack(p, p + bad_block.size(), 8, in.size(), plain, error), nullptr);
  EXPECT_NE(error.find("multiples of 128"), std::string::npos) << error;
  std::string wide = good;
  const size_t widths_at = 2 + 1 + 2 + 1 + 1;  // 128 (2 bytes), 4, 300 (2 bytes), 0, min delta
  wide[widths_at] = 65;
  p = reinterpret_cast<const uint8_t*>(wide.data());
  EXPECT_EQ(delta_binary_unpack(p, p + wide.size(), 8, in.size(), plain, error), nullptr);
  EXPECT_NE(error.find("65-bit"), std::string::npos) << error;
}

}  // namespace strata::parquet

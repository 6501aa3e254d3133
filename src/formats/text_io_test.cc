// Tests of the shared text codecs: the fast double and timestamp printers must give exactly the
// text of std::to_chars and core's append_timestamp / append_date; base64 and UTF-8 checks.
#include "formats/text_io.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/checksum.h"

namespace strata::text_io {
namespace {

std::string fast_double(double v) {
  char buf[kMaxNumberChars];
  return std::string(buf, put_double(buf, v));
}

std::string reference_double(double v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

TEST(TextIo, DoublesMatchToCharsExactly) {
  std::mt19937_64 rng(99);
  std::vector<double> values = {
      0.001,   0.0011,  0.00123,  0.01,         0.1,      0.5,       1,         10,
      100,     1000,    10000,    100000,       999999,   999999.5,  1e6,       1200000,
      120000,  12000,   0.3,      0.1 + 0.2,    49.55662, 13.404954, 52.520008, 123.456789012,
      1.0 / 3, 2.0 / 3, 0.000999, 0.0009999999, 5e-324,   1e-3 * 3};
  for (int i = 0; i < 2000000; ++i) {
    double v;
    switch (i % 5) {
      case 0: {  // decimals with 0..10 fraction digits in several magnitudes
        int k = static_cast<int>(rng() % 11);
        double scale = std::pow(10.0, static_cast<double>(rng() % 10) - 3);
        v = std::round(static_cast<double>(rng() % 100000000) / std::pow(10.0, k)) * scale;
        if (i % 2 == 0) v = static_cast<double>(rng() % 1000000000) / std::pow(10.0, k);
        break;
      }
      case 1: {  // random bits (finite)
        uint64_t bits = rng();
        std::memcpy(&v, &bits, 8);
        if (!std::isfinite(v)) v = 1.5;
        break;
      }
      case 2:  // random doubles in the fast range
        v = std::ldexp(static_cast<double>(rng() >> 11), -53) * std::pow(10.0, rng() % 9 - 3);
        break;
      case 3:  // integers
        v = static_cast<double>(rng() % 2000000);
        break;
      default:  // neighbours of short decimals
        v = std::nextafter(static_cast<double>(rng() % 100000) / 1000, rng() % 2 ? 1e9 : -1e9);
        break;
    }
    values.push_back(rng() % 2 ? v : -v);
  }
  for (double v : values) {
    ASSERT_EQ(fast_double(v), reference_double(v)) << std::hexfloat << v;
  }
}

TEST(TextIo, TimestampsAndDatesMatchCoreExactly) {
  std::mt19937_64 rng(5);
  TimestampText text;
  char buf[kMaxTimestampChars];
  std::vector<int64_t> stamps = {0,
                                 -1,
                                 1,
                                 86399999999,
                                 86400000000,
                                 -86400000000,
                                 -62135596800000000,  // 0001-01-01
                                 -62167219200000000,  // 0000-01-01
                                 -62167219200000001,  // year -1: through core
                                 253402300799999999,  // 9999-12-31T23:59:59.999999
                                 253402300800000000,  // 10000-01-01: through core
                                 std::numeric_limits<int64_t>::max() / 2,
                                 std::numeric_limits<int64_t>::min() / 2};
  int64_t t = 1793536496000000;
  for (int i = 0; i < 200000; ++i) {
    t += static_cast<int64_t>(rng() % 20000000);
    stamps.push_back(t);
    stamps.push_back(static_cast<int64_t>(rng() % 600000000000000000) - 300000000000000000);
    if (i % 3 == 0) stamps.push_back(t - t % 1000000);  // whole seconds
  }
  for (int64_t s : stamps) {
    ASSERT_EQ(std::string(buf, text.put_timestamp(buf, s)), format_timestamp(s)) << s;
    const int64_t d = s / 86400000000;
    ASSERT_EQ(std::string(buf, text.put_date(buf, d)), format_date(d)) << d;
  }
}

TEST(TextIo, Base64MatchesCoreAndRejectsNonCanonicalText) {
  std::mt19937 rng(1);
  std::string decoded;
  for (size_t n = 0; n < 300; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    std::string text(base64_size(n), '\0');
    ASSERT_EQ(put_base64(text.data(), bytes), text.data() + text.size());
    ASSERT_EQ(text, base64_encode(bytes));
    ASSERT_TRUE(decode_base64(text, decoded));
    ASSERT_EQ(decoded, bytes);
  }
  for (const char* bad : {"A", "AB", "ABC", "A===", "AB=C", "AB==AAAA", "AB\nC", "ABC*", "===="}) {
    EXPECT_FALSE(decode_base64(bad, decoded)) << bad;
  }
}

TEST(TextIo, Utf8SequenceLengths) {
  auto len = [](std::string_view s) {
    return utf8_sequence_length(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  EXPECT_EQ(len("a"), 1u);
  EXPECT_EQ(len("\xC3\xA9"), 2u);
  EXPECT_EQ(len("\xE4\xB8\xAD"), 3u);
  EXPECT_EQ(len("\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(len("\xF4\x8F\xBF\xBF"), 4u);  // U+10FFFF
  EXPECT_EQ(len("\x80"), 0u);              // continuation byte
  EXPECT_EQ(len("\xC3"), 0u);              // truncated
  EXPECT_EQ(len("\xC0\xAF"), 0u);          // overlong
  EXPECT_EQ(len("\xE0\x80\xAF"), 0u);      // overlong
  EXPECT_EQ(len("\xED\xA0\x80"), 0u);      // surrogate
  EXPECT_EQ(len("\xF4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(len("\xF8\x88\x80\x80\x80"), 0u);
  EXPECT_EQ(len("\xE4\xB8"), 0u);
}

}  // namespace
}  // namespace strata::text_io

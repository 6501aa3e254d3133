// Micro-benchmarks of the Parquet encoders: PLAIN (int64, double, strings), dictionary
// (int64 and string hash dictionaries), and the RLE / bit-packed hybrid (definition levels and
// dictionary indices), plus its decoder, and DELTA_BINARY_PACKED both ways (timestamps a second
// apart with jitter). items_per_second = values per second, single-threaded.
//   ninja -C build parquet_encoders_bench && build/src/formats/parquet/parquet_encoders_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/parquet/parquet_encoding.h"

namespace strata::parquet {
namespace {

constexpr size_t kValues = 1 << 16;

std::vector<int64_t> random_ints(uint64_t distinct) {
  std::mt19937_64 rng(1);
  std::vector<int64_t> v(kValues);
  for (auto& x : v) x = static_cast<int64_t>(rng() % distinct) * 7919;
  return v;
}

std::vector<std::string> random_strings(uint64_t distinct, size_t len) {
  std::mt19937_64 rng(2);
  std::vector<std::string> v(kValues);
  for (auto& s : v) {
    s = "value-" + std::to_string(rng() % distinct);
    s.resize(std::max(len, s.size()), 'x');
  }
  return v;
}

void BM_PlainInt64(benchmark::State& state) {
  const auto v = random_ints(1u << 30);
  std::string out;
  for (auto _ : state) {
    out.clear();
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * 8);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_PlainInt64);

void BM_PlainByteArray(benchmark::State& state) {
  const auto v = random_strings(1u << 30, 40);
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const std::string& s : v) {
      append_u32_le(out, static_cast<uint32_t>(s.size()));
      out.append(s);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_PlainByteArray);

void BM_PackBools(benchmark::State& state) {
  std::vector<uint8_t> v(kValues);
  for (size_t i = 0; i < v.size(); ++i) v[i] = (i * 2654435761u >> 7) & 1;
  std::string out;
  for (auto _ : state) {
    out.clear();
    pack_bools(v.data(), v.size(), out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_PackBools);

// Dictionary-encodes kValues int64 with `distinct` values: hash lookups + index buffer.
void BM_DictionaryInt64(benchmark::State& state) {
  const auto v = random_ints(static_cast<uint64_t>(state.range(0)));
  IntDictionary dict;
  std::vector<uint32_t> idx(kValues);
  for (auto _ : state) {
    dict.clear();
    for (size_t i = 0; i < v.size(); ++i) idx[i] = dict.get_or_insert(static_cast<uint64_t>(v[i]));
    benchmark::DoNotOptimize(idx.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_DictionaryInt64)->Arg(5)->Arg(1000)->Arg(100000);

void BM_DictionaryString(benchmark::State& state) {
  const auto v = random_strings(static_cast<uint64_t>(state.range(0)), 12);
  BytesDictionary dict;
  std::vector<uint32_t> idx(kValues);
  for (auto _ : state) {
    dict.clear();
    bool inserted;
    for (size_t i = 0; i < v.size(); ++i) idx[i] = dict.get_or_insert(v[i], inserted);
    benchmark::DoNotOptimize(idx.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_DictionaryString)->Arg(5)->Arg(1000)->Arg(100000);

// RLE / bit-packing of dictionary indices of the given bit width (random: all bit-packed).
void BM_RleEncodeIndices(benchmark::State& state) {
  const int bw = static_cast<int>(state.range(0));
  std::mt19937 rng(3);
  std::vector<uint32_t> v(kValues);
  for (auto& x : v) x = rng() & ((1u << bw) - 1);
  std::string out;
  RleEncoder e;
  for (auto _ : state) {
    out.clear();
    e.reset(bw, &out);
    for (uint32_t x : v) e.put(x);
    e.flush();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_RleEncodeIndices)->Arg(1)->Arg(3)->Arg(10)->Arg(17);

// Definition levels with one NULL in 17 rows (mixed runs and literals), and with none.
void BM_RleEncodeDefinitionLevels(benchmark::State& state) {
  const bool with_nulls = state.range(0) != 0;
  std::vector<uint8_t> v(kValues, 1);
  if (with_nulls) {
    for (size_t i = 0; i < v.size(); i += 17) v[i] = 0;
  }
  std::string out;
  RleEncoder e;
  for (auto _ : state) {
    out.clear();
    e.reset(1, &out);
    if (with_nulls) {
      for (uint8_t x : v) e.put(x);
    } else {
      e.put_repeated(1, v.size());
    }
    e.flush();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_RleEncodeDefinitionLevels)->Arg(0)->Arg(1);

void BM_RleDecodeIndices(benchmark::State& state) {
  const int bw = static_cast<int>(state.range(0));
  std::mt19937 rng(4);
  std::string encoded;
  RleEncoder e;
  e.reset(bw, &encoded);
  for (size_t i = 0; i < kValues; ++i) e.put(rng() & ((1u << bw) - 1));
  e.flush();
  std::vector<uint32_t> out(kValues);
  RleDecoder d;
  for (auto _ : state) {
    d.reset(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size(), bw);
    benchmark::DoNotOptimize(d.get(out.data(), kValues));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_RleDecodeIndices)->Arg(3)->Arg(10);

std::vector<int64_t> jittered_timestamps() {
  std::mt19937_64 rng(3);
  std::vector<int64_t> v(kValues);
  for (size_t i = 0; i < kValues; ++i) {
    v[i] =
        1700000000000000 + static_cast<int64_t>(i) * 1000000 + static_cast<int64_t>(rng() % 1000);
  }
  return v;
}

void BM_DeltaPack(benchmark::State& state) {
  const auto v = jittered_timestamps();
  std::string out;
  for (auto _ : state) {
    out.clear();
    delta_binary_pack(reinterpret_cast<const char*>(v.data()), v.size(), 8, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_DeltaPack);

void BM_DeltaUnpack(benchmark::State& state) {
  const auto v = jittered_timestamps();
  std::string encoded;
  delta_binary_pack(reinterpret_cast<const char*>(v.data()), v.size(), 8, encoded);
  const auto* p = reinterpret_cast<const uint8_t*>(encoded.data());
  std::vector<uint8_t> out;
  std::string error;
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(delta_binary_unpack(p, p + encoded.size(), 8, kValues, out, error));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}
BENCHMARK(BM_DeltaUnpack);

}  // namespace
}  // namespace strata::parquet

BENCHMARK_MAIN();

// Micro-benchmarks of the text format writers and readers on a telemetry-like row (8 columns:
// id, vehicle_id, ts, speed, lat, lon, status, payload of ~40 chars), with and without zstd.
// items_per_second = rows per second, single-threaded.
//   ninja -C build formats_bench && build/src/formats/formats_bench
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "formats/format.h"
#include "formats/memory_io.h"

namespace strata {
namespace {

constexpr size_t kRows = 8192;

// Counts bytes and drops them, so that the figures are the encoder's and compressor's.
class CountingSink final : public ByteSink {
 public:
  Status write(const void*, size_t n) override {
    bytes_ += n;
    return Status::ok();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t bytes_ = 0;
};

std::shared_ptr<const Schema> telemetry_schema() {
  return std::make_shared<Schema>(std::vector<Column>{{"id", Type::kInt64},
                                                      {"vehicle_id", Type::kInt64},
                                                      {"ts", Type::kTimestamp},
                                                      {"speed", Type::kDouble},
                                                      {"lat", Type::kDouble},
                                                      {"lon", Type::kDouble},
                                                      {"status", Type::kString},
                                                      {"payload", Type::kString}});
}

Batch telemetry_batch(const std::shared_ptr<const Schema>& schema, uint32_t seed) {
  static const char* kStatus[] = {"moving", "idle", "parked", "charging", "offline"};
  std::mt19937_64 rng(seed);
  Batch b(schema);
  int64_t ts = 1793536496000000;  // 2026-11-01T12:34:56Z
  std::string payload;
  for (size_t i = 0; i < kRows; ++i) {
    ts += static_cast<int64_t>(rng() % 20000);
    b.column(0).append_int(static_cast<int64_t>(1000000 + i));
    b.column(1).append_int(static_cast<int64_t>(rng() % 10000));
    b.column(2).append_int(ts);
    b.column(3).append_double(std::round(static_cast<double>(rng() % 1300)) / 10);
    b.column(4).append_double(std::round((48.0 + (rng() % 1000000) / 1e5) * 1e6) / 1e6);
    b.column(5).append_double(std::round((2.0 + (rng() % 1000000) / 1e5) * 1e6) / 1e6);
    b.column(6).append_text(kStatus[rng() % 5]);
    payload = "fuel=" + std::to_string(rng() % 100) + ";temp=" + std::to_string(60 + rng() % 50) +
              ";gear=" + std::to_string(rng() % 7) + ";rpm=" + std::to_string(rng() % 6000) +
              ";err=none";
    b.column(7).append_text(payload);
  }
  return b;
}

// Distinct batches, together larger than zstd's window at level 3 (2 MiB), so that the
// compressor does not find a repeat of the previous batch.
constexpr uint32_t kBatches = 16;

std::vector<Batch> telemetry_batches(const std::shared_ptr<const Schema>& schema) {
  std::vector<Batch> batches;
  for (uint32_t i = 0; i < kBatches; ++i) batches.push_back(telemetry_batch(schema, 42 + i));
  return batches;
}

void BM_Write(benchmark::State& state, const char* format, const char* compression, int level) {
  auto schema = telemetry_schema();
  std::vector<Batch> batches = telemetry_batches(schema);
  FormatSpec spec = *make_format_spec(format, compression, level);
  CountingSink sink;
  auto writer = std::move(open_format_writer(spec, schema, &sink).value());
  uint64_t rows = 0;
  size_t next = 0;
  for (auto _ : state) {
    const Batch& batch = batches[next++ % kBatches];
    Status s = writer->write(batch);
    if (!s.is_ok()) state.SkipWithError(s.message().c_str());
    rows += batch.num_rows();
  }
  (void)writer->finish();
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.counters["out_bytes_per_row"] =
      static_cast<double>(sink.bytes()) / static_cast<double>(rows);
}

void BM_Read(benchmark::State& state, const char* format, const char* compression) {
  auto schema = telemetry_schema();
  std::vector<Batch> batches = telemetry_batches(schema);
  FormatSpec spec = *make_format_spec(format, compression, 3);
  StringSink sink;
  {
    auto writer = std::move(open_format_writer(spec, schema, &sink).value());
    for (const Batch& b : batches) (void)writer->write(b);
    (void)writer->finish();
  }
  uint64_t rows = 0;
  for (auto _ : state) {
    StringSource source(sink.data());
    ReadOptions options;
    options.schema = schema;
    auto reader = std::move(open_format_reader(spec, &source, options).value());
    Batch out(reader->schema_ptr());
    for (;;) {
      Result<bool> more = reader->next(out, kRows);
      if (!more.is_ok()) state.SkipWithError(more.status().message().c_str());
      if (!more.is_ok() || !*more) break;
      rows += out.num_rows();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
}

BENCHMARK_CAPTURE(BM_Write, ndjson_none, "ndjson", "none", 0);
BENCHMARK_CAPTURE(BM_Write, ndjson_zstd1, "ndjson", "zstd", 1);
BENCHMARK_CAPTURE(BM_Write, ndjson_zstd3, "ndjson", "zstd", 3);
BENCHMARK_CAPTURE(BM_Write, csv_none, "csv", "none", 0);
BENCHMARK_CAPTURE(BM_Write, csv_zstd1, "csv", "zstd", 1);
BENCHMARK_CAPTURE(BM_Write, csv_zstd3, "csv", "zstd", 3);
BENCHMARK_CAPTURE(BM_Read, ndjson_zstd3, "ndjson", "zstd");
BENCHMARK_CAPTURE(BM_Read, csv_zstd3, "csv", "zstd");

}  // namespace
}  // namespace strata

BENCHMARK_MAIN();

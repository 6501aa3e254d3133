// The Parquet writer on a 10M-row telemetry table, from memory to a file: the Strata half of
// bench/parquet_vs_duckdb, which builds the same rows in DuckDB from the same formulas.
//   parquet_write_bench --rows 10000000 --out /tmp/strata.parquet [--level 3]
// Prints "strata_seconds S", "strata_rows_per_second R", "strata_bytes B". Single-threaded.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/fs.h"
#include "formats/parquet/parquet.h"

namespace {

using strata::Batch;
using strata::Column;
using strata::Schema;
using strata::Type;

// The formulas of bench/parquet_vs_duckdb's SQL, row i.
constexpr const char* kStatus[] = {"ok", "idle", "moving", "charging", "fault"};

void fill(Batch& b, int64_t first, int64_t n) {
  char payload[96];
  for (int64_t i = first; i < first + n; ++i) {
    b.column(0).append_int(i);
    b.column(1).append_int((i * 2654435761LL) % 1000);
    b.column(2).append_int(1767225600000000LL + i * 1000);
    b.column(3).append_double(static_cast<double>((i * 48271) % 2000) / 10.0);
    b.column(4).append_double(48.0 + static_cast<double>((i * 69621) % 1000000) / 1e6);
    b.column(5).append_double(11.0 + static_cast<double>((i * 40692) % 1000000) / 1e6);
    b.column(6).append_text(kStatus[(i * 31 + i / 1000) % 5]);
    if (i % 17 == 0) {
      b.column(7).append_null();
    } else {
      const int len = std::snprintf(
          payload, sizeof payload, "{\"seq\":%lld,\"t\":%lld,\"b\":%lld,\"fw\":\"1.%lld\"}",
          static_cast<long long>(i), static_cast<long long>((i * 37) % 120),
          static_cast<long long>((i * 13) % 100), static_cast<long long>(i % 7));
      b.column(7).append_text(std::string_view(payload, static_cast<size_t>(len)));
    }
  }
}

class FileSink final : public strata::ByteSink {
 public:
  explicit FileSink(strata::FileWriter file) : file_(std::move(file)) {}
  strata::Status write(const void* data, size_t n) override { return file_.write(data, n); }
  strata::FileWriter& file() { return file_; }

 private:
  strata::FileWriter file_;
};

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 10000000;
  std::string out = "/tmp/strata-telemetry.parquet";
  int level = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rows")) rows = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--out")) out = argv[i + 1];
    if (!std::strcmp(argv[i], "--level")) level = std::atoi(argv[i + 1]);
  }
  auto schema = std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64},
                                                                   {"vehicle_id", Type::kInt64},
                                                                   {"ts", Type::kTimestamp},
                                                                   {"speed", Type::kDouble},
                                                                   {"lat", Type::kDouble},
                                                                   {"lon", Type::kDouble},
                                                                   {"status", Type::kString},
                                                                   {"payload", Type::kString}});

  // The rows live in memory before the clock starts, as DuckDB's table does.
  constexpr int64_t kBatchRows = 65536;
  std::vector<Batch> batches;
  for (int64_t first = 0; first < rows; first += kBatchRows) {
    batches.emplace_back(schema);
    fill(batches.back(), first, std::min(kBatchRows, rows - first));
  }

  auto file = strata::FileWriter::create(out);
  if (!file.is_ok()) {
    std::fprintf(stderr, "%s\n", file.status().to_string().c_str());
    return 1;
  }
  FileSink sink(std::move(*file));
  strata::FormatSpec spec;
  spec.name = "parquet";
  spec.compression = strata::Compression::kZstd;
  spec.level = level;

  const auto start = std::chrono::steady_clock::now();
  auto writer = strata::open_parquet_writer(spec, schema, &sink, {});
  if (!writer.is_ok()) {
    std::fprintf(stderr, "%s\n", writer.status().to_string().c_str());
    return 1;
  }
  for (const Batch& b : batches) {
    strata::Status s = (*writer)->write(b);
    if (!s.is_ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
  }
  strata::Status s = (*writer)->finish();
  if (s.is_ok()) s = sink.file().close();
  if (!s.is_ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("strata_seconds %.3f\n", seconds);
  std::printf("strata_rows_per_second %.0f\n", static_cast<double>(rows) / seconds);
  std::printf("strata_bytes %llu\n", static_cast<unsigned long long>(sink.file().bytes_written()));
  return 0;
}

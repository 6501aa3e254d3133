// Writes the seed corpus for parquet_reader_fuzz: small Parquet files of every type, codec and
// encoding the writer produces (PLAIN, dictionary, fallback, NULLs, several row groups and pages).
//   parquet_fuzz_seeds DIR
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/fs.h"
#include "formats/parquet/byte_io.h"
#include "formats/parquet/parquet.h"

namespace {

using namespace strata;

std::shared_ptr<const Schema> schema_of_every_type() {
  return std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64, false},
                                                            {"f", Type::kDouble},
                                                            {"b", Type::kBool},
                                                            {"s", Type::kString},
                                                            {"bin", Type::kBytes},
                                                            {"ts", Type::kTimestamp},
                                                            {"d", Type::kDate},
                                                            {"d9", Type::kDecimal, true, 9, 2},
                                                            {"d18", Type::kDecimal, true, 18, 3},
                                                            {"d30", Type::kDecimal, true, 30, 4},
                                                            {"dx", Type::kDecimal, true, 0, 0},
                                                            {"j", Type::kJson}});
}

void fill(Batch& b, int rows, int distinct) {
  for (int i = 0; i < rows; ++i) {
    const bool null = i % 5 == 3;
    const int v = i % distinct;
    b.column(0).append_int(i);
    auto put = [&](size_t c, auto&& f) {
      if (null)
        b.column(c).append_null();
      else
        f(b.column(c));
    };
    put(1, [&](ColumnVector& c) { c.append_double(v * 0.25 - 3); });
    put(2, [&](ColumnVector& c) { c.append_bool(v % 2); });
    put(3, [&](ColumnVector& c) { c.append_text("s" + std::to_string(v)); });
    put(4,
        [&](ColumnVector& c) { c.append_text(std::string(static_cast<size_t>(v % 4), '\x01')); });
    put(5, [&](ColumnVector& c) { c.append_int(1700000000000000LL + v); });
    put(6, [&](ColumnVector& c) { c.append_int(19000 + v); });
    put(7, [&](ColumnVector& c) { c.append_text(std::to_string(v) + ".25"); });
    put(8, [&](ColumnVector& c) { c.append_text("-" + std::to_string(v) + ".125"); });
    put(9, [&](ColumnVector& c) { c.append_text(std::to_string(v) + "1234567890.5"); });
    put(10, [&](ColumnVector& c) { c.append_text(std::to_string(v) + "e3"); });
    put(11, [&](ColumnVector& c) { c.append_text("{\"k\":" + std::to_string(v) + "}"); });
  }
}

bool write_seed(const std::string& dir, const std::string& name, Compression codec, int rows,
                int distinct, uint64_t page_bytes, uint64_t row_group_bytes, size_t dict_limit) {
  auto schema = schema_of_every_type();
  Batch b(schema);
  fill(b, rows, distinct);
  FormatSpec spec;
  spec.name = "parquet";
  spec.compression = codec;
  spec.page_bytes = page_bytes;
  spec.row_group_bytes = row_group_bytes;
  ParquetWriterTuning tuning;
  tuning.dictionary_limit_bytes = dict_limit;
  parquet::StringSink sink;
  auto w = open_parquet_writer(spec, schema, &sink, {{"seed", name}}, tuning);
  if (!w.is_ok() || !(*w)->write(b).is_ok() || !(*w)->finish().is_ok()) return false;
  return write_file_atomic(join_path(dir, name + ".parquet"), sink.bytes()).is_ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: parquet_fuzz_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  if (!make_dirs(dir).is_ok()) return 1;
  bool ok = true;
  ok &= write_seed(dir, "plain_none", Compression::kNone, 20, 20, 1 << 20, 128 << 20, 0);
  ok &= write_seed(dir, "dict_none", Compression::kNone, 40, 4, 1 << 20, 128 << 20, 1 << 20);
  ok &= write_seed(dir, "pages_none", Compression::kNone, 60, 7, 1024, 128 << 20, 1 << 20);
  ok &= write_seed(dir, "groups_none", Compression::kNone, 60, 60, 1024, 2048, 1 << 20);
  ok &= write_seed(dir, "fallback_none", Compression::kNone, 80, 80, 1024, 128 << 20, 64);
  ok &= write_seed(dir, "dict_zstd", Compression::kZstd, 40, 4, 1 << 20, 128 << 20, 1 << 20);
  ok &= write_seed(dir, "dict_snappy", Compression::kSnappy, 40, 4, 1 << 20, 128 << 20, 1 << 20);
  ok &= write_seed(dir, "plain_gzip", Compression::kGzip, 20, 20, 1 << 20, 128 << 20, 0);
  ok &= write_seed(dir, "empty", Compression::kNone, 0, 1, 1 << 20, 128 << 20, 1 << 20);
  return ok ? 0 : 1;
}

// libFuzzer target for the Parquet reader: any bytes, read as a Parquet file (footer, every page of
// every column, then a one-column projection), must give rows or a clean error; ASan and UBSan
// catch the rest. Built with -DSTRATA_FUZZ=ON and clang (see src/formats/parquet/CMakeLists.txt);
// fuzz/run_parquet_fuzz builds it, makes the seed corpus and runs it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/checksum.h"
#include "formats/parquet/byte_io.h"
#include "formats/parquet/parquet.h"

namespace {

// Tighter than the defaults so that a tiny input cannot ask for hundreds of MiB legitimately.
strata::ParquetReaderLimits fuzz_limits() {
  strata::ParquetReaderLimits limits;
  limits.max_footer_bytes = 1u << 20;
  limits.max_metadata_memory = 32u << 20;
  limits.max_page_bytes = 16u << 20;
  return limits;
}

void read_some(strata::ByteSource* source, const strata::ReadOptions& options) {
  auto reader = strata::open_parquet_reader(source, options, fuzz_limits());
  if (!reader.is_ok()) return;
  strata::Batch batch((*reader)->schema_ptr());
  strata::RowChecksum checksum;
  size_t rows = 0;
  while (rows < 100000) {  // a page may legitimately claim billions of NULLs; stop early
    auto more = (*reader)->next(batch, 997);
    if (!more.is_ok() || !*more) break;
    checksum.add_batch(batch);  // touches every value
    rows += batch.num_rows();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  strata::parquet::StringSource source(std::string_view(reinterpret_cast<const char*>(data), size),
                                       "fuzz.parquet");
  auto info = strata::inspect_parquet_file(&source);
  read_some(&source, {});
  if (info.is_ok() && info->schema->size() > 1) {
    strata::ReadOptions projected;
    projected.columns = {info->schema->columns().back().name};
    read_some(&source, projected);
  }
  return 0;
}

// Parquet writer and reader (Apache Parquet format; footer and page headers in the Thrift compact
// protocol, see parquet_thrift.h). format.cc dispatches FormatSpec "parquet" to the first two
// functions; the overloads and inspect_parquet_file() are for callers that need more control.
//
// Files: one flat schema, columns typed as parquet_schema.h describes, PLAIN or dictionary
// (RLE_DICTIONARY) data pages v1, NULLs as RLE definition levels, min/max/null-count statistics in
// every column chunk, key-value metadata "strata.version", "strata.schema" and the caller's.
//
// Decimals: values are exact decimal text; the writer stores them scaled by Column::scale and
// the reader returns canonical text ("-12.340", "0.500"), so sources must produce canonical text
// (as PostgreSQL and MySQL do) for row checksums to match. Decimals with precision 0 (unknown) or
// above 38 are stored as STRING text unchanged.
//
// Writers and readers are not thread-safe; use one per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "formats/format.h"

namespace strata {

// Encoder settings beyond FormatSpec (page and row group sizes come from the spec).
struct ParquetWriterTuning {
  // A column chunk stays dictionary-encoded while its dictionary is at most this big (PLAIN
  // encoded); past it, the rest of the chunk is PLAIN. 0 disables dictionary encoding.
  size_t dictionary_limit_bytes = 1u << 20;
  // Longer string min/max statistics are truncated (and marked inexact).
  size_t max_statistics_bytes = 256;
};

// Writes a Parquet file into `sink`, which must outlive the writer. Errors: bad schema (duplicate
// names, invalid decimal precision), a NULL in a NOT NULL column, a value the column's Parquet type
// cannot hold (decimal text with too many digits, a date beyond INT32): permanent, naming the
// column and the row. Sink errors keep their verdict. After an error the writer is spent.
Result<std::unique_ptr<FormatWriter>> open_parquet_writer(
    const FormatSpec& spec, std::shared_ptr<const Schema> schema, ByteSink* sink,
    const std::map<std::string, std::string>& metadata);
Result<std::unique_ptr<FormatWriter>> open_parquet_writer(
    const FormatSpec& spec, std::shared_ptr<const Schema> schema, ByteSink* sink,
    const std::map<std::string, std::string>& metadata, const ParquetWriterTuning& tuning);

// Bounds on what a reader allocates on behalf of a file, whatever the file claims.
struct ParquetReaderLimits {
  size_t max_footer_bytes = 64u << 20;
  size_t max_metadata_memory = 512u << 20;  // decoded footer objects
  size_t max_page_bytes = 512u << 20;       // one uncompressed page or dictionary
};

// Reads a Parquet file through `source` (which must outlive the reader), footer first, so it works
// over range reads. Checks the file's schema against options.schema when given (names, types,
// nullability, decimal precision/scale) and returns options.columns (all when empty). Corrupt or
// truncated files are permanent errors naming the source and what is wrong; source errors keep
// their verdict. Reads files of other writers too when they use flat schemas, PLAIN,
// DELTA_BINARY_PACKED or dictionary encodings and UNCOMPRESSED, SNAPPY, GZIP or ZSTD pages.
Result<std::unique_ptr<FormatReader>> open_parquet_reader(ByteSource* source,
                                                          const ReadOptions& options);
Result<std::unique_ptr<FormatReader>> open_parquet_reader(ByteSource* source,
                                                          const ReadOptions& options,
                                                          const ParquetReaderLimits& limits);

// What the footer says, without reading any page: for verify and catalogs.
struct ParquetFileInfo {
  std::shared_ptr<const Schema> schema;
  uint64_t num_rows = 0;
  size_t num_row_groups = 0;
  std::string created_by;
  std::map<std::string, std::string> metadata;  // key-value metadata
};
Result<ParquetFileInfo> inspect_parquet_file(ByteSource* source);

}  // namespace strata

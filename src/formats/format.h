// File formats for the cold tier: writers that encode Batches into bytes, and readers that decode
// them back (for verify, purge and restore). Formats know nothing of stores or the bus.
//
// A writer pushes bytes into a ByteSink (a local temp file, an S3 multipart upload, ...). A reader
// pulls from a ByteSource with random access (Parquet reads its footer first).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/schema.h"
#include "core/status.h"

namespace strata {

enum class Compression { kNone, kZstd, kSnappy, kGzip };
const char* compression_name(Compression c);
Result<Compression> parse_compression(std::string_view name);

struct FormatSpec {
  std::string name = "ndjson";  // "ndjson", "csv", "parquet"
  Compression compression = Compression::kZstd;
  int level = 3;                               // compressor level where it has one
  uint64_t row_group_bytes = 128ull << 20;     // parquet only
  uint64_t page_bytes = 1ull << 20;            // parquet only
};

// Checks the combination (e.g. csv + snappy is rejected) and fills defaults.
Result<FormatSpec> make_format_spec(std::string_view name, std::string_view compression, int level);
// ".ndjson.zst", ".csv", ".parquet" (Parquet compresses inside the file).
std::string file_extension(const FormatSpec& spec);
// The inverse of file_extension, from a file name; for verify and restore.
Result<FormatSpec> format_spec_from_path(const std::string& path);

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status write(const void* data, size_t n) = 0;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual Result<uint64_t> size() = 0;
  // Reads exactly n bytes at offset; an error if the source is shorter.
  virtual Status read_at(uint64_t offset, size_t n, void* out) = 0;
  // A name for messages (path or URL).
  virtual std::string name() const = 0;
};

// Encodes batches of one schema. Not thread-safe. finish() must be called once to produce a
// complete file; a writer destroyed without finish() leaves a truncated stream in the sink.
class FormatWriter {
 public:
  virtual ~FormatWriter() = default;
  virtual Status write(const Batch& batch) = 0;
  virtual Status finish() = 0;
  virtual uint64_t rows_written() const = 0;
};

// `metadata`: key/value pairs recorded in the file where the format has room (Parquet).
Result<std::unique_ptr<FormatWriter>> open_format_writer(
    const FormatSpec& spec, std::shared_ptr<const Schema> schema, ByteSink* sink,
    const std::map<std::string, std::string>& metadata = {});

// Decodes a file. The batch passed to next() must have been built with schema_ptr().
class FormatReader {
 public:
  virtual ~FormatReader() = default;
  virtual std::shared_ptr<const Schema> schema_ptr() const = 0;
  // Clears `batch` and fills it with up to `max_rows` rows. false = end of file (batch empty).
  // A malformed file is a permanent error naming the source, and the row or offset.
  virtual Result<bool> next(Batch& batch, size_t max_rows) = 0;
  // Row groups passed over because ReadOptions::keep_group ruled them out.
  virtual uint64_t groups_skipped() const { return 0; }
};

// The smallest and largest value of one column in a group of rows, from the file's statistics;
// null where the file records none (or for types whose statistics are not decoded: decimals,
// booleans, bytes).
struct ColumnBounds {
  Value min, max;
};

struct ReadOptions {
  // The schema the file was written with (text formats need it to type values; Parquet checks
  // it). Null: take the file's own schema (Parquet only).
  std::shared_ptr<const Schema> schema;
  // Names of the columns to return, in this order; empty = all.
  std::vector<std::string> columns;
  // Called before a group of rows is decoded, with the bounds of every column of the file (in the
  // file's order); a group for which it returns false is skipped. Only Parquet files have groups
  // with statistics; other formats read every row.
  std::function<bool(const std::vector<ColumnBounds>&)> keep_group;
};

Result<std::unique_ptr<FormatReader>> open_format_reader(const FormatSpec& spec, ByteSource* source,
                                                         const ReadOptions& options);

// A ByteSource over a local file, and a ByteSink appending to a FileWriter-like fd.
Result<std::unique_ptr<ByteSource>> open_file_source(const std::string& path);

}  // namespace strata

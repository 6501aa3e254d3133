// Format names, specs and file extensions, and the dispatch from a FormatSpec to the writer or
// reader of that format.
#include "formats/format.h"

#include "formats/parquet/parquet.h"
#include "formats/text_formats.h"

namespace strata {

namespace {

constexpr Compression kAllCompressions[] = {Compression::kNone, Compression::kZstd,
                                            Compression::kSnappy, Compression::kGzip};

constexpr const char* kFormatNames = "ndjson, csv or parquet";

struct Extension {
  const char* suffix;
  const char* format;
  Compression compression;
};

// Longest suffixes first, so ".ndjson.zst" wins over a bare ".zst" check.
constexpr Extension kExtensions[] = {
    {".ndjson.zst", "ndjson", Compression::kZstd}, {".ndjson", "ndjson", Compression::kNone},
    {".csv.zst", "csv", Compression::kZstd},       {".csv", "csv", Compression::kNone},
    {".parquet", "parquet", Compression::kZstd},
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_text_format(std::string_view name) { return name == "ndjson" || name == "csv"; }

}  // namespace

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kZstd:
      return "zstd";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kGzip:
      return "gzip";
  }
  return "unknown";
}

Result<Compression> parse_compression(std::string_view name) {
  for (Compression c : kAllCompressions) {
    if (name == compression_name(c)) return c;
  }
  return Status::permanent("unknown compression '" + std::string(name) +
                           "' (expected none, zstd, snappy or gzip)");
}

Result<FormatSpec> make_format_spec(std::string_view name, std::string_view compression,
                                    int level) {
  FormatSpec spec;
  if (name != "ndjson" && name != "csv" && name != "parquet") {
    return Status::permanent("unknown format '" + std::string(name) + "' (expected " +
                             kFormatNames + ")");
  }
  spec.name = std::string(name);
  if (compression.empty()) compression = "zstd";
  STRATA_ASSIGN_OR_RETURN(spec.compression, parse_compression(compression));
  if (is_text_format(name) && spec.compression != Compression::kNone &&
      spec.compression != Compression::kZstd) {
    return Status::permanent("format '" + std::string(name) + "' does not support compression '" +
                             std::string(compression) + "' (expected none or zstd)");
  }
  switch (spec.compression) {
    case Compression::kZstd:
      if (level == 0) level = 3;
      if (level < 1 || level > 19) {
        return Status::permanent("zstd level " + std::to_string(level) +
                                 " is out of range (expected 1..19, default 3)");
      }
      spec.level = level;
      break;
    case Compression::kGzip:
      if (level == 0) level = 6;
      if (level < 1 || level > 9) {
        return Status::permanent("gzip level " + std::to_string(level) +
                                 " is out of range (expected 1..9, default 6)");
      }
      spec.level = level;
      break;
    case Compression::kNone:
    case Compression::kSnappy:
      spec.level = 0;  // no level; whatever the policy said is ignored
      break;
  }
  return spec;
}

std::string file_extension(const FormatSpec& spec) {
  if (spec.name == "parquet") return ".parquet";
  std::string ext = "." + spec.name;
  if (spec.compression == Compression::kZstd) ext += ".zst";
  return ext;
}

Result<FormatSpec> format_spec_from_path(const std::string& path) {
  for (const Extension& e : kExtensions) {
    if (ends_with(path, e.suffix)) {
      return make_format_spec(e.format, compression_name(e.compression), 0);
    }
  }
  return Status::permanent("cannot tell the format of '" + path +
                           "' from its name (expected .ndjson.zst, .ndjson, .csv.zst, .csv or "
                           ".parquet)");
}

Result<std::unique_ptr<FormatWriter>> open_format_writer(
    const FormatSpec& spec, std::shared_ptr<const Schema> schema, ByteSink* sink,
    const std::map<std::string, std::string>& metadata) {
  if (!schema) return Status::permanent("open_format_writer: no schema given");
  if (sink == nullptr) return Status::permanent("open_format_writer: no sink given");
  if (spec.name == "parquet") return open_parquet_writer(spec, std::move(schema), sink, metadata);
  if (spec.name == "ndjson") return open_ndjson_writer(spec, std::move(schema), sink);
  if (spec.name == "csv") return open_csv_writer(spec, std::move(schema), sink);
  return Status::permanent("unknown format '" + spec.name + "' (expected " + kFormatNames + ")");
}

Result<std::unique_ptr<FormatReader>> open_format_reader(const FormatSpec& spec, ByteSource* source,
                                                         const ReadOptions& options) {
  if (source == nullptr) return Status::permanent("open_format_reader: no source given");
  if (spec.name == "parquet") return open_parquet_reader(source, options);
  if (spec.name == "ndjson") return open_ndjson_reader(spec, source, options);
  if (spec.name == "csv") return open_csv_reader(spec, source, options);
  return Status::permanent("unknown format '" + spec.name + "' (expected " + kFormatNames + ")");
}

}  // namespace strata

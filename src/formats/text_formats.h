// Internal to src/formats: the NDJSON and CSV writers and readers behind open_format_writer /
// open_format_reader (format.h). The text forms of values are in ndjson_writer.cc and
// csv_writer.cc; both use core/schema.h's forms for timestamps, dates and doubles.
#pragma once

#include <memory>

#include "formats/format.h"

namespace strata {

// `spec.compression` must be none or zstd. The schema must have at least one column.
Result<std::unique_ptr<FormatWriter>> open_ndjson_writer(const FormatSpec& spec,
                                                         std::shared_ptr<const Schema> schema,
                                                         ByteSink* sink);
Result<std::unique_ptr<FormatWriter>> open_csv_writer(const FormatSpec& spec,
                                                      std::shared_ptr<const Schema> schema,
                                                      ByteSink* sink);

// `options.schema` is required (the schema the file was written with).
Result<std::unique_ptr<FormatReader>> open_ndjson_reader(const FormatSpec& spec, ByteSource* source,
                                                         const ReadOptions& options);
Result<std::unique_ptr<FormatReader>> open_csv_reader(const FormatSpec& spec, ByteSource* source,
                                                      const ReadOptions& options);

}  // namespace strata

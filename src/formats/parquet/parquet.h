// Parquet writer and reader (Apache Parquet format, Thrift compact protocol footers).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "formats/format.h"

namespace strata {

Result<std::unique_ptr<FormatWriter>> open_parquet_writer(
    const FormatSpec& spec, std::shared_ptr<const Schema> schema, ByteSink* sink,
    const std::map<std::string, std::string>& metadata);

Result<std::unique_ptr<FormatReader>> open_parquet_reader(ByteSource* source,
                                                          const ReadOptions& options);

}  // namespace strata

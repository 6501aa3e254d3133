// Placeholder until the Parquet writer lands.
#include "formats/parquet/parquet.h"

namespace strata {

Result<std::unique_ptr<FormatWriter>> open_parquet_writer(
    const FormatSpec&, std::shared_ptr<const Schema>, ByteSink*,
    const std::map<std::string, std::string>&) {
  return Status::permanent("format 'parquet' is not available in this build (use ndjson or csv)");
}

Result<std::unique_ptr<FormatReader>> open_parquet_reader(ByteSource*, const ReadOptions&) {
  return Status::permanent("format 'parquet' is not available in this build (use ndjson or csv)");
}

}  // namespace strata

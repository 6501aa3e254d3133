// Page compression for Parquet: ZSTD (libzstd), SNAPPY (libsnappy), GZIP (zlib) or none.
// A PageCodec owns its compression contexts and reuses them for every page. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "formats/parquet/parquet_thrift.h"

namespace strata::parquet {

class PageCodec {
 public:
  // `level` applies to ZSTD (its own range) and GZIP (1..9; other values mean zlib's default).
  static Result<std::unique_ptr<PageCodec>> create(Codec codec, int level);
  ~PageCodec();
  PageCodec(const PageCodec&) = delete;
  PageCodec& operator=(const PageCodec&) = delete;

  Codec codec() const { return codec_; }
  // Appends the compressed form of [data, data + n) to `out`.
  Status compress(const char* data, size_t n, std::string& out);
  // Decompresses exactly `expected` bytes into `out` (which must hold them). Corrupt input, or a
  // size other than `expected`, is an error describing the mismatch.
  Status decompress(const uint8_t* data, size_t n, uint8_t* out, size_t expected);

 private:
  PageCodec(Codec codec, int level);
  struct Contexts;
  Codec codec_;
  int level_;
  std::unique_ptr<Contexts> ctx_;
};

}  // namespace strata::parquet

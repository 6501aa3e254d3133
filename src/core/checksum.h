// Checksums. RowChecksum is order-independent: the same set of rows gives the same value
// whichever order, batch split or file split they arrive in, so the source side and the archive
// side can be compared after sharding, partitioning and re-reading. Sha256 hashes file bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/schema.h"
#include "core/status.h"

namespace strata {

class RowChecksum {
 public:
  // Folds every row of `batch` in. Reuses an internal buffer: no allocation per row.
  void add_batch(const Batch& batch);
  void add(const RowChecksum& other);
  uint64_t rows() const { return rows_; }
  bool operator==(const RowChecksum& o) const {
    return rows_ == o.rows_ && lo_ == o.lo_ && hi_ == o.hi_;
  }
  // "<rows>:<32 hex digits>", stable across versions; parse() reads it back.
  std::string to_string() const;
  static Result<RowChecksum> parse(std::string_view text);

 private:
  uint64_t rows_ = 0;
  uint64_t lo_ = 0;  // sum of the low halves of each row's 128-bit hash (mod 2^64)
  uint64_t hi_ = 0;  // sum of the high halves
  std::string buf_;  // scratch; not part of the value
};

// Streaming SHA-256 (OpenSSL). Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  // Lowercase hex digest; the object is spent afterwards.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string to_hex(const unsigned char* data, size_t n);
std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

}  // namespace strata

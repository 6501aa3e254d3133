#include "core/checksum.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

namespace strata {

void RowChecksum::add_batch(const Batch& batch) {
  // Each row is laid out as: per column, 0 (null) or 1 then the value (8 bytes; text: its 8-byte
  // length, then its bytes), and hashed with XXH3-128. The layout is written straight from the
  // columns' arrays into one buffer grown to the widest row, so a row costs a few stores and one
  // hash.
  struct Col {
    Storage storage;
    const uint8_t* valid;
    const int64_t* ints;
    const double* doubles;
    const uint64_t* offsets;
    const char* chars;
  };
  const size_t rows = batch.num_rows();
  std::vector<Col> cols;
  cols.reserve(batch.num_columns());
  std::vector<const uint64_t*> text_offsets;  // of the text columns, to size each row
  for (size_t c = 0; c < batch.num_columns(); ++c) {
    const ColumnVector& col = batch.column(c);
    cols.push_back({col.storage(), col.validity().data(), col.ints().data(), col.doubles().data(),
                    col.offsets().data(), col.chars().data()});
    if (col.storage() == Storage::kText) text_offsets.push_back(col.offsets().data());
  }
  const size_t fixed = 9 * cols.size();  // a row's bytes besides its texts' bytes
  for (size_t r = 0; r < rows; ++r) {
    size_t need = fixed;
    for (const uint64_t* o : text_offsets) need += o[r + 1] - o[r];
    if (buf_.size() < need) buf_.resize(std::max(need, 2 * buf_.size()));
    char* p = buf_.data();
    for (const Col& c : cols) {
      if (c.valid[r] == 0) {
        *p++ = '\0';
        continue;
      }
      *p++ = '\1';
      switch (c.storage) {
        case Storage::kInt:
          std::memcpy(p, &c.ints[r], 8);
          p += 8;
          break;
        case Storage::kDouble: {
          double d = c.doubles[r];
          if (std::isnan(d)) d = std::nan("");  // one NaN, whatever its payload
          std::memcpy(p, &d, 8);
          p += 8;
          break;
        }
        case Storage::kText: {
          const uint64_t n = c.offsets[r + 1] - c.offsets[r];
          std::memcpy(p, &n, 8);
          std::memcpy(p + 8, c.chars + c.offsets[r], n);
          p += 8 + n;
          break;
        }
      }
    }
    XXH128_hash_t h = XXH3_128bits(buf_.data(), static_cast<size_t>(p - buf_.data()));
    lo_ += h.low64;
    hi_ += h.high64;
  }
  rows_ += rows;
}

void RowChecksum::add(const RowChecksum& other) {
  rows_ += other.rows_;
  lo_ += other.lo_;
  hi_ += other.hi_;
}

std::string RowChecksum::to_string() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%" PRIu64 ":%016" PRIx64 "%016" PRIx64, rows_, hi_, lo_);
  return buf;
}

Result<RowChecksum> RowChecksum::parse(std::string_view text) {
  RowChecksum c;
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.size() - colon - 1 != 32) {
    return Status::permanent("invalid row checksum '" + std::string(text) + "'");
  }
  std::string rows(text.substr(0, colon)), hi(text.substr(colon + 1, 16)),
      lo(text.substr(colon + 17, 16));
  char* end = nullptr;
  c.rows_ = std::strtoull(rows.c_str(), &end, 10);
  if (*end) return Status::permanent("invalid row checksum '" + std::string(text) + "'");
  c.hi_ = std::strtoull(hi.c_str(), &end, 16);
  if (*end) return Status::permanent("invalid row checksum '" + std::string(text) + "'");
  c.lo_ = std::strtoull(lo.c_str(), &end, 16);
  if (*end) return Status::permanent("invalid row checksum '" + std::string(text) + "'");
  return c;
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}
Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t n) { EVP_DigestUpdate(impl_->ctx, data, n); }

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  return to_hex(md, len);
}

std::string to_hex(const unsigned char* data, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 15];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::permanent("invalid base64 (length not a multiple of 4)");
  std::string out(text.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return Status::permanent("invalid base64");
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace strata

#include "core/checksum.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace strata {

namespace {

void put_u64(std::string& b, uint64_t v) {
  char tmp[8];
  std::memcpy(tmp, &v, 8);
  b.append(tmp, 8);
}

}  // namespace

void RowChecksum::add_batch(const Batch& batch) {
  const size_t rows = batch.num_rows();
  const size_t cols = batch.num_columns();
  for (size_t r = 0; r < rows; ++r) {
    buf_.clear();
    for (size_t c = 0; c < cols; ++c) {
      const ColumnVector& col = batch.column(c);
      if (col.is_null(r)) {
        buf_.push_back('\0');
        continue;
      }
      buf_.push_back('\1');
      switch (col.storage()) {
        case Storage::kInt:
          put_u64(buf_, static_cast<uint64_t>(col.int_at(r)));
          break;
        case Storage::kDouble: {
          double d = col.double_at(r);
          if (std::isnan(d)) d = std::nan("");
          uint64_t bits;
          std::memcpy(&bits, &d, 8);
          put_u64(buf_, bits);
          break;
        }
        case Storage::kText: {
          std::string_view s = col.text_at(r);
          put_u64(buf_, s.size());
          buf_.append(s.data(), s.size());
          break;
        }
      }
    }
    XXH128_hash_t h = XXH3_128bits(buf_.data(), buf_.size());
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

// Page compression codecs (see parquet_codec.h).
#include "formats/parquet/parquet_codec.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

namespace strata::parquet {

struct PageCodec::Contexts {
  ZSTD_CCtx* zc = nullptr;
  ZSTD_DCtx* zd = nullptr;
  ~Contexts() {
    ZSTD_freeCCtx(zc);
    ZSTD_freeDCtx(zd);
  }
};

PageCodec::PageCodec(Codec codec, int level)
    : codec_(codec), level_(level), ctx_(std::make_unique<Contexts>()) {}
PageCodec::~PageCodec() = default;

Result<std::unique_ptr<PageCodec>> PageCodec::create(Codec codec, int level) {
  switch (codec) {
    case Codec::kUncompressed:
    case Codec::kSnappy:
      break;
    case Codec::kGzip:
      if (level < 1 || level > 9) level = Z_DEFAULT_COMPRESSION;
      break;
    case Codec::kZstd:
      if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
        return Status::permanent("zstd level " + std::to_string(level) + " is outside " +
                                 std::to_string(ZSTD_minCLevel()) + ".." +
                                 std::to_string(ZSTD_maxCLevel()));
      }
      break;
    default:
      return Status::permanent(std::string("compression codec ") + codec_name(codec) +
                               " is not supported (Strata reads UNCOMPRESSED, SNAPPY, GZIP, ZSTD)");
  }
  return std::unique_ptr<PageCodec>(new PageCodec(codec, level));
}

Status PageCodec::compress(const char* data, size_t n, std::string& out) {
  const size_t start = out.size();
  switch (codec_) {
    case Codec::kUncompressed:
      out.append(data, n);
      return Status::ok();
    case Codec::kZstd: {
      if (!ctx_->zc) {
        ctx_->zc = ZSTD_createCCtx();
        if (!ctx_->zc) return Status::permanent("zstd: out of memory");
        ZSTD_CCtx_setParameter(ctx_->zc, ZSTD_c_compressionLevel, level_);
      }
      out.resize(start + ZSTD_compressBound(n));
      const size_t r = ZSTD_compress2(ctx_->zc, out.data() + start, out.size() - start, data, n);
      if (ZSTD_isError(r)) {
        out.resize(start);
        return Status::permanent(std::string("zstd compression failed: ") + ZSTD_getErrorName(r));
      }
      out.resize(start + r);
      return Status::ok();
    }
    case Codec::kSnappy: {
      out.resize(start + snappy::MaxCompressedLength(n));
      size_t len = 0;
      snappy::RawCompress(data, n, out.data() + start, &len);
      out.resize(start + len);
      return Status::ok();
    }
    case Codec::kGzip: {
      z_stream zs;
      std::memset(&zs, 0, sizeof zs);
      // windowBits 15 + 16: a gzip (RFC 1952) member, as Parquet's GZIP codec specifies.
      if (deflateInit2(&zs, level_, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return Status::permanent("gzip: deflateInit failed");
      }
      out.resize(start + deflateBound(&zs, n) + 32);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
      zs.avail_in = static_cast<uInt>(n);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + start);
      zs.avail_out = static_cast<uInt>(out.size() - start);
      const int rc = deflate(&zs, Z_FINISH);
      const size_t produced = zs.total_out;
      deflateEnd(&zs);
      if (rc != Z_STREAM_END) {
        out.resize(start);
        return Status::permanent("gzip compression failed");
      }
      out.resize(start + produced);
      return Status::ok();
    }
    default:
      return Status::permanent("unsupported codec");
  }
}

Status PageCodec::decompress(const uint8_t* data, size_t n, uint8_t* out, size_t expected) {
  switch (codec_) {
    case Codec::kUncompressed:
      if (n != expected) {
        return Status::permanent("uncompressed page holds " + std::to_string(n) +
                                 " bytes but its header says " + std::to_string(expected));
      }
      if (n > 0) std::memcpy(out, data, n);
      return Status::ok();
    case Codec::kZstd: {
      if (!ctx_->zd) {
        ctx_->zd = ZSTD_createDCtx();
        if (!ctx_->zd) return Status::permanent("zstd: out of memory");
      }
      const size_t r = ZSTD_decompressDCtx(ctx_->zd, out, expected, data, n);
      if (ZSTD_isError(r)) {
        return Status::permanent(std::string("zstd decompression failed: ") + ZSTD_getErrorName(r));
      }
      if (r != expected) {
        return Status::permanent("zstd page decompressed to " + std::to_string(r) +
                                 " bytes, header says " + std::to_string(expected));
      }
      return Status::ok();
    }
    case Codec::kSnappy: {
      size_t len = 0;
      const char* in = reinterpret_cast<const char*>(data);
      if (!snappy::GetUncompressedLength(in, n, &len)) {
        return Status::permanent("snappy page is corrupt");
      }
      if (len != expected) {
        return Status::permanent("snappy page decompresses to " + std::to_string(len) +
                                 " bytes, header says " + std::to_string(expected));
      }
      if (!snappy::RawUncompress(in, n, reinterpret_cast<char*>(out))) {
        return Status::permanent("snappy page is corrupt");
      }
      return Status::ok();
    }
    case Codec::kGzip: {
      z_stream zs;
      std::memset(&zs, 0, sizeof zs);
      if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::permanent("gzip: inflateInit failed");
      zs.next_in = const_cast<Bytef*>(data);
      zs.avail_in = static_cast<uInt>(n);
      zs.next_out = out;
      zs.avail_out = static_cast<uInt>(expected);
      const int rc = inflate(&zs, Z_FINISH);
      const size_t produced = zs.total_out;
      inflateEnd(&zs);
      if (rc != Z_STREAM_END || produced != expected) {
        return Status::permanent("gzip page is corrupt or does not decompress to the " +
                                 std::to_string(expected) + " bytes its header says");
      }
      return Status::ok();
    }
    default:
      return Status::permanent("unsupported codec");
  }
}

}  // namespace strata::parquet

// ZstdCompressSink and open_byte_stream, on libzstd's streaming API (ZSTD_compressStream2 /
// ZSTD_decompressStream) with buffers of the sizes zstd recommends.
#include "formats/zstd_stream.h"

#include <zstd.h>

#include <algorithm>
#include <vector>

namespace strata {

namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// kNone: the source's bytes in order, read in the sizes the caller asks for.
class RawStream final : public ByteStream {
 public:
  explicit RawStream(ByteSource* source) : source_(source) {}

  Result<size_t> read(void* out, size_t n) override {
    if (!size_known_) {
      STRATA_ASSIGN_OR_RETURN(size_, source_->size());
      size_known_ = true;
    }
    const size_t m = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos_));
    if (m == 0) return size_t{0};
    STRATA_TRY(source_->read_at(pos_, m, out));
    pos_ += m;
    return m;
  }

  std::string name() const override { return source_->name(); }

 private:
  ByteSource* source_;
  bool size_known_ = false;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
};

class ZstdStream final : public ByteStream {
 public:
  ZstdStream(ByteSource* source, ZSTD_DCtx* dctx)
      : raw_(source), dctx_(dctx), in_buf_(ZSTD_DStreamInSize()) {}

  Result<size_t> read(void* out, size_t n) override {
    ZSTD_outBuffer o{out, n, 0};
    while (o.pos == 0 && n > 0) {
      if (in_.pos == in_.size && !output_pending_) {
        STRATA_ASSIGN_OR_RETURN(size_t got, raw_.read(in_buf_.data(), in_buf_.size()));
        if (got == 0) {
          if (!saw_input_) {
            return Status::permanent(name() + ": empty file where zstd data was expected");
          }
          if (frame_open_) {
            return Status::permanent(name() +
                                     ": truncated zstd stream (the file ends inside a frame)");
          }
          return size_t{0};
        }
        saw_input_ = true;
        in_ = ZSTD_inBuffer{in_buf_.data(), got, 0};
      }
      size_t ret = ZSTD_decompressStream(dctx_.get(), &o, &in_);
      if (ZSTD_isError(ret)) {
        return Status::permanent(name() + ": corrupt zstd data: " + ZSTD_getErrorName(ret));
      }
      // 0: a frame ended here (and another may follow in the input).
      frame_open_ = ret != 0;
      // An open frame that filled the output buffer may hold decoded bytes back: ask again
      // before reading more input. (Calling again after a frame ended would start a new one.)
      output_pending_ = frame_open_ && o.pos == o.size;
    }
    return o.pos;
  }

  std::string name() const override { return raw_.name(); }

 private:
  RawStream raw_;
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx_;
  std::vector<char> in_buf_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  bool saw_input_ = false;
  bool frame_open_ = false;
  bool output_pending_ = false;
};

}  // namespace

struct ZstdCompressSink::Impl {
  ByteSink* inner = nullptr;
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx;
  std::vector<char> out;
  bool finished = false;
  bool failed = false;

  // Runs the compressor over `in` with `mode`, writing every produced chunk to `inner`.
  // For ZSTD_e_end, loops until the frame is complete.
  Status pump(ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
    for (;;) {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      size_t left = ZSTD_compressStream2(cctx.get(), &o, &in, mode);
      if (ZSTD_isError(left)) {
        failed = true;
        return Status::permanent(std::string("zstd compression failed: ") +
                                 ZSTD_getErrorName(left));
      }
      if (o.pos > 0) {
        Status s = inner->write(out.data(), o.pos);
        if (!s.is_ok()) {
          failed = true;
          return s;
        }
      }
      bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) return Status::ok();
    }
  }
};

ZstdCompressSink::ZstdCompressSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ZstdCompressSink::~ZstdCompressSink() = default;

Result<std::unique_ptr<ZstdCompressSink>> ZstdCompressSink::open(ByteSink* inner, int level) {
  auto impl = std::make_unique<Impl>();
  impl->inner = inner;
  impl->cctx.reset(ZSTD_createCCtx());
  if (!impl->cctx) return Status::permanent("zstd: cannot create a compression context");
  size_t r = ZSTD_CCtx_setParameter(impl->cctx.get(), ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(impl->cctx.get(), ZSTD_c_checksumFlag, 1);
  if (ZSTD_isError(r)) {
    return Status::permanent("zstd level " + std::to_string(level) +
                             " rejected: " + ZSTD_getErrorName(r));
  }
  impl->out.resize(ZSTD_CStreamOutSize());
  return std::unique_ptr<ZstdCompressSink>(new ZstdCompressSink(std::move(impl)));
}

Status ZstdCompressSink::write(const void* data, size_t n) {
  if (impl_->finished) return Status::permanent("zstd: write after finish()");
  if (impl_->failed) return Status::permanent("zstd: write after an earlier error");
  if (n == 0) return Status::ok();
  ZSTD_inBuffer in{data, n, 0};
  return impl_->pump(in, ZSTD_e_continue);
}

Status ZstdCompressSink::finish() {
  if (impl_->finished) return Status::permanent("zstd: finish() called twice");
  if (impl_->failed) return Status::permanent("zstd: finish() after an earlier error");
  ZSTD_inBuffer in{nullptr, 0, 0};
  STRATA_TRY(impl_->pump(in, ZSTD_e_end));
  impl_->finished = true;
  return Status::ok();
}

Result<std::unique_ptr<ByteStream>> open_byte_stream(ByteSource* source, Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return std::unique_ptr<ByteStream>(std::make_unique<RawStream>(source));
    case Compression::kZstd: {
      ZSTD_DCtx* dctx = ZSTD_createDCtx();
      if (dctx == nullptr) return Status::permanent("zstd: cannot create a decompression context");
      return std::unique_ptr<ByteStream>(std::make_unique<ZstdStream>(source, dctx));
    }
    case Compression::kSnappy:
    case Compression::kGzip:
      break;
  }
  return Status::permanent(source->name() + ": compression '" + compression_name(compression) +
                           "' is not supported for streamed files (expected none or zstd)");
}

}  // namespace strata

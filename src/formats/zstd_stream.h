// Streaming compression for the text formats (NDJSON, CSV): a ByteSink that zstd-compresses into
// another ByteSink, and a sequential reader that gives back a file's bytes, decompressed.
// (Parquet compresses page by page inside the file and does not use these.)
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "formats/format.h"

namespace strata {

// Compresses everything written to it into one zstd frame (with a content checksum) written to
// `inner`, in chunks of about 128 KiB. finish() ends the frame; the output is a complete .zst
// only after it returned ok. Writes after finish() or after an error are errors. `inner` must
// outlive this object. Not thread-safe.
class ZstdCompressSink final : public ByteSink {
 public:
  // `level`: 1..19 (zstd's own range is wider; make_format_spec limits it).
  static Result<std::unique_ptr<ZstdCompressSink>> open(ByteSink* inner, int level);
  ~ZstdCompressSink() override;
  ZstdCompressSink(const ZstdCompressSink&) = delete;
  ZstdCompressSink& operator=(const ZstdCompressSink&) = delete;

  Status write(const void* data, size_t n) override;
  Status finish();

 private:
  struct Impl;
  explicit ZstdCompressSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a file front to back. Not thread-safe.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to `n` (> 0) bytes into `out`; 0 means the end of the stream. A truncated or
  // corrupt compressed stream is a permanent error naming the source.
  virtual Result<size_t> read(void* out, size_t n) = 0;
  // The source's name, for messages.
  virtual std::string name() const = 0;
};

// The bytes of `source` as written before compression: kNone passes them through, kZstd
// decompresses (one or more concatenated frames; an empty file or a file that ends inside a
// frame is an error). Other codecs are a permanent error. `source` must outlive the stream.
Result<std::unique_ptr<ByteStream>> open_byte_stream(ByteSource* source, Compression compression);

}  // namespace strata

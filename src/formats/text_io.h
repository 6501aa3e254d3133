// Internal to src/formats: what the NDJSON and CSV writers and readers share. An output buffer
// flushed to the sink in large chunks, a sliding input window over a ByteStream, the writer and
// reader skeletons (compression, schema checks, projection, sticky errors), and the value codecs
// that write into raw buffers without allocating (base64, numbers, UTF-8 checks).
// core/checksum.h has base64 too, but returns a fresh std::string per value; the hot path here
// needs codecs that write into reused buffers, so they are hand-written below (a few lines each).
#pragma once

#include <charconv>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "formats/format.h"
#include "formats/zstd_stream.h"

namespace strata::text_io {

// Writers hand the sink chunks of about this size.
inline constexpr size_t kFlushBytes = 256 << 10;
// Readers pull the stream in chunks of this size.
inline constexpr size_t kReadChunk = 256 << 10;

// A growable byte buffer. Writers reserve() room, write through the raw pointer and commit() the
// end; capacity is kept across clear(), so a steady state allocates nothing.
class OutBuffer {
 public:
  OutBuffer() = default;
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;

  // Room for `n` more bytes; returns where they go. Call commit() with the new end.
  char* reserve(size_t n) {
    if (cap_ - size_ < n) grow(n);
    return data_.get() + size_;
  }
  void commit(char* end) { size_ = static_cast<size_t>(end - data_.get()); }
  void append(const char* p, size_t n) {
    char* d = reserve(n);
    std::memcpy(d, p, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push(char c) {
    *reserve(1) = c;
    ++size_;
  }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }

 private:
  void grow(size_t n);
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t cap_ = 0;
};

// ---- value codecs (writing) ----

// Room needed by put_int / put_double.
inline constexpr size_t kMaxNumberChars = 32;

inline char* put_int(char* p, int64_t v) { return std::to_chars(p, p + 24, v).ptr; }
// Finite doubles only: the shortest text that reads back as the same double, byte for byte the
// text of std::to_chars (and so of core's append_double). Values with up to 9 decimals below
// about 10^6 (coordinates, speeds, prices) take a fast path that is several times quicker than
// the general shortest-digits search; the rest go to std::to_chars.
char* put_double(char* p, double v);
// "NaN", "Infinity", "-Infinity" for non-finite doubles (core's spelling), else empty.
std::string_view non_finite_text(double v);

inline size_t base64_size(size_t n) { return (n + 2) / 3 * 4; }
// Standard base64 with padding (RFC 4648 section 4); writes base64_size(bytes.size()) chars.
char* put_base64(char* p, std::string_view bytes);
// Strict inverse of put_base64 into `out` (replaced). false if `text` is not canonical base64.
bool decode_base64(std::string_view text, std::string& out);

// Length of the valid UTF-8 sequence starting at s[0] (s has `avail` > 0 bytes), or 0 if the
// bytes there are not valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF are
// invalid).
size_t utf8_sequence_length(const unsigned char* s, size_t avail);
// Appends the UTF-8 form of code point `cp` (<= 0x10FFFF, not a surrogate).
void append_utf8(std::string& out, uint32_t cp);

// Room needed by TimestampText.
inline constexpr size_t kMaxTimestampChars = 48;

// Writes timestamps and dates in core's text form (core/schema.h), byte for byte, but without
// core's per-call std::string work: the "YYYY-MM-DD" of the last day seen is kept, as rows of one
// batch mostly share a day. Years outside 0000..9999 go through core. Not thread-safe.
class TimestampText {
 public:
  char* put_timestamp(char* p, int64_t micros);
  char* put_date(char* p, int64_t days);

 private:
  // Sets ymd_ for `days`; false if the year is outside 0000..9999.
  bool set_day(int64_t days);
  int64_t day_ = INT64_MIN;
  bool day_ok_ = false;
  char ymd_[10] = {};
  std::string scratch_;
};

// ---- value codecs (reading) ----

// Parses core's text form of `type` from `text` and appends it to `col`. Returns nullptr on
// success, else what was expected (e.g. "an integer"). `scratch` is reused for decoding bytes.
// Not for kString/kDecimal/kJson, which callers append as they are.
const char* append_parsed(ColumnVector& col, Type type, std::string_view text,
                          std::string& scratch);

// A short, printable excerpt of the text at [p, end) for messages: 'abc...' or "end of line".
std::string describe_text(const char* p, const char* end);

// ---- writer skeleton ----

// Owns compression and buffering; subclasses encode rows into out_. Errors are sticky: after a
// failed write() or finish(), every call fails.
class TextWriter : public FormatWriter {
 public:
  Status write(const Batch& batch) final;
  Status finish() final;
  uint64_t rows_written() const final { return rows_; }
  // Sets up compression; the factory calls it once, before anything else.
  Status init(const FormatSpec& spec);

 protected:
  TextWriter(std::shared_ptr<const Schema> schema, ByteSink* sink)
      : schema_(std::move(schema)), sink_(sink) {}
  // Encodes rows [begin, ...) of `batch` into out_, stopping after the row that takes out_ past
  // kFlushBytes or at the end. Returns the next row to encode.
  virtual size_t encode_rows(const Batch& batch, size_t begin) = 0;

  std::shared_ptr<const Schema> schema_;
  OutBuffer out_;

 private:
  Status flush();
  Status fail(Status s);

  ByteSink* sink_;
  std::unique_ptr<ZstdCompressSink> zstd_;
  ByteSink* dest_ = nullptr;
  uint64_t rows_ = 0;
  bool finished_ = false;
  Status error_;
};

// ---- reader skeleton ----

// A window over the not yet consumed bytes of a stream. Pointers into it stay valid until the
// next fill().
class InputWindow {
 public:
  explicit InputWindow(ByteStream* in) : in_(in) {}
  const char* begin() const { return buf_.data() + begin_; }
  const char* end() const { return buf_.data() + end_; }
  size_t available() const { return end_ - begin_; }
  void consume_to(const char* p) { begin_ = static_cast<size_t>(p - buf_.data()); }
  // Reads more bytes after end(), keeping the unconsumed ones (which may move: re-read begin()).
  // false at the end of the stream.
  Result<bool> fill();

 private:
  ByteStream* in_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// Owns the stream, the file and projected schemas, and the batch checks; subclasses parse
// records. Errors are sticky.
class TextReader : public FormatReader {
 public:
  std::shared_ptr<const Schema> schema_ptr() const final { return out_schema_; }
  Result<bool> next(Batch& batch, size_t max_rows) final;
  // Checks the options, builds the projection and opens the stream; the factory calls it once.
  // `format` is for messages.
  Status init(const char* format, const FormatSpec& spec, ByteSource* source,
              const ReadOptions& options);

 protected:
  TextReader() = default;
  // Appends up to `max_rows` rows to `batch` (already cleared); returns how many.
  virtual Result<size_t> read_rows(Batch& batch, size_t max_rows) = 0;
  // Permanent error "<source>: line <n>: <what>".
  Status error_at(uint64_t line, const std::string& what) const;

  std::shared_ptr<const Schema> file_schema_;
  std::shared_ptr<const Schema> out_schema_;
  // For each file column: its index in the output batch, or -1 when not projected.
  std::vector<int> file_to_out_;
  std::unique_ptr<ByteStream> stream_;
  std::unique_ptr<InputWindow> window_;
  std::string source_name_;

 private:
  Status error_;
  bool at_end_ = false;
};

}  // namespace strata::text_io

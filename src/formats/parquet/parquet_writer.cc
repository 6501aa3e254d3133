// Parquet writer: encodes Batches column by column into data pages (~FormatSpec::page_bytes),
// dictionary-encodes columns while their dictionary stays small (other integer pages are
// DELTA_BINARY_PACKED where that is smaller than PLAIN), buffers one row group (sized by
// FormatSpec::row_group_bytes, compressed) and writes it column chunk by column chunk, then the
// footer with statistics, column orders and key-value metadata.
//
// Memory: one row group of compressed pages (each data page its own exact-size buffer) plus one
// page being filled (at most page_bytes or 65,536 values) and one dictionary per column, and one
// set of scratch buffers (page body, deltas, compressed body, header) shared by the file's columns,
// which are encoded one at a time. Buffers keep their capacity across pages and row groups; nothing
// is allocated per value.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "formats/parquet/parquet.h"
#include "formats/parquet/parquet_codec.h"
#include "formats/parquet/parquet_encoding.h"
#include "formats/parquet/parquet_schema.h"
#include "formats/parquet/parquet_thrift.h"

#ifndef STRATA_VERSION
#define STRATA_VERSION "0.0.0"
#endif

namespace strata::parquet {

namespace {

constexpr size_t kSliceRows = 4096;  // rows encoded between page-size checks
// Values per page, whatever their size. Dictionary indices (4 bytes each while the page fills,
// a few bits once encoded) and narrow values would otherwise fill a page for a whole shard before
// reaching page_bytes, and the writer's memory would grow with the shard: a PostgreSQL copy of
// 10M rows peaked 6-11 MiB above one of 1M, whose shards were smaller. parquet-mr and Arrow cap
// pages at 20,000 rows; on the telemetry bench that made files 4.5% larger (zstd sees less of a
// column at once), 65,536 makes them 1.7% larger and bounds memory as well.
constexpr size_t kMaxPageValues = 65536;
constexpr size_t kMinPageBytes = 1024;
constexpr size_t kFirstDictionaryCheck = 2048;  // values seen before a first look at the dictionary
constexpr size_t kEarlyDictionaryCheck = 16384;  // values seen before judging a dictionary

enum class Mode { kDictionary, kPlain };

struct WriterSizes {
  uint64_t page_bytes = 1u << 20;
  uint64_t row_group_bytes = 128u << 20;
  size_t dictionary_limit_bytes = 1u << 20;
  size_t max_statistics_bytes = 256;
};

Codec codec_for(Compression c) {
  switch (c) {
    case Compression::kNone:
      return Codec::kUncompressed;
    case Compression::kZstd:
      return Codec::kZstd;
    case Compression::kSnappy:
      return Codec::kSnappy;
    case Compression::kGzip:
      return Codec::kGzip;
  }
  return Codec::kUncompressed;
}

void put_le(std::string& out, const void* p, size_t n) {
  out.append(static_cast<const char*>(p), n);
}

// Big-endian two's complement of v in `width` bytes (FIXED_LEN_BYTE_ARRAY decimals).
void put_be128(char* out, int128 v, int width) {
  auto u = static_cast<unsigned __int128>(v);
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>(static_cast<uint8_t>(u & 0xFF));
    u >>= 8;
  }
}

// Statistics bound for byte strings longer than `limit`: a prefix for the minimum, and for the
// maximum a prefix whose last byte below 0xFF is incremented (none if all bytes are 0xFF).
std::string truncate_min(std::string_view s, size_t limit) {
  return std::string(s.substr(0, limit));
}
bool truncate_max(std::string_view s, size_t limit, std::string& out) {
  out.assign(s.substr(0, limit));
  while (!out.empty()) {
    auto last = static_cast<unsigned char>(out.back());
    if (last != 0xFF) {
      out.back() = static_cast<char>(last + 1);
      return true;
    }
    out.pop_back();
  }
  return false;
}

// Scratch for turning one page into its bytes, shared by a file's column writers.
struct PageScratch {
  std::string body;        // uncompressed page
  std::string compressed;  // its compressed form
  std::string header;
  std::string dict_page;  // header + compressed dictionary page of the chunk being finished
  std::string delta;      // DELTA_BINARY_PACKED form of an integer page's values
};

class ColumnWriter {
 public:
  ColumnWriter(const Column& column, const ColumnLayout& layout, PageCodec* codec,
               PageScratch* scratch, const WriterSizes& options)
      : name_(column.name), layout_(layout), codec_(codec), scratch_(scratch), options_(options) {
    dictionary_allowed_ = layout_.kind != ValueKind::kBool && options_.dictionary_limit_bytes > 0;
    reset_chunk();
  }

  Status append(const ColumnVector& v, size_t begin, size_t end, uint64_t first_row);
  size_t buffered_bytes() const { return chunk_bytes_ + page_estimate() + dictionary_bytes(); }
  Status finish_chunk(ByteSink* sink, uint64_t& file_pos, ColumnChunk& out);

 private:
  size_t value_width() const {
    switch (layout_.physical) {
      case PhysicalType::kInt32:
        return 4;
      case PhysicalType::kFixedLenByteArray:
        return static_cast<size_t>(layout_.type_length);
      default:
        return 8;
    }
  }
  size_t dictionary_size() const {
    return uses_bytes_dictionary() ? bytes_dict_.size() : int_dict_.size();
  }
  bool uses_bytes_dictionary() const {
    return layout_.physical == PhysicalType::kByteArray ||
           layout_.physical == PhysicalType::kFixedLenByteArray;
  }
  size_t dictionary_bytes() const {
    if (uses_bytes_dictionary()) {
      return bytes_dict_.chars_size() +
             (layout_.physical == PhysicalType::kByteArray ? 4 * bytes_dict_.size() : 0);
    }
    return int_dict_.size() * value_width();
  }
  size_t page_estimate() const {
    size_t n = layout_.optional ? page_rows_ / 8 + 8 : 0;
    if (mode_ == Mode::kDictionary) {
      const int bw = std::max(1, bit_width_of(dictionary_size()));
      n += indices_.size() * static_cast<size_t>(bw) / 8 + 1;
    } else if (layout_.kind == ValueKind::kBool) {
      n += bools_.size() / 8;
    } else {
      n += plain_.size();
    }
    return n;
  }
  // Room in plain_ for `more` bytes: a page's worth at the first growth, so that the buffer ends
  // near the page's size instead of doubling past it (a 1 MiB page of text would otherwise sit in
  // a 2 MiB buffer for the life of the writer).
  void reserve_plain(size_t more) {
    const size_t need = plain_.size() + more;
    if (need <= plain_.capacity()) return;
    const size_t page =
        layout_.physical == PhysicalType::kByteArray
            ? options_.page_bytes
            : std::min<uint64_t>(options_.page_bytes, kMaxPageValues * value_width());
    plain_.reserve(std::max(need, page + more));
  }
  Status column_error(uint64_t row, const std::string& what) const {
    return Status::permanent("column '" + name_ + "' row " + std::to_string(row) + ": " + what);
  }

  void reset_chunk();
  void reset_page();
  void append_ints(const int64_t* src, const uint8_t* valid, size_t n, size_t nulls);
  void append_doubles(const double* src, const uint8_t* valid, size_t n, size_t nulls);
  void append_bools(const int64_t* src, const uint8_t* valid, size_t n);
  void append_bytes(const uint64_t* offsets, const char* chars, const uint8_t* valid, size_t n);
  void append_fixed(const char* src, const uint8_t* valid, size_t n);
  void note_bytes_stat(std::string_view v);
  void append_dictionary_entry_plain(size_t i, std::string& out) const;
  void fall_back_to_plain();
  Status flush_page();
  Status write_page(PageType type, std::string_view body, int32_t num_values, Encoding encoding,
                    std::string& out, int64_t& uncompressed_total, int64_t& compressed_total);
  void fill_statistics(Statistics& s) const;

  std::string name_;
  ColumnLayout layout_;
  PageCodec* codec_;
  PageScratch* scratch_;
  WriterSizes options_;
  bool dictionary_allowed_ = true;
  bool dictionary_given_up_ = false;  // a previous chunk outgrew the dictionary: stay PLAIN

  Mode mode_ = Mode::kPlain;
  bool fallback_pending_ = false;
  IntDictionary int_dict_;
  BytesDictionary bytes_dict_;
  size_t dict_entries_flushed_ = 0;  // entries referenced by pages already flushed

  // Current page.
  std::vector<uint8_t> page_valid_;
  size_t page_rows_ = 0;
  size_t page_nulls_ = 0;
  std::vector<uint32_t> indices_;
  std::string plain_;
  std::vector<uint8_t> bools_;
  size_t page_plain_bytes_ = 0;  // PLAIN size of the page's values (dictionary heuristic)

  // Current chunk.
  // Data pages (header + compressed body), each its own buffer of exactly its size: one growing
  // buffer would double its capacity as the chunk grows, and briefly hold old and new copies.
  std::vector<std::string> chunk_pages_;
  size_t chunk_bytes_ = 0;
  int64_t num_values_ = 0;
  int64_t data_uncompressed_ = 0;
  int64_t data_compressed_ = 0;
  int32_t dict_pages_ = 0;
  int32_t plain_pages_ = 0;  // pages without the dictionary (PLAIN or DELTA_BINARY_PACKED)
  int32_t delta_pages_ = 0;  // of which DELTA_BINARY_PACKED
  int64_t null_count_ = 0;
  int64_t nan_count_ = 0;
  bool has_minmax_ = false;
  int64_t min_int_ = 0, max_int_ = 0;
  double min_double_ = 0, max_double_ = 0;
  int128 min_wide_ = 0, max_wide_ = 0;
  std::string min_bytes_, max_bytes_;

  // Scratch.
  std::vector<int64_t> decimal_ints_;
  std::string decimal_fixed_;
  RleEncoder rle_;
};

void ColumnWriter::reset_page() {
  page_valid_.clear();
  page_rows_ = 0;
  page_nulls_ = 0;
  indices_.clear();
  plain_.clear();
  bools_.clear();
  page_plain_bytes_ = 0;
}

void ColumnWriter::reset_chunk() {
  reset_page();
  chunk_pages_.clear();
  chunk_bytes_ = 0;
  int_dict_.clear();
  bytes_dict_.clear();
  dict_entries_flushed_ = 0;
  fallback_pending_ = false;
  mode_ = dictionary_allowed_ && !dictionary_given_up_ ? Mode::kDictionary : Mode::kPlain;
  num_values_ = 0;
  data_uncompressed_ = data_compressed_ = 0;
  dict_pages_ = plain_pages_ = delta_pages_ = 0;
  null_count_ = nan_count_ = 0;
  has_minmax_ = false;
  min_bytes_.clear();
  max_bytes_.clear();
}

Status ColumnWriter::append(const ColumnVector& v, size_t begin, size_t end, uint64_t first_row) {
  const size_t n = end - begin;
  const uint8_t* valid = v.validity().data() + begin;
  size_t nulls = 0;
  if (v.null_count() > 0) {
    for (size_t i = 0; i < n; ++i) nulls += valid[i] == 0;
  }
  if (!layout_.optional && nulls > 0) {
    for (size_t i = 0; i < n; ++i) {
      if (!valid[i]) return column_error(first_row + i, "NULL in a column declared NOT NULL");
    }
  }

  switch (layout_.kind) {
    case ValueKind::kInt64:
      append_ints(v.ints().data() + begin, valid, n, nulls);
      break;
    case ValueKind::kInt32: {
      const int64_t* src = v.ints().data() + begin;
      for (size_t i = 0; i < n; ++i) {
        if (valid[i] && (src[i] < std::numeric_limits<int32_t>::min() ||
                         src[i] > std::numeric_limits<int32_t>::max())) {
          return column_error(first_row + i, "value " + std::to_string(src[i]) +
                                                 " does not fit Parquet INT32 (DATE)");
        }
      }
      append_ints(src, valid, n, nulls);
      break;
    }
    case ValueKind::kDecimalInt32:
    case ValueKind::kDecimalInt64: {
      decimal_ints_.resize(n);
      for (size_t i = 0; i < n; ++i) {
        decimal_ints_[i] = 0;
        if (!valid[i]) continue;
        int128 x = 0;
        const std::string_view text = v.text_at(begin + i);
        std::string err = parse_decimal(text, layout_.precision, layout_.scale, x);
        if (!err.empty()) {
          return column_error(first_row + i,
                              "decimal '" + std::string(text.substr(0, 64)) + "': " + err);
        }
        decimal_ints_[i] = static_cast<int64_t>(x);
      }
      append_ints(decimal_ints_.data(), valid, n, nulls);
      break;
    }
    case ValueKind::kDecimalFixed: {
      const size_t w = value_width();
      decimal_fixed_.resize(n * w);
      for (size_t i = 0; i < n; ++i) {
        if (!valid[i]) continue;
        int128 x = 0;
        const std::string_view text = v.text_at(begin + i);
        std::string err = parse_decimal(text, layout_.precision, layout_.scale, x);
        if (!err.empty()) {
          return column_error(first_row + i,
                              "decimal '" + std::string(text.substr(0, 64)) + "': " + err);
        }
        put_be128(decimal_fixed_.data() + i * w, x, static_cast<int>(w));
        if (!has_minmax_) {
          min_wide_ = max_wide_ = x;
          has_minmax_ = true;
        } else {
          min_wide_ = std::min(min_wide_, x);
          max_wide_ = std::max(max_wide_, x);
        }
      }
      append_fixed(decimal_fixed_.data(), valid, n);
      break;
    }
    case ValueKind::kDouble:
      append_doubles(v.doubles().data() + begin, valid, n, nulls);
      break;
    case ValueKind::kBool:
      append_bools(v.ints().data() + begin, valid, n);
      break;
    case ValueKind::kBytes:
      append_bytes(v.offsets().data() + begin, v.chars().data(), valid, n);
      break;
    default:
      return Status::permanent("column '" + name_ + "': internal error (unexpected layout)");
  }

  if (layout_.optional) page_valid_.insert(page_valid_.end(), valid, valid + n);
  page_rows_ += n;
  page_nulls_ += nulls;
  null_count_ += static_cast<int64_t>(nulls);
  num_values_ += static_cast<int64_t>(n);

  if (mode_ == Mode::kDictionary && dict_pages_ == 0 && plain_pages_ == 0) {
    // Early in the first page: give up at once on columns whose values are nearly all distinct
    // (ids, timestamps, measurements, documents) instead of hashing a dictionary's worth of them:
    // 97% distinct at the first check past kFirstDictionaryCheck values (the end of the first
    // slice), or 75% past kEarlyDictionaryCheck.
    const size_t seen = indices_.size();
    if (seen >= kEarlyDictionaryCheck
            ? dictionary_size() * 4 > seen * 3
            : seen >= kFirstDictionaryCheck && dictionary_size() * 100 > seen * 97) {
      fallback_pending_ = true;
    }
  }
  if (fallback_pending_) fall_back_to_plain();
  if (page_estimate() >= std::max<uint64_t>(options_.page_bytes, kMinPageBytes) ||
      page_rows_ >= kMaxPageValues) {
    return flush_page();
  }
  return Status::ok();
}

void ColumnWriter::append_ints(const int64_t* src, const uint8_t* valid, size_t n, size_t nulls) {
  // Statistics (signed).
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  if (nulls == 0) {
    for (size_t i = 0; i < n; ++i) {
      lo = std::min(lo, src[i]);
      hi = std::max(hi, src[i]);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (valid[i]) {
        lo = std::min(lo, src[i]);
        hi = std::max(hi, src[i]);
      }
    }
  }
  if (nulls < n) {
    if (!has_minmax_) {
      min_int_ = lo;
      max_int_ = hi;
      has_minmax_ = true;
    } else {
      min_int_ = std::min(min_int_, lo);
      max_int_ = std::max(max_int_, hi);
    }
  }
  const size_t width = value_width();
  if (mode_ == Mode::kDictionary) {
    const size_t old = indices_.size();
    indices_.resize(old + (n - nulls));
    uint32_t* out = indices_.data() + old;
    for (size_t i = 0; i < n; ++i) {
      if (nulls == 0 || valid[i]) *out++ = int_dict_.get_or_insert(static_cast<uint64_t>(src[i]));
    }
    page_plain_bytes_ += (n - nulls) * width;
    if (dictionary_bytes() > options_.dictionary_limit_bytes) fallback_pending_ = true;
    return;
  }
  reserve_plain((n - nulls) * width);
  if (width == 8 && nulls == 0) {
    plain_.append(reinterpret_cast<const char*>(src), n * 8);
    return;
  }
  const size_t old = plain_.size();
  plain_.resize(old + (n - nulls) * width);
  char* out = plain_.data() + old;
  if (width == 8) {
    {
      for (size_t i = 0; i < n; ++i) {
        if (valid[i]) {
          std::memcpy(out, &src[i], 8);
          out += 8;
        }
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (nulls == 0 || valid[i]) {
        const auto v = static_cast<int32_t>(src[i]);
        std::memcpy(out, &v, 4);
        out += 4;
      }
    }
  }
}

void ColumnWriter::append_doubles(const double* src, const uint8_t* valid, size_t n, size_t nulls) {
  // Statistics: NaN never becomes a bound; it is counted.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t nans = 0, counted = 0;
  for (size_t i = 0; i < n; ++i) {
    if (nulls != 0 && !valid[i]) continue;
    const double x = src[i];
    if (std::isnan(x)) {
      ++nans;
      continue;
    }
    ++counted;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  nan_count_ += static_cast<int64_t>(nans);
  if (counted > 0) {
    if (!has_minmax_) {
      min_double_ = lo;
      max_double_ = hi;
      has_minmax_ = true;
    } else {
      min_double_ = std::min(min_double_, lo);
      max_double_ = std::max(max_double_, hi);
    }
  }
  if (mode_ == Mode::kDictionary) {
    const size_t old = indices_.size();
    indices_.resize(old + (n - nulls));
    uint32_t* out = indices_.data() + old;
    for (size_t i = 0; i < n; ++i) {
      if (nulls == 0 || valid[i]) {
        uint64_t bits;
        std::memcpy(&bits, &src[i], 8);
        *out++ = int_dict_.get_or_insert(bits);
      }
    }
    page_plain_bytes_ += (n - nulls) * 8;
    if (dictionary_bytes() > options_.dictionary_limit_bytes) fallback_pending_ = true;
    return;
  }
  if (nulls == 0) {
    reserve_plain(n * 8);
    plain_.append(reinterpret_cast<const char*>(src), n * 8);
    return;
  }
  reserve_plain((n - nulls) * 8);
  const size_t old = plain_.size();
  plain_.resize(old + (n - nulls) * 8);
  char* out = plain_.data() + old;
  {
    for (size_t i = 0; i < n; ++i) {
      if (valid[i]) {
        std::memcpy(out, &src[i], 8);
        out += 8;
      }
    }
  }
}

void ColumnWriter::append_bools(const int64_t* src, const uint8_t* valid, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!valid[i]) continue;
    const int64_t b = src[i] != 0 ? 1 : 0;
    bools_.push_back(static_cast<uint8_t>(b));
    if (!has_minmax_) {
      min_int_ = max_int_ = b;
      has_minmax_ = true;
    } else {
      min_int_ = std::min(min_int_, b);
      max_int_ = std::max(max_int_, b);
    }
  }
}

void ColumnWriter::note_bytes_stat(std::string_view v) {
  if (!has_minmax_) {
    min_bytes_.assign(v);
    max_bytes_.assign(v);
    has_minmax_ = true;
    return;
  }
  if (v < std::string_view(min_bytes_)) min_bytes_.assign(v);
  if (v > std::string_view(max_bytes_)) max_bytes_.assign(v);
}

void ColumnWriter::append_bytes(const uint64_t* offsets, const char* chars, const uint8_t* valid,
                                size_t n) {
  if (mode_ == Mode::kDictionary) {
    for (size_t i = 0; i < n; ++i) {
      if (!valid[i]) continue;
      const std::string_view v(chars + offsets[i], offsets[i + 1] - offsets[i]);
      bool inserted = false;
      indices_.push_back(bytes_dict_.get_or_insert(v, inserted));
      if (inserted) note_bytes_stat(v);  // every distinct value passes here once
      page_plain_bytes_ += 4 + v.size();
    }
    if (dictionary_bytes() > options_.dictionary_limit_bytes) fallback_pending_ = true;
    return;
  }
  size_t nonnull = 0;
  for (size_t i = 0; i < n; ++i) nonnull += valid[i];
  reserve_plain((offsets[n] - offsets[0]) + 4 * nonnull);
  const size_t old = plain_.size();
  plain_.resize(old + (offsets[n] - offsets[0]) + 4 * nonnull);
  char* out = plain_.data() + old;
  std::string_view lo, hi;
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    if (!valid[i]) continue;
    const auto len = static_cast<uint32_t>(offsets[i + 1] - offsets[i]);
    std::memcpy(out, &len, 4);
    std::memcpy(out + 4, chars + offsets[i], len);
    out += 4 + len;
    const std::string_view v(chars + offsets[i], len);
    if (!any) {
      lo = hi = v;
      any = true;
    } else if (v < lo) {
      lo = v;
    } else if (v > hi) {
      hi = v;
    }
  }
  plain_.resize(static_cast<size_t>(out - plain_.data()));
  if (any) {
    note_bytes_stat(lo);
    note_bytes_stat(hi);
  }
}

void ColumnWriter::append_fixed(const char* src, const uint8_t* valid, size_t n) {
  const size_t w = value_width();
  for (size_t i = 0; i < n; ++i) {
    if (!valid[i]) continue;
    const std::string_view v(src + i * w, w);
    if (mode_ == Mode::kDictionary) {
      bool inserted = false;
      indices_.push_back(bytes_dict_.get_or_insert(v, inserted));
      page_plain_bytes_ += w;
    } else {
      plain_.append(v.data(), v.size());
    }
  }
  if (mode_ == Mode::kDictionary && dictionary_bytes() > options_.dictionary_limit_bytes) {
    fallback_pending_ = true;
  }
}

void ColumnWriter::append_dictionary_entry_plain(size_t i, std::string& out) const {
  if (uses_bytes_dictionary()) {
    const std::string_view v = bytes_dict_.at(i);
    if (layout_.physical == PhysicalType::kByteArray) {
      append_u32_le(out, static_cast<uint32_t>(v.size()));
    }
    out.append(v.data(), v.size());
    return;
  }
  const uint64_t key = int_dict_.values()[i];
  if (value_width() == 4) {
    const auto v = static_cast<int32_t>(static_cast<int64_t>(key));
    put_le(out, &v, 4);
  } else {
    put_le(out, &key, 8);
  }
}

void ColumnWriter::fall_back_to_plain() {
  // The current page is re-encoded as PLAIN; pages already flushed keep referencing the first
  // dict_entries_flushed_ entries, which become the dictionary page.
  plain_.clear();
  reserve_plain(page_plain_bytes_);
  for (uint32_t idx : indices_) append_dictionary_entry_plain(idx, plain_);
  indices_.clear();
  if (dict_entries_flushed_ == 0) {
    // No page refers to the dictionary: let its memory go (up to the dictionary limit and its
    // hash table) rather than keep it for a column that stays PLAIN.
    bytes_dict_ = BytesDictionary();
    int_dict_ = IntDictionary();
  } else if (uses_bytes_dictionary()) {
    bytes_dict_.truncate(dict_entries_flushed_);
  } else {
    int_dict_.truncate(dict_entries_flushed_);
  }
  mode_ = Mode::kPlain;
  fallback_pending_ = false;
  dictionary_given_up_ = true;
}

Status ColumnWriter::write_page(PageType type, std::string_view body, int32_t num_values,
                                Encoding encoding, std::string& out, int64_t& uncompressed_total,
                                int64_t& compressed_total) {
  if (body.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return Status::permanent("column '" + name_ + "': a page of " + std::to_string(body.size()) +
                             " bytes exceeds Parquet's 2 GiB page limit (a single huge value?)");
  }
  std::string& compressed = scratch_->compressed;
  std::string& header = scratch_->header;
  compressed.clear();
  STRATA_TRY(codec_->compress(body.data(), body.size(), compressed));
  if (compressed.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return Status::permanent("column '" + name_ + "': compressed page exceeds 2 GiB");
  }
  PageHeader h;
  h.type = type;
  h.uncompressed_page_size = static_cast<int32_t>(body.size());
  h.compressed_page_size = static_cast<int32_t>(compressed.size());
  if (type == PageType::kDictionaryPage) {
    h.dictionary_page_header.emplace();
    h.dictionary_page_header->num_values = num_values;
    h.dictionary_page_header->encoding = encoding;
  } else {
    h.data_page_header.emplace();
    h.data_page_header->num_values = num_values;
    h.data_page_header->encoding = encoding;
    h.data_page_header->definition_level_encoding = Encoding::kRle;
    h.data_page_header->repetition_level_encoding = Encoding::kRle;
  }
  header.clear();
  encode_thrift(h, header);
  out.reserve(out.size() + header.size() + compressed.size());
  out.append(header);
  out.append(compressed);
  uncompressed_total += static_cast<int64_t>(header.size() + body.size());
  compressed_total += static_cast<int64_t>(header.size() + compressed.size());
  return Status::ok();
}

Status ColumnWriter::flush_page() {
  if (page_rows_ == 0) return Status::ok();
  if (mode_ == Mode::kDictionary && dict_pages_ == 0 && plain_pages_ == 0 &&
      dictionary_size() > 0) {
    // First page of the chunk: keep the dictionary only if it pays for itself.
    const int bw = std::max(1, bit_width_of(dictionary_size() - 1));
    const size_t dict_cost = dictionary_bytes() + indices_.size() * static_cast<size_t>(bw) / 8;
    if (dict_cost >= page_plain_bytes_) fall_back_to_plain();
  }
  std::string& body = scratch_->body;
  body.clear();
  if (layout_.optional) {
    body.append(4, '\0');
    rle_.reset(1, &body);
    if (page_nulls_ == 0) {
      rle_.put_repeated(1, page_rows_);
    } else if (page_nulls_ == page_rows_) {
      rle_.put_repeated(0, page_rows_);
    } else {
      for (uint8_t v : page_valid_) rle_.put(v);
    }
    rle_.flush();
    const auto len = static_cast<uint32_t>(body.size() - 4);
    std::memcpy(body.data(), &len, 4);
  }
  Encoding encoding = Encoding::kPlain;
  std::string_view page_bytes = body;
  if (mode_ == Mode::kDictionary && dictionary_size() > 0) {
    encoding = Encoding::kRleDictionary;
    const int bw = std::max(1, bit_width_of(dictionary_size() - 1));
    body.push_back(static_cast<char>(bw));
    rle_.reset(bw, &body);
    for (uint32_t idx : indices_) rle_.put(idx);
    rle_.flush();
    page_bytes = body;
    dict_entries_flushed_ = dictionary_size();
    ++dict_pages_;
  } else {
    if (layout_.kind == ValueKind::kBool) {
      pack_bools(bools_.data(), bools_.size(), body);
      page_bytes = body;
    } else {
      // Integers whose neighbours are close (keys, timestamps) take a fraction of their PLAIN
      // size as deltas: 1.3 of a telemetry shard's 7.4 MB of pages were its key and time
      // columns, whose deltas pack into a few bits. Whichever form is smaller is written.
      std::string_view values = plain_;
      if ((layout_.physical == PhysicalType::kInt32 || layout_.physical == PhysicalType::kInt64) &&
          !plain_.empty()) {
        std::string& delta = scratch_->delta;
        delta.clear();
        delta_binary_pack(plain_.data(), plain_.size() / value_width(), value_width(), delta);
        if (delta.size() < plain_.size()) {
          values = delta;
          encoding = Encoding::kDeltaBinaryPacked;
          ++delta_pages_;
        }
      }
      if (layout_.optional) {
        body.append(values);
        page_bytes = body;
      } else {
        page_bytes = values;  // the values alone: compressed where they are, not copied
      }
    }
    ++plain_pages_;
  }
  std::string page;
  STRATA_TRY(write_page(PageType::kDataPage, page_bytes, static_cast<int32_t>(page_rows_), encoding,
                        page, data_uncompressed_, data_compressed_));
  chunk_bytes_ += page.size();
  chunk_pages_.push_back(std::move(page));
  reset_page();
  return Status::ok();
}

void ColumnWriter::fill_statistics(Statistics& s) const {
  s.null_count = null_count_;
  if (layout_.kind == ValueKind::kDouble) s.nan_count = nan_count_;
  if (!has_minmax_) return;
  std::string lo, hi;
  switch (layout_.kind) {
    case ValueKind::kBool: {
      const auto a = static_cast<uint8_t>(min_int_), b = static_cast<uint8_t>(max_int_);
      put_le(lo, &a, 1);
      put_le(hi, &b, 1);
      break;
    }
    case ValueKind::kInt32:
    case ValueKind::kDecimalInt32: {
      const auto a = static_cast<int32_t>(min_int_), b = static_cast<int32_t>(max_int_);
      put_le(lo, &a, 4);
      put_le(hi, &b, 4);
      break;
    }
    case ValueKind::kInt64:
    case ValueKind::kDecimalInt64:
      put_le(lo, &min_int_, 8);
      put_le(hi, &max_int_, 8);
      break;
    case ValueKind::kDouble: {
      // Zero bounds are written as -0.0 (min) and +0.0 (max), as the format asks.
      const double a = min_double_ == 0 ? -0.0 : min_double_;
      const double b = max_double_ == 0 ? 0.0 : max_double_;
      put_le(lo, &a, 8);
      put_le(hi, &b, 8);
      break;
    }
    case ValueKind::kDecimalFixed: {
      const int w = layout_.type_length;
      lo.resize(static_cast<size_t>(w));
      hi.resize(static_cast<size_t>(w));
      put_be128(lo.data(), min_wide_, w);
      put_be128(hi.data(), max_wide_, w);
      break;
    }
    case ValueKind::kBytes: {
      const size_t limit = options_.max_statistics_bytes;
      if (min_bytes_.size() > limit) {
        lo = truncate_min(min_bytes_, limit);
        s.is_min_value_exact = false;
      } else {
        lo = min_bytes_;
        s.is_min_value_exact = true;
      }
      if (max_bytes_.size() > limit) {
        if (!truncate_max(max_bytes_, limit, hi)) {
          s.min_value = std::move(lo);
          return;  // no short upper bound exists: leave max out
        }
        s.is_max_value_exact = false;
      } else {
        hi = max_bytes_;
        s.is_max_value_exact = true;
      }
      break;
    }
    default:
      return;
  }
  s.min_value = std::move(lo);
  s.max_value = std::move(hi);
}

Status ColumnWriter::finish_chunk(ByteSink* sink, uint64_t& file_pos, ColumnChunk& out) {
  STRATA_TRY(flush_page());
  const size_t dict_entries = dictionary_size();
  int64_t dict_uncompressed = 0, dict_compressed = 0;
  std::string& dict_page = scratch_->dict_page;
  dict_page.clear();
  if (dict_pages_ > 0 && dict_entries > 0) {
    std::string& body = scratch_->body;
    body.clear();
    for (size_t i = 0; i < dict_entries; ++i) append_dictionary_entry_plain(i, body);
    STRATA_TRY(write_page(PageType::kDictionaryPage, body, static_cast<int32_t>(dict_entries),
                          Encoding::kPlain, dict_page, dict_uncompressed, dict_compressed));
  }

  out = ColumnChunk{};
  out.file_offset = 0;  // the metadata lives only in the footer
  ColumnMetaData& m = out.meta_data.emplace();
  m.type = layout_.physical;
  if (!dict_page.empty() || plain_pages_ > delta_pages_) m.encodings.push_back(Encoding::kPlain);
  if (layout_.optional) m.encodings.push_back(Encoding::kRle);
  if (dict_pages_ > 0) m.encodings.push_back(Encoding::kRleDictionary);
  if (delta_pages_ > 0) m.encodings.push_back(Encoding::kDeltaBinaryPacked);
  m.path_in_schema = {name_};
  m.codec = codec_->codec();
  m.num_values = num_values_;
  m.total_uncompressed_size = dict_uncompressed + data_uncompressed_;
  m.total_compressed_size = dict_compressed + data_compressed_;
  if (!dict_page.empty()) {
    m.dictionary_page_offset = static_cast<int64_t>(file_pos);
    m.encoding_stats.push_back({PageType::kDictionaryPage, Encoding::kPlain, 1});
  }
  m.data_page_offset = static_cast<int64_t>(file_pos + dict_page.size());
  if (dict_pages_ > 0) {
    m.encoding_stats.push_back({PageType::kDataPage, Encoding::kRleDictionary, dict_pages_});
  }
  if (plain_pages_ > delta_pages_) {
    m.encoding_stats.push_back(
        {PageType::kDataPage, Encoding::kPlain, plain_pages_ - delta_pages_});
  }
  if (delta_pages_ > 0) {
    m.encoding_stats.push_back({PageType::kDataPage, Encoding::kDeltaBinaryPacked, delta_pages_});
  }
  fill_statistics(m.statistics.emplace());

  if (!dict_page.empty()) STRATA_TRY(sink->write(dict_page.data(), dict_page.size()));
  for (const std::string& page : chunk_pages_) STRATA_TRY(sink->write(page.data(), page.size()));
  file_pos += dict_page.size() + chunk_bytes_;
  reset_chunk();
  return Status::ok();
}

class ParquetWriter final : public FormatWriter {
 public:
  ParquetWriter(std::shared_ptr<const Schema> schema, ByteSink* sink, WriterSizes sizes)
      : schema_(std::move(schema)), sink_(sink), sizes_(sizes) {}

  Status init(const FormatSpec& spec, const std::map<std::string, std::string>& metadata);
  Status write(const Batch& batch) override;
  Status finish() override;
  uint64_t rows_written() const override { return rows_; }

 private:
  Status write_impl(const Batch& batch);
  Status flush_row_group();
  Status fail(Status s) {
    if (failed_.is_ok()) failed_ = s;
    return s;
  }

  std::shared_ptr<const Schema> schema_;
  ByteSink* sink_;
  WriterSizes sizes_;
  std::unique_ptr<PageCodec> codec_;
  PageScratch scratch_;
  std::vector<ColumnWriter> columns_;
  FileMetaData meta_;
  uint64_t pos_ = 0;
  uint64_t rows_ = 0;
  uint64_t group_rows_ = 0;
  bool finished_ = false;
  Status failed_;
};

Status ParquetWriter::init(const FormatSpec& spec,
                           const std::map<std::string, std::string>& metadata) {
  const Schema& schema = *schema_;
  if (schema.size() == 0) return Status::permanent("parquet: the schema has no columns");
  for (const auto& [key, value] : metadata) {
    if (key == kStrataSchemaKey || key == kStrataVersionKey) {
      return Status::permanent("parquet: metadata key '" + key + "' is reserved by Strata");
    }
  }
  STRATA_ASSIGN_OR_RETURN(codec_, PageCodec::create(codec_for(spec.compression), spec.level));

  SchemaElement root;
  root.name = "schema";
  root.num_children = static_cast<int32_t>(schema.size());
  meta_.schema.push_back(root);
  columns_.reserve(schema.size());
  for (size_t i = 0; i < schema.size(); ++i) {
    const Column& c = schema[i];
    for (size_t j = 0; j < i; ++j) {
      if (schema[j].name == c.name) {
        return Status::permanent("parquet: column name '" + c.name + "' appears twice");
      }
    }
    SchemaElement e;
    STRATA_ASSIGN_OR_RETURN(ColumnLayout layout, layout_for_writing(c, e));
    meta_.schema.push_back(std::move(e));
    columns_.emplace_back(c, layout, codec_.get(), &scratch_, sizes_);
  }
  meta_.version = 1;
  meta_.created_by = std::string("strata version ") + STRATA_VERSION;
  meta_.column_orders = std::vector<bool>(schema.size(), true);
  meta_.key_value_metadata.push_back({kStrataVersionKey, std::string(STRATA_VERSION)});
  meta_.key_value_metadata.push_back({kStrataSchemaKey, encode_strata_schema(schema)});
  for (const auto& [key, value] : metadata) meta_.key_value_metadata.push_back({key, value});

  STRATA_TRY(sink_->write("PAR1", 4));
  pos_ = 4;
  return Status::ok();
}

Status ParquetWriter::write(const Batch& batch) {
  if (!failed_.is_ok()) return failed_;
  if (finished_) return Status::permanent("parquet: write() after finish()");
  return write_impl(batch);
}

Status ParquetWriter::write_impl(const Batch& batch) {
  const Schema& schema = *schema_;
  if (batch.num_columns() != schema.size()) {
    return fail(Status::permanent("parquet: batch has " + std::to_string(batch.num_columns()) +
                                  " columns, the file's schema " + std::to_string(schema.size())));
  }
  for (size_t c = 0; c < schema.size(); ++c) {
    if (batch.column(c).type() != schema[c].type) {
      return fail(Status::permanent("parquet: batch column " + std::to_string(c) + " is " +
                                    type_name(batch.column(c).type()) + ", the schema says " +
                                    type_name(schema[c].type) + " for '" + schema[c].name + "'"));
    }
  }
  const size_t rows = batch.num_rows();
  for (size_t begin = 0; begin < rows; begin += kSliceRows) {
    const size_t end = std::min(rows, begin + kSliceRows);
    for (size_t c = 0; c < columns_.size(); ++c) {
      Status s = columns_[c].append(batch.column(c), begin, end, rows_ + begin);
      if (!s.is_ok()) return fail(s);
    }
    group_rows_ += end - begin;
    size_t buffered = 0;
    for (const ColumnWriter& w : columns_) buffered += w.buffered_bytes();
    if (buffered >= sizes_.row_group_bytes) {
      Status s = flush_row_group();
      if (!s.is_ok()) return fail(s);
    }
  }
  rows_ += rows;
  return Status::ok();
}

Status ParquetWriter::flush_row_group() {
  if (group_rows_ == 0) return Status::ok();
  RowGroup g;
  g.num_rows = static_cast<int64_t>(group_rows_);
  g.file_offset = static_cast<int64_t>(pos_);
  const uint64_t start = pos_;
  g.columns.resize(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    STRATA_TRY(columns_[c].finish_chunk(sink_, pos_, g.columns[c]));
    g.total_byte_size += g.columns[c].meta_data->total_uncompressed_size;
  }
  g.total_compressed_size = static_cast<int64_t>(pos_ - start);
  if (meta_.row_groups.size() < static_cast<size_t>(std::numeric_limits<int16_t>::max())) {
    g.ordinal = static_cast<int16_t>(meta_.row_groups.size());
  }
  meta_.row_groups.push_back(std::move(g));
  meta_.num_rows += static_cast<int64_t>(group_rows_);
  group_rows_ = 0;
  return Status::ok();
}

Status ParquetWriter::finish() {
  if (!failed_.is_ok()) return failed_;
  if (finished_) return Status::permanent("parquet: finish() called twice");
  Status s = flush_row_group();
  if (!s.is_ok()) return fail(s);
  std::string footer;
  encode_thrift(meta_, footer);
  const auto len = static_cast<uint32_t>(footer.size());
  append_u32_le(footer, len);
  footer.append("PAR1", 4);
  s = sink_->write(footer.data(), footer.size());
  if (!s.is_ok()) return fail(s);
  pos_ += footer.size();
  finished_ = true;
  return Status::ok();
}

}  // namespace
}  // namespace strata::parquet

namespace strata {

Result<std::unique_ptr<FormatWriter>> open_parquet_writer(
    const FormatSpec& spec, std::shared_ptr<const Schema> schema, ByteSink* sink,
    const std::map<std::string, std::string>& metadata) {
  return open_parquet_writer(spec, std::move(schema), sink, metadata, ParquetWriterTuning{});
}

Result<std::unique_ptr<FormatWriter>> open_parquet_writer(
    const FormatSpec& spec, std::shared_ptr<const Schema> schema, ByteSink* sink,
    const std::map<std::string, std::string>& metadata, const ParquetWriterTuning& tuning) {
  if (!schema) return Status::permanent("parquet: no schema");
  if (!sink) return Status::permanent("parquet: no sink");
  parquet::WriterSizes sizes;
  sizes.page_bytes = spec.page_bytes;
  sizes.row_group_bytes = spec.row_group_bytes;
  sizes.dictionary_limit_bytes = tuning.dictionary_limit_bytes;
  sizes.max_statistics_bytes = std::max<size_t>(tuning.max_statistics_bytes, 1);
  auto writer = std::make_unique<parquet::ParquetWriter>(std::move(schema), sink, sizes);
  STRATA_TRY(writer->init(spec, metadata));
  return std::unique_ptr<FormatWriter>(std::move(writer));
}

}  // namespace strata

// Parquet reader: reads and validates the footer through ByteSource::read_at, then streams each
// projected column chunk page by page (one header window and one page body in memory per column),
// decoding definition levels and PLAIN / dictionary values into the caller's Batch.
//
// Everything a file claims (lengths, counts, offsets, bit widths, dictionary indices) is checked
// against the bytes actually present and against ParquetReaderLimits before it is used or
// allocated; a violation is a permanent error naming the file, row group, column and page offset.
#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "formats/parquet/parquet.h"
#include "formats/parquet/parquet_codec.h"
#include "formats/parquet/parquet_encoding.h"
#include "formats/parquet/parquet_schema.h"
#include "formats/parquet/parquet_thrift.h"

namespace strata::parquet {

namespace {

constexpr size_t kHeaderWindow = 64u << 10;  // first read for a page header (+ small bodies)
constexpr size_t kMaxHeaderBytes = 16u << 20;
constexpr size_t kDecodeChunk = 1024;  // rows decoded per step

std::string file_prefix(const ByteSource* source) {
  return "parquet file '" + source->name() + "': ";
}

Status corrupt(const ByteSource* source, const std::string& what) {
  return Status::permanent(file_prefix(source) + what);
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Values decoded from a page or dictionary, in Strata storage form.
struct Values {
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::string chars;
  std::vector<uint64_t> offsets{0};

  void clear() {
    ints.clear();
    doubles.clear();
    chars.clear();
    offsets.resize(1);
  }
  std::string_view text(size_t i) const {
    return std::string_view(chars.data() + offsets[i], offsets[i + 1] - offsets[i]);
  }
};

Storage storage_of_kind(ValueKind k) {
  switch (k) {
    case ValueKind::kBool:
    case ValueKind::kInt32:
    case ValueKind::kUInt32:
    case ValueKind::kInt64:
    case ValueKind::kTimestampMillis:
    case ValueKind::kTimestampNanos:
      return Storage::kInt;
    case ValueKind::kFloat:
    case ValueKind::kDouble:
      return Storage::kDouble;
    default:
      return Storage::kText;
  }
}

// Smallest PLAIN size of one value, to bound value counts by the bytes present (0: unbounded).
size_t min_plain_bytes(const ColumnLayout& l) {
  switch (l.physical) {
    case PhysicalType::kBoolean:
      return 0;
    case PhysicalType::kInt32:
    case PhysicalType::kFloat:
      return 4;
    case PhysicalType::kByteArray:
      return 4;
    case PhysicalType::kFixedLenByteArray:
      return static_cast<size_t>(l.type_length);
    default:
      return 8;
  }
}

class ColumnChunkReader {
 public:
  ColumnChunkReader(ByteSource* source, const ParquetReaderLimits& limits)
      : source_(source), limits_(limits) {}

  Status start(const ColumnMetaData& meta, const ColumnLayout& layout, uint64_t rows);
  // Appends n rows to `out`.
  Status read(size_t n, ColumnVector& out);
  // True when every value of the chunk was read.
  bool done() const { return page_left_ == 0 && values_left_ == 0; }

 private:
  Status next_page();
  Status page_error(const std::string& what) const {
    return Status::permanent("page at offset " + std::to_string(page_offset_) + ": " + what);
  }
  Status setup_values(Encoding encoding, const uint8_t* p, const uint8_t* end, size_t page_values);
  Status decode_plain(const uint8_t*& p, const uint8_t* end, size_t m, Values& out);
  Status decode_values(size_t m);
  Status append_decimal_bytes(const uint8_t* p, size_t len, Values& out);

  ByteSource* source_;
  const ParquetReaderLimits& limits_;
  ColumnLayout layout_;
  std::unique_ptr<PageCodec> codec_;
  uint64_t pos_ = 0;
  uint64_t chunk_end_ = 0;
  uint64_t page_offset_ = 0;
  uint64_t values_left_ = 0;  // values of the chunk not yet in a loaded page
  uint64_t page_left_ = 0;    // values of the current page not yet returned
  bool data_seen_ = false;

  bool have_dict_ = false;
  Values dict_;

  enum class ValueMode { kPlain, kDictionary, kRleBool } mode_ = ValueMode::kPlain;
  const uint8_t* plain_p_ = nullptr;
  const uint8_t* plain_end_ = nullptr;
  uint64_t bool_bit_ = 0;
  RleDecoder def_;
  RleDecoder values_rle_;

  std::vector<uint8_t> window_;
  std::vector<uint8_t> page_;
  std::vector<uint8_t> delta_plain_;  // a DELTA_BINARY_PACKED page's values in PLAIN form
  std::vector<uint32_t> levels_;
  std::vector<uint32_t> indices_;
  Values scratch_;
  std::string text_;
};

Status ColumnChunkReader::start(const ColumnMetaData& meta, const ColumnLayout& layout,
                                uint64_t rows) {
  layout_ = layout;
  STRATA_ASSIGN_OR_RETURN(codec_, PageCodec::create(meta.codec, 0));
  const int64_t start = meta.dictionary_page_offset && *meta.dictionary_page_offset > 0 &&
                                *meta.dictionary_page_offset < meta.data_page_offset
                            ? *meta.dictionary_page_offset
                            : meta.data_page_offset;
  pos_ = static_cast<uint64_t>(start);
  chunk_end_ = pos_ + static_cast<uint64_t>(meta.total_compressed_size);
  values_left_ = rows;
  page_left_ = 0;
  data_seen_ = false;
  have_dict_ = false;
  dict_.clear();
  levels_.resize(kDecodeChunk);
  indices_.resize(kDecodeChunk);
  return Status::ok();
}

Status ColumnChunkReader::next_page() {
  for (;;) {
    if (values_left_ == 0) return Status::permanent("more rows requested than the row group has");
    if (pos_ >= chunk_end_) {
      return Status::permanent("column chunk ends with " + std::to_string(values_left_) +
                               " values missing");
    }
    page_offset_ = pos_;
    const uint64_t avail = chunk_end_ - pos_;
    size_t want = static_cast<size_t>(std::min<uint64_t>(avail, kHeaderWindow));
    PageHeader h;
    ThriftDecodeResult r;
    for (;;) {
      window_.resize(want);
      STRATA_TRY(source_->read_at(pos_, want, window_.data()));
      Status s = decode_thrift(window_.data(), want, kMaxHeaderBytes, h, r);
      if (s.is_ok()) break;
      if (r.truncated && want < avail && want < kMaxHeaderBytes) {
        want =
            static_cast<size_t>(std::min<uint64_t>({avail, uint64_t{want} * 4, kMaxHeaderBytes}));
        continue;
      }
      return page_error("corrupt page header: " + s.message());
    }
    const size_t header_len = r.consumed;
    if (h.compressed_page_size < 0 || h.uncompressed_page_size < 0) {
      return page_error("negative page size");
    }
    const auto body_len = static_cast<size_t>(h.compressed_page_size);
    const auto raw_len = static_cast<size_t>(h.uncompressed_page_size);
    if (body_len > avail - header_len) {
      return page_error("page of " + std::to_string(body_len) +
                        " bytes runs past the column chunk");
    }
    if (raw_len > limits_.max_page_bytes || body_len > limits_.max_page_bytes + (1u << 20)) {
      return page_error("page of " + std::to_string(std::max(raw_len, body_len)) +
                        " bytes exceeds the reader's limit of " +
                        std::to_string(limits_.max_page_bytes));
    }
    if (header_len + body_len > want) {
      const size_t have = want;
      window_.resize(header_len + body_len);
      STRATA_TRY(
          source_->read_at(pos_ + have, header_len + body_len - have, window_.data() + have));
    }
    const uint8_t* body = window_.data() + header_len;
    pos_ += header_len + body_len;

    switch (h.type) {
      case PageType::kIndexPage:
        continue;
      case PageType::kDictionaryPage: {
        if (!h.dictionary_page_header) return page_error("dictionary page without its header");
        if (have_dict_ || data_seen_) return page_error("dictionary page is not the first page");
        const DictionaryPageHeader& d = *h.dictionary_page_header;
        if (d.encoding != Encoding::kPlain && d.encoding != Encoding::kPlainDictionary) {
          return page_error(std::string("dictionary encoding ") + encoding_name(d.encoding) +
                            " is not supported");
        }
        if (layout_.kind == ValueKind::kBool)
          return page_error("BOOLEAN columns have no dictionary");
        const size_t min_bytes = min_plain_bytes(layout_);
        if (d.num_values < 0 ||
            (min_bytes > 0 && static_cast<size_t>(d.num_values) > raw_len / min_bytes) ||
            (min_bytes == 0 && static_cast<size_t>(d.num_values) > (1u << 20))) {
          return page_error("dictionary claims " + std::to_string(d.num_values) + " values in " +
                            std::to_string(raw_len) + " bytes");
        }
        page_.resize(raw_len);
        Status s = codec_->decompress(body, body_len, page_.data(), raw_len);
        if (!s.is_ok()) return page_error(s.message());
        const uint8_t* p = page_.data();
        dict_.clear();
        STRATA_TRY(
            decode_plain(p, page_.data() + raw_len, static_cast<size_t>(d.num_values), dict_));
        have_dict_ = true;
        continue;
      }
      case PageType::kDataPage: {
        if (!h.data_page_header) return page_error("data page without its header");
        const DataPageHeader& d = *h.data_page_header;
        if (d.num_values < 0 || static_cast<uint64_t>(d.num_values) > values_left_) {
          return page_error("page claims " + std::to_string(d.num_values) + " values, " +
                            std::to_string(values_left_) + " remain in the column chunk");
        }
        page_.resize(raw_len);
        Status s = codec_->decompress(body, body_len, page_.data(), raw_len);
        if (!s.is_ok()) return page_error(s.message());
        const uint8_t* p = page_.data();
        const uint8_t* end = p + raw_len;
        if (layout_.optional) {
          if (d.definition_level_encoding != Encoding::kRle) {
            return page_error(std::string("definition level encoding ") +
                              encoding_name(d.definition_level_encoding) + " is not supported");
          }
          if (end - p < 4) return page_error("definition levels are missing");
          const uint32_t len = load_u32(p);
          if (len > static_cast<size_t>(end - p - 4)) {
            return page_error("definition levels length " + std::to_string(len) +
                              " runs past the page");
          }
          def_.reset(p + 4, len, 1);
          p += 4 + len;
        }
        STRATA_TRY(setup_values(d.encoding, p, end, static_cast<size_t>(d.num_values)));
        page_left_ = static_cast<uint64_t>(d.num_values);
        break;
      }
      case PageType::kDataPageV2: {
        if (!h.data_page_header_v2) return page_error("data page v2 without its header");
        const DataPageHeaderV2& d = *h.data_page_header_v2;
        if (d.num_values < 0 || static_cast<uint64_t>(d.num_values) > values_left_) {
          return page_error("page claims " + std::to_string(d.num_values) + " values, " +
                            std::to_string(values_left_) + " remain in the column chunk");
        }
        if (d.definition_levels_byte_length < 0 || d.repetition_levels_byte_length < 0) {
          return page_error("negative level lengths");
        }
        const auto levels_len = static_cast<size_t>(d.definition_levels_byte_length) +
                                static_cast<size_t>(d.repetition_levels_byte_length);
        if (levels_len > body_len || levels_len > raw_len) {
          return page_error("level lengths exceed the page");
        }
        page_.resize(raw_len);
        if (levels_len > 0) std::memcpy(page_.data(), body, levels_len);
        const bool compressed = d.is_compressed && codec_->codec() != Codec::kUncompressed;
        if (compressed) {
          Status s = codec_->decompress(body + levels_len, body_len - levels_len,
                                        page_.data() + levels_len, raw_len - levels_len);
          if (!s.is_ok()) return page_error(s.message());
        } else {
          if (body_len != raw_len) return page_error("uncompressed page sizes disagree");
          if (raw_len > levels_len) {
            std::memcpy(page_.data() + levels_len, body + levels_len, raw_len - levels_len);
          }
        }
        const uint8_t* p = page_.data() + d.repetition_levels_byte_length;
        if (layout_.optional) {
          def_.reset(p, static_cast<size_t>(d.definition_levels_byte_length), 1);
        }
        p = page_.data() + levels_len;
        STRATA_TRY(
            setup_values(d.encoding, p, page_.data() + raw_len, static_cast<size_t>(d.num_values)));
        page_left_ = static_cast<uint64_t>(d.num_values);
        break;
      }
      default:
        return page_error("unknown page type " + std::to_string(static_cast<int>(h.type)));
    }
    data_seen_ = true;
    values_left_ -= page_left_;
    if (page_left_ > 0) return Status::ok();
  }
}

Status ColumnChunkReader::setup_values(Encoding encoding, const uint8_t* p, const uint8_t* end,
                                       size_t page_values) {
  switch (encoding) {
    case Encoding::kDeltaBinaryPacked: {
      // Decoded whole into PLAIN form, which decode_plain then reads like any PLAIN page.
      if (layout_.physical != PhysicalType::kInt32 && layout_.physical != PhysicalType::kInt64) {
        return page_error("DELTA_BINARY_PACKED values in a column that is not INT32 or INT64");
      }
      delta_plain_.clear();
      std::string error;
      if (!delta_binary_unpack(p, end, layout_.physical == PhysicalType::kInt32 ? 4 : 8,
                               page_values, delta_plain_, error)) {
        return page_error(error);
      }
      mode_ = ValueMode::kPlain;
      plain_p_ = delta_plain_.data();
      plain_end_ = delta_plain_.data() + delta_plain_.size();
      return Status::ok();
    }
    case Encoding::kPlain:
      mode_ = ValueMode::kPlain;
      plain_p_ = p;
      plain_end_ = end;
      bool_bit_ = 0;
      return Status::ok();
    case Encoding::kPlainDictionary:
    case Encoding::kRleDictionary: {
      if (!have_dict_) return page_error("dictionary-encoded page but the chunk has no dictionary");
      mode_ = ValueMode::kDictionary;
      if (p == end) {  // no non-null values
        values_rle_.reset(p, 0, 0);
        return Status::ok();
      }
      const int bw = *p;
      if (bw > 32) return page_error("dictionary index bit width " + std::to_string(bw));
      values_rle_.reset(p + 1, static_cast<size_t>(end - p - 1), bw);
      return Status::ok();
    }
    case Encoding::kRle: {
      if (layout_.kind != ValueKind::kBool) {
        return page_error("RLE values are only supported for BOOLEAN");
      }
      if (end - p < 4) return page_error("RLE boolean values are missing their length");
      const uint32_t len = load_u32(p);
      if (len > static_cast<size_t>(end - p - 4)) return page_error("RLE boolean length overflows");
      mode_ = ValueMode::kRleBool;
      values_rle_.reset(p + 4, len, 1);
      return Status::ok();
    }
    default:
      return page_error(std::string("encoding ") + encoding_name(encoding) +
                        " is not supported (Strata reads PLAIN, DELTA_BINARY_PACKED and "
                        "dictionary encodings)");
  }
}

Status ColumnChunkReader::append_decimal_bytes(const uint8_t* p, size_t len, Values& out) {
  if (len > 16) return page_error("decimal of " + std::to_string(len) + " bytes (at most 16)");
  int128 v = 0;
  if (len > 0) {
    v = static_cast<int8_t>(p[0]);  // sign-extends
    for (size_t i = 1; i < len; ++i) {
      v = static_cast<int128>(static_cast<unsigned __int128>(v) << 8) | p[i];
    }
  }
  append_decimal(out.chars, v, layout_.scale);
  out.offsets.push_back(out.chars.size());
  return Status::ok();
}

Status ColumnChunkReader::decode_plain(const uint8_t*& p, const uint8_t* end, size_t m,
                                       Values& out) {
  const auto left = static_cast<size_t>(end - p);
  const auto need = [&](size_t bytes) -> Status {
    if (bytes > left) {
      return page_error("PLAIN values need " + std::to_string(bytes) + " bytes, the page has " +
                        std::to_string(left));
    }
    return Status::ok();
  };
  switch (layout_.kind) {
    case ValueKind::kBool: {
      // bool_bit_ counts bits from plain_p_, which does not advance for booleans.
      const uint64_t total_bits = static_cast<uint64_t>(end - plain_p_) * 8;
      if (bool_bit_ + m > total_bits) return page_error("BOOLEAN values end early");
      for (size_t i = 0; i < m; ++i, ++bool_bit_) {
        out.ints.push_back((plain_p_[bool_bit_ >> 3] >> (bool_bit_ & 7)) & 1);
      }
      return Status::ok();
    }
    case ValueKind::kInt32:
    case ValueKind::kUInt32:
    case ValueKind::kDecimalInt32: {
      STRATA_TRY(need(m * 4));
      for (size_t i = 0; i < m; ++i, p += 4) {
        const uint32_t u = load_u32(p);
        if (layout_.kind == ValueKind::kUInt32) {
          out.ints.push_back(static_cast<int64_t>(u));
        } else if (layout_.kind == ValueKind::kInt32) {
          out.ints.push_back(static_cast<int32_t>(u));
        } else {
          append_decimal(out.chars, static_cast<int32_t>(u), layout_.scale);
          out.offsets.push_back(out.chars.size());
        }
      }
      return Status::ok();
    }
    case ValueKind::kInt64:
    case ValueKind::kTimestampMillis:
    case ValueKind::kTimestampNanos:
    case ValueKind::kDecimalInt64: {
      STRATA_TRY(need(m * 8));
      for (size_t i = 0; i < m; ++i, p += 8) {
        int64_t v;
        std::memcpy(&v, p, 8);
        switch (layout_.kind) {
          case ValueKind::kTimestampMillis: {
            int64_t micros;
            if (__builtin_mul_overflow(v, int64_t{1000}, &micros)) {
              return page_error("millisecond timestamp " + std::to_string(v) + " overflows");
            }
            out.ints.push_back(micros);
            break;
          }
          case ValueKind::kTimestampNanos:
            out.ints.push_back(v / 1000 - ((v % 1000 != 0) && (v < 0)));
            break;
          case ValueKind::kDecimalInt64:
            append_decimal(out.chars, v, layout_.scale);
            out.offsets.push_back(out.chars.size());
            break;
          default:
            out.ints.push_back(v);
            break;
        }
      }
      return Status::ok();
    }
    case ValueKind::kFloat: {
      STRATA_TRY(need(m * 4));
      for (size_t i = 0; i < m; ++i, p += 4) {
        float f;
        std::memcpy(&f, p, 4);
        out.doubles.push_back(f);
      }
      return Status::ok();
    }
    case ValueKind::kDouble: {
      STRATA_TRY(need(m * 8));
      const size_t old = out.doubles.size();
      out.doubles.resize(old + m);
      if (m > 0) std::memcpy(out.doubles.data() + old, p, m * 8);
      p += m * 8;
      return Status::ok();
    }
    case ValueKind::kBytes:
    case ValueKind::kDecimalBytes: {
      for (size_t i = 0; i < m; ++i) {
        if (end - p < 4) return page_error("BYTE_ARRAY value " + std::to_string(i) + " ends early");
        const uint32_t len = load_u32(p);
        p += 4;
        if (len > static_cast<size_t>(end - p)) {
          return page_error("BYTE_ARRAY length " + std::to_string(len) + " runs past the page");
        }
        if (layout_.kind == ValueKind::kDecimalBytes) {
          STRATA_TRY(append_decimal_bytes(p, len, out));
        } else {
          out.chars.append(reinterpret_cast<const char*>(p), len);
          out.offsets.push_back(out.chars.size());
        }
        p += len;
      }
      return Status::ok();
    }
    case ValueKind::kFixedBytes:
    case ValueKind::kDecimalFixed: {
      const auto w = static_cast<size_t>(layout_.type_length);
      STRATA_TRY(need(m * w));
      for (size_t i = 0; i < m; ++i, p += w) {
        if (layout_.kind == ValueKind::kDecimalFixed) {
          STRATA_TRY(append_decimal_bytes(p, w, out));
        } else {
          out.chars.append(reinterpret_cast<const char*>(p), w);
          out.offsets.push_back(out.chars.size());
        }
      }
      return Status::ok();
    }
  }
  return page_error("internal error: unexpected value kind");
}

Status ColumnChunkReader::decode_values(size_t m) {
  scratch_.clear();
  switch (mode_) {
    case ValueMode::kPlain:
      return decode_plain(plain_p_, plain_end_, m, scratch_);
    case ValueMode::kRleBool: {
      if (values_rle_.get(indices_.data(), m) != m)
        return page_error("RLE boolean values end early");
      for (size_t i = 0; i < m; ++i) scratch_.ints.push_back(indices_[i] & 1);
      return Status::ok();
    }
    case ValueMode::kDictionary: {
      if (values_rle_.get(indices_.data(), m) != m)
        return page_error("dictionary indices end early");
      const Storage storage = storage_of_kind(layout_.kind);
      const size_t dict_size = storage == Storage::kInt      ? dict_.ints.size()
                               : storage == Storage::kDouble ? dict_.doubles.size()
                                                             : dict_.offsets.size() - 1;
      for (size_t i = 0; i < m; ++i) {
        const uint32_t idx = indices_[i];
        if (idx >= dict_size) {
          return page_error("dictionary index " + std::to_string(idx) + " out of range (" +
                            std::to_string(dict_size) + " entries)");
        }
        switch (storage) {
          case Storage::kInt:
            scratch_.ints.push_back(dict_.ints[idx]);
            break;
          case Storage::kDouble:
            scratch_.doubles.push_back(dict_.doubles[idx]);
            break;
          case Storage::kText: {
            const std::string_view t = dict_.text(idx);
            scratch_.chars.append(t.data(), t.size());
            scratch_.offsets.push_back(scratch_.chars.size());
            break;
          }
        }
      }
      return Status::ok();
    }
  }
  return Status::ok();
}

Status ColumnChunkReader::read(size_t n, ColumnVector& out) {
  const Storage storage = storage_of_kind(layout_.kind);
  while (n > 0) {
    if (page_left_ == 0) STRATA_TRY(next_page());
    const size_t k = static_cast<size_t>(std::min<uint64_t>({n, page_left_, kDecodeChunk}));
    size_t m = k;
    if (layout_.optional) {
      if (def_.get(levels_.data(), k) != k) {
        return page_error("definition levels end before the page's values");
      }
      m = 0;
      for (size_t i = 0; i < k; ++i) m += levels_[i];
    }
    STRATA_TRY(decode_values(m));
    size_t j = 0;
    for (size_t i = 0; i < k; ++i) {
      if (layout_.optional && levels_[i] == 0) {
        out.append_null();
        continue;
      }
      switch (storage) {
        case Storage::kInt:
          out.append_int(scratch_.ints[j]);
          break;
        case Storage::kDouble:
          out.append_double(scratch_.doubles[j]);
          break;
        case Storage::kText:
          out.append_text(scratch_.text(j));
          break;
      }
      ++j;
    }
    page_left_ -= k;
    n -= k;
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------

struct Footer {
  FileMetaData meta;
  std::vector<ColumnLayout> layouts;  // per leaf
  Schema schema;                      // per leaf, as Strata sees it
  std::map<std::string, std::string> kv;
};

bool text_decimal(const Column& c) {
  return c.type == Type::kDecimal && (c.precision == 0 || c.precision > kMaxDecimalPrecision);
}

// Whether values stored as `actual` can be returned as `expected`; empty string if so.
std::string incompatibility(const Column& expected, const Column& actual) {
  const auto describe = [](const Column& c) {
    std::string s = type_name(c.type);
    if (c.type == Type::kDecimal) {
      s += "(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")";
    }
    return s + (c.nullable ? " NULL" : " NOT NULL");
  };
  bool same_type = expected.type == actual.type;
  if (same_type && expected.type == Type::kDecimal) {
    same_type = expected.precision == actual.precision && expected.scale == actual.scale;
  }
  if (!same_type && text_decimal(expected) && actual.type == Type::kString) same_type = true;
  if (expected.name != actual.name || !same_type || expected.nullable != actual.nullable) {
    return "'" + actual.name + "' " + describe(actual) + " in the file, expected '" +
           expected.name + "' " + describe(expected);
  }
  return {};
}

Result<Footer> read_footer(ByteSource* source, const ParquetReaderLimits& limits) {
  STRATA_ASSIGN_OR_RETURN(const uint64_t size, source->size());
  if (size < 12) {
    return corrupt(
        source, "file is " + std::to_string(size) + " bytes, too small to be Parquet (truncated?)");
  }
  uint8_t tail[8];
  STRATA_TRY(source->read_at(size - 8, 8, tail));
  if (std::memcmp(tail + 4, "PARE", 4) == 0) {
    return corrupt(source, "encrypted Parquet files are not supported");
  }
  if (std::memcmp(tail + 4, "PAR1", 4) != 0) {
    return corrupt(source, "no PAR1 magic at the end (not Parquet, or truncated)");
  }
  uint8_t head[4];
  STRATA_TRY(source->read_at(0, 4, head));
  if (std::memcmp(head, "PAR1", 4) != 0) {
    return corrupt(source, "no PAR1 magic at the start (not Parquet)");
  }
  const uint32_t footer_len = load_u32(tail);
  if (footer_len > size - 12) {
    return corrupt(source, "footer length " + std::to_string(footer_len) + " exceeds the file (" +
                               std::to_string(size) + " bytes; truncated?)");
  }
  if (footer_len > limits.max_footer_bytes) {
    return corrupt(source,
                   "footer of " + std::to_string(footer_len) + " bytes exceeds the reader's limit");
  }
  const uint64_t data_end = size - 8 - footer_len;
  std::vector<uint8_t> buf(footer_len);
  STRATA_TRY(source->read_at(data_end, footer_len, buf.data()));

  Footer f;
  ThriftDecodeResult r;
  Status s = decode_thrift(buf.data(), buf.size(), limits.max_metadata_memory, f.meta, r);
  if (!s.is_ok()) return corrupt(source, "corrupt footer: " + s.message());
  const FileMetaData& m = f.meta;
  if (m.encrypted) return corrupt(source, "encrypted Parquet files are not supported");

  // Schema: a root with flat leaves.
  if (m.schema.size() < 2) return corrupt(source, "the schema has no columns");
  const SchemaElement& root = m.schema[0];
  const size_t leaves = m.schema.size() - 1;
  if (root.type || !root.num_children || *root.num_children < 0 ||
      static_cast<size_t>(*root.num_children) != leaves) {
    return corrupt(source, "only flat schemas are supported (root has " +
                               std::to_string(root.num_children.value_or(-1)) + " children, " +
                               std::to_string(leaves) + " elements follow)");
  }
  std::set<std::string_view> names;
  for (size_t i = 1; i < m.schema.size(); ++i) {
    const SchemaElement& e = m.schema[i];
    if (e.num_children && *e.num_children > 0) {
      return corrupt(source, "nested column '" + e.name + "' is not supported");
    }
    if (!names.insert(e.name).second) {
      return corrupt(source, "column name '" + e.name + "' appears twice");
    }
    Column c;
    Result<ColumnLayout> l = layout_for_reading(e, c);
    if (!l.is_ok()) return corrupt(source, l.status().message());
    f.layouts.push_back(*l);
    f.schema.add(std::move(c));
  }
  for (const KeyValue& kv : m.key_value_metadata) f.kv[kv.key] = kv.value.value_or("");

  // The schema Strata wrote, if it did: restores decimal-as-text and source types.
  if (auto it = f.kv.find(kStrataSchemaKey); it != f.kv.end()) {
    Result<Schema> strata = decode_strata_schema(it->second);
    if (!strata.is_ok()) return corrupt(source, strata.status().message());
    if (strata->size() != leaves) {
      return corrupt(source, "strata.schema lists " + std::to_string(strata->size()) +
                                 " columns, the Parquet schema " + std::to_string(leaves));
    }
    for (size_t i = 0; i < leaves; ++i) {
      std::string why = incompatibility((*strata)[i], f.schema[i]);
      if (!why.empty())
        return corrupt(source, "strata.schema disagrees with the Parquet schema: " + why);
    }
    f.schema = std::move(*strata);
  }

  // Row groups: every chunk inside the data area, typed as its leaf, one value per row.
  uint64_t total_rows = 0;
  for (size_t g = 0; g < m.row_groups.size(); ++g) {
    const RowGroup& rg = m.row_groups[g];
    const std::string where = "row group " + std::to_string(g) + ": ";
    if (rg.num_rows < 0) return corrupt(source, where + "negative row count");
    if (rg.columns.size() != leaves) {
      return corrupt(source, where + std::to_string(rg.columns.size()) + " column chunks for " +
                                 std::to_string(leaves) + " columns");
    }
    total_rows += static_cast<uint64_t>(rg.num_rows);
    for (size_t c = 0; c < leaves; ++c) {
      const ColumnChunk& chunk = rg.columns[c];
      const std::string& name = m.schema[c + 1].name;
      const std::string cw = where + "column '" + name + "': ";
      if (chunk.file_path) return corrupt(source, cw + "column data in another file");
      if (!chunk.meta_data) return corrupt(source, cw + "column metadata is missing");
      const ColumnMetaData& cm = *chunk.meta_data;
      if (cm.type != f.layouts[c].physical) {
        return corrupt(source, cw + "chunk type " + physical_type_name(cm.type) +
                                   " differs from the schema's " +
                                   physical_type_name(f.layouts[c].physical));
      }
      if (cm.path_in_schema.size() != 1 || cm.path_in_schema[0] != name) {
        return corrupt(source, cw + "path_in_schema does not name the column");
      }
      if (cm.num_values != rg.num_rows) {
        return corrupt(source, cw + std::to_string(cm.num_values) + " values for " +
                                   std::to_string(rg.num_rows) + " rows");
      }
      const int64_t start = cm.dictionary_page_offset && *cm.dictionary_page_offset > 0 &&
                                    *cm.dictionary_page_offset < cm.data_page_offset
                                ? *cm.dictionary_page_offset
                                : cm.data_page_offset;
      if (start < 4 || cm.total_compressed_size < 0 || static_cast<uint64_t>(start) > data_end ||
          static_cast<uint64_t>(cm.total_compressed_size) >
              data_end - static_cast<uint64_t>(start)) {
        return corrupt(source, cw + "column chunk at " + std::to_string(start) + " (+" +
                                   std::to_string(cm.total_compressed_size) +
                                   " bytes) lies outside the data (" + std::to_string(data_end) +
                                   " bytes; truncated?)");
      }
      if (cm.num_values > 0 && cm.total_compressed_size == 0) {
        return corrupt(source, cw + "column chunk with values but no bytes");
      }
      Result<std::unique_ptr<PageCodec>> codec = PageCodec::create(cm.codec, 0);
      if (!codec.is_ok()) return corrupt(source, cw + codec.status().message());
    }
  }
  if (m.num_rows < 0 || static_cast<uint64_t>(m.num_rows) != total_rows) {
    return corrupt(source, "footer says " + std::to_string(m.num_rows) +
                               " rows, its row groups hold " + std::to_string(total_rows));
  }
  return f;
}

class ParquetReader final : public FormatReader {
 public:
  ParquetReader(ByteSource* source, const ParquetReaderLimits& limits)
      : source_(source), limits_(limits) {}

  Status init(const ReadOptions& options);
  std::shared_ptr<const Schema> schema_ptr() const override { return schema_; }
  Result<bool> next(Batch& batch, size_t max_rows) override;
  uint64_t groups_skipped() const override { return groups_skipped_; }

 private:
  Status start_row_group();
  std::vector<ColumnBounds> group_bounds(const RowGroup& rg) const;

  ByteSource* source_;
  ParquetReaderLimits limits_;
  Footer footer_;
  std::shared_ptr<const Schema> schema_;
  std::vector<size_t> leaf_;  // file leaf index of each output column
  std::vector<ColumnChunkReader> readers_;
  std::function<bool(const std::vector<ColumnBounds>&)> keep_group_;
  uint64_t groups_skipped_ = 0;
  size_t next_group_ = 0;
  uint64_t group_left_ = 0;
  bool in_group_ = false;
  Status failed_;
};

Status ParquetReader::init(const ReadOptions& options) {
  STRATA_ASSIGN_OR_RETURN(footer_, read_footer(source_, limits_));
  const Schema* basis = &footer_.schema;
  if (options.schema) {
    const Schema& want = *options.schema;
    if (want.size() != footer_.schema.size()) {
      return corrupt(source_, "the file has " + std::to_string(footer_.schema.size()) +
                                  " columns, the expected schema " + std::to_string(want.size()));
    }
    for (size_t i = 0; i < want.size(); ++i) {
      std::string why = incompatibility(want[i], footer_.schema[i]);
      if (!why.empty()) {
        return corrupt(source_, "schema mismatch at column " + std::to_string(i) + ": " + why);
      }
    }
    basis = options.schema.get();
  }
  Schema out;
  if (options.columns.empty()) {
    for (size_t i = 0; i < basis->size(); ++i) {
      out.add((*basis)[i]);
      leaf_.push_back(i);
    }
  } else {
    for (const std::string& name : options.columns) {
      const int i = basis->index_of(name);
      if (i < 0) {
        std::string have;
        for (const Column& c : basis->columns()) have += (have.empty() ? "" : ", ") + c.name;
        return corrupt(source_, "no column '" + name + "' (columns: " + have + ")");
      }
      out.add((*basis)[static_cast<size_t>(i)]);
      leaf_.push_back(static_cast<size_t>(i));
    }
  }
  schema_ = std::make_shared<const Schema>(std::move(out));
  keep_group_ = options.keep_group;
  readers_.reserve(leaf_.size());
  for (size_t i = 0; i < leaf_.size(); ++i) readers_.emplace_back(source_, limits_);
  return Status::ok();
}

// One statistic (min_value or max_value, PLAIN encoded) as a Value of the column's Strata type;
// null when absent or not decoded.
Value bound_value(const std::optional<std::string>& raw, const ColumnLayout& layout,
                  const Column& column) {
  if (!raw) return Value::null();
  const std::string& b = *raw;
  auto fixed = [&](auto zero) -> std::optional<decltype(zero)> {
    if (b.size() != sizeof(zero)) return std::nullopt;
    std::memcpy(&zero, b.data(), sizeof(zero));
    return zero;
  };
  switch (layout.kind) {
    case ValueKind::kInt32:
      if (auto v = fixed(int32_t{0})) return Value::of_int(*v);
      break;
    case ValueKind::kInt64:
      if (auto v = fixed(int64_t{0})) return Value::of_int(*v);
      break;
    case ValueKind::kTimestampMillis:
      if (auto v = fixed(int64_t{0}); v && *v > INT64_MIN / 1000 && *v < INT64_MAX / 1000) {
        return Value::of_int(*v * 1000);
      }
      break;
    case ValueKind::kTimestampNanos:
      // Floor division, as the reader does for values.
      if (auto v = fixed(int64_t{0})) return Value::of_int(*v / 1000 - (*v % 1000 < 0 ? 1 : 0));
      break;
    case ValueKind::kDouble:
      if (auto v = fixed(0.0); v && *v == *v) return Value::of_double(*v);
      break;
    case ValueKind::kFloat:
      if (auto v = fixed(0.0f); v && *v == *v) return Value::of_double(*v);
      break;
    case ValueKind::kBytes:
      if (column.type == Type::kString || column.type == Type::kJson) return Value::of_text(b);
      break;
    default:
      break;
  }
  return Value::null();
}

std::vector<ColumnBounds> ParquetReader::group_bounds(const RowGroup& rg) const {
  std::vector<ColumnBounds> out(footer_.layouts.size());
  for (size_t c = 0; c < out.size(); ++c) {
    const auto& stats = rg.columns[c].meta_data->statistics;
    if (!stats) continue;
    out[c].min = bound_value(stats->min_value, footer_.layouts[c], footer_.schema[c]);
    out[c].max = bound_value(stats->max_value, footer_.layouts[c], footer_.schema[c]);
  }
  return out;
}

Status ParquetReader::start_row_group() {
  size_t g = next_group_++;
  while (keep_group_ && !keep_group_(group_bounds(footer_.meta.row_groups[g]))) {
    ++groups_skipped_;
    if (next_group_ >= footer_.meta.row_groups.size()) {
      group_left_ = 0;
      return Status::ok();
    }
    g = next_group_++;
  }
  const RowGroup& rg = footer_.meta.row_groups[g];
  for (size_t c = 0; c < readers_.size(); ++c) {
    const size_t leaf = leaf_[c];
    Status s = readers_[c].start(*rg.columns[leaf].meta_data, footer_.layouts[leaf],
                                 static_cast<uint64_t>(rg.num_rows));
    if (!s.is_ok()) {
      return corrupt(source_, "row group " + std::to_string(g) + ", column '" +
                                  footer_.meta.schema[leaf + 1].name + "': " + s.message());
    }
  }
  group_left_ = static_cast<uint64_t>(rg.num_rows);
  in_group_ = true;
  return Status::ok();
}

Result<bool> ParquetReader::next(Batch& batch, size_t max_rows) {
  if (!failed_.is_ok()) return failed_;
  batch.clear();
  if (batch.num_columns() != schema_->size()) {
    return Status::permanent(file_prefix(source_) +
                             "next() needs a Batch built with the reader's schema_ptr()");
  }
  for (size_t c = 0; c < schema_->size(); ++c) {
    if (batch.column(c).type() != (*schema_)[c].type) {
      return Status::permanent(file_prefix(source_) +
                               "next() needs a Batch built with the reader's schema_ptr()");
    }
  }
  max_rows = std::max<size_t>(max_rows, 1);
  size_t rows = 0;
  while (rows < max_rows) {
    if (group_left_ == 0) {
      if (next_group_ >= footer_.meta.row_groups.size()) break;
      Status s = start_row_group();
      if (!s.is_ok()) return failed_ = s;
      continue;
    }
    const size_t k = static_cast<size_t>(std::min<uint64_t>(max_rows - rows, group_left_));
    for (size_t c = 0; c < readers_.size(); ++c) {
      Status s = readers_[c].read(k, batch.column(c));
      if (!s.is_ok()) {
        const Status& src = s;
        const bool from_source = !src.is_permanent();
        const std::string where = "row group " + std::to_string(next_group_ - 1) + ", column '" +
                                  footer_.meta.schema[leaf_[c] + 1].name + "': ";
        failed_ = from_source ? s.with_context(file_prefix(source_) + where)
                              : corrupt(source_, where + s.message());
        return failed_;
      }
    }
    rows += k;
    group_left_ -= k;
  }
  return rows > 0;
}

}  // namespace
}  // namespace strata::parquet

namespace strata {

Result<std::unique_ptr<FormatReader>> open_parquet_reader(ByteSource* source,
                                                          const ReadOptions& options) {
  return open_parquet_reader(source, options, ParquetReaderLimits{});
}

Result<std::unique_ptr<FormatReader>> open_parquet_reader(ByteSource* source,
                                                          const ReadOptions& options,
                                                          const ParquetReaderLimits& limits) {
  if (!source) return Status::permanent("parquet: no source");
  auto reader = std::make_unique<parquet::ParquetReader>(source, limits);
  STRATA_TRY(reader->init(options));
  return std::unique_ptr<FormatReader>(std::move(reader));
}

Result<ParquetFileInfo> inspect_parquet_file(ByteSource* source) {
  if (!source) return Status::permanent("parquet: no source");
  STRATA_ASSIGN_OR_RETURN(parquet::Footer f, parquet::read_footer(source, ParquetReaderLimits{}));
  ParquetFileInfo info;
  info.schema = std::make_shared<const Schema>(std::move(f.schema));
  info.num_rows = static_cast<uint64_t>(f.meta.num_rows);
  info.num_row_groups = f.meta.row_groups.size();
  info.created_by = f.meta.created_by.value_or("");
  info.metadata = std::move(f.kv);
  return info;
}

}  // namespace strata

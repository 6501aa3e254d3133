// The shared parts of the NDJSON and CSV writers and readers (see text_io.h).
#include "formats/text_io.h"

#include <algorithm>
#include <cmath>

namespace strata::text_io {

namespace {

constexpr char kBase64Chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for base64 characters, 64 for '=', 255 for anything else.
struct Base64Table {
  unsigned char v[256];
  constexpr Base64Table() : v() {
    for (unsigned char& x : v) x = 255;
    for (int i = 0; i < 64; ++i)
      v[static_cast<unsigned char>(kBase64Chars[i])] = static_cast<unsigned char>(i);
    v[static_cast<unsigned char>('=')] = 64;
  }
};
constexpr Base64Table kBase64Values;

}  // namespace

void OutBuffer::grow(size_t n) {
  size_t cap = std::max({cap_ * 2, size_ + n, kFlushBytes + (64 << 10)});
  auto bigger = std::make_unique_for_overwrite<char[]>(cap);
  if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  cap_ = cap;
}

std::string_view non_finite_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return {};
}

char* put_base64(char* p, std::string_view bytes) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{s[i]} << 16) | (uint32_t{s[i + 1]} << 8) | s[i + 2];
    p[0] = kBase64Chars[v >> 18];
    p[1] = kBase64Chars[(v >> 12) & 63];
    p[2] = kBase64Chars[(v >> 6) & 63];
    p[3] = kBase64Chars[v & 63];
    p += 4;
  }
  if (i < n) {
    uint32_t v = uint32_t{s[i]} << 16;
    if (i + 1 < n) v |= uint32_t{s[i + 1]} << 8;
    p[0] = kBase64Chars[v >> 18];
    p[1] = kBase64Chars[(v >> 12) & 63];
    p[2] = i + 1 < n ? kBase64Chars[(v >> 6) & 63] : '=';
    p[3] = '=';
    p += 4;
  }
  return p;
}

bool decode_base64(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size(); i += 4) {
    unsigned a = kBase64Values.v[s[i]], b = kBase64Values.v[s[i + 1]],
             c = kBase64Values.v[s[i + 2]], d = kBase64Values.v[s[i + 3]];
    const bool last = i + 4 == text.size();
    if (a >= 64 || b >= 64 || c == 255 || d == 255) return false;
    if (c == 64 || d == 64) {
      // Padding: only in the last quantum, "xx==" or "xxx=".
      if (!last || (c == 64 && d != 64)) return false;
      out.push_back(static_cast<char>((a << 2) | (b >> 4)));
      if (c != 64) out.push_back(static_cast<char>(((b & 15) << 4) | (c >> 2)));
      return true;
    }
    out.push_back(static_cast<char>((a << 2) | (b >> 4)));
    out.push_back(static_cast<char>(((b & 15) << 4) | (c >> 2)));
    out.push_back(static_cast<char>(((c & 3) << 6) | d));
  }
  return true;
}

size_t utf8_sequence_length(const unsigned char* s, size_t avail) {
  const unsigned c = s[0];
  auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i < avail && s[i] >= lo && s[i] <= hi;
  };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    bool ok1 = c == 0xE0 ? cont(1, 0xA0, 0xBF) : c == 0xED ? cont(1, 0x80, 0x9F) : cont(1);
    return ok1 && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    bool ok1 = c == 0xF0 ? cont(1, 0x90, 0xBF) : c == 0xF4 ? cont(1, 0x80, 0x8F) : cont(1);
    return ok1 && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
constexpr uint64_t kPow10Int[] = {1,      10,      100,      1000,      10000,
                                  100000, 1000000, 10000000, 100000000, 1000000000};
constexpr int kFastFractionDigits = 9;

int decimal_digits(uint64_t v) {
  int n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// "00".."99".
struct TwoDigits {
  char v[200];
  constexpr TwoDigits() : v() {
    for (int i = 0; i < 100; ++i) {
      v[2 * i] = static_cast<char>('0' + i / 10);
      v[2 * i + 1] = static_cast<char>('0' + i % 10);
    }
  }
};
constexpr TwoDigits kTwoDigits;

inline char* put2(char* p, unsigned v) {
  std::memcpy(p, kTwoDigits.v + 2 * v, 2);
  return p + 2;
}

// `v` as exactly `width` digits, zero-padded (v < 10^width).
inline char* put_padded(char* p, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

}  // namespace

char* put_double(char* p, double v) {
  // The fast path: find the decimal m / 10^k (k <= 9) that parses back to |v|, and print it the
  // way std::to_chars would. Below 2^50 / 10^9 the spacing of doubles is far below 10^-9, so at
  // most one multiple of 10^-9 rounds to |v| and the product below finds it; dividing m by 10^k
  // (both exact) is correctly rounded, i.e. exactly what a parser does with "m/10^k". Stripping
  // trailing zeros gives the fewest digits. to_chars prints the shorter of fixed and scientific
  // notation (fixed on a tie), so fall back whenever scientific would be shorter.
  const double a = std::fabs(v);
  if (a >= 1e-3 && a < 1e6) {
    const double scaled = a * kPow10[kFastFractionDigits];
    const double rounded = std::nearbyint(scaled);
    if (rounded / kPow10[kFastFractionDigits] == a) {
      uint64_t m = static_cast<uint64_t>(rounded);
      int k = kFastFractionDigits;
      while (k > 0 && m % 10 == 0) {
        m /= 10;
        --k;
      }
      const uint64_t int_part = m / kPow10Int[k];
      const uint64_t frac = m % kPow10Int[k];
      // Significant digits and decimal exponent, for the length of the scientific form.
      int sig, exp10;
      if (int_part > 0) {
        exp10 = decimal_digits(int_part) - 1;
        uint64_t t = m;
        while (t % 10 == 0) t /= 10;  // only when k == 0 can m end in zeros
        sig = decimal_digits(t);
      } else {
        sig = decimal_digits(frac);
        exp10 = sig - k - 1;  // frac has k digits with leading zeros
      }
      const int fixed_len = (int_part > 0 ? decimal_digits(int_part) : 1) + (k > 0 ? k + 1 : 0);
      const int sci_len = sig + (sig > 1 ? 1 : 0) + 2 + (exp10 >= 100 || exp10 <= -100 ? 3 : 2);
      if (fixed_len <= sci_len) {
        if (std::signbit(v)) *p++ = '-';
        p = std::to_chars(p, p + 24, int_part).ptr;
        if (k > 0) {
          *p++ = '.';
          p = put_padded(p, frac, k);
        }
        return p;
      }
    }
  }
  return std::to_chars(p, p + 32, v).ptr;
}

bool TimestampText::set_day(int64_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  day_ = days;
  day_ok_ = y >= 0 && y <= 9999;
  if (day_ok_) {
    char* p = put2(ymd_, static_cast<unsigned>(y / 100));
    p = put2(p, static_cast<unsigned>(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    put2(p, d);
  }
  return day_ok_;
}

char* TimestampText::put_timestamp(char* p, int64_t micros) {
  constexpr int64_t kDay = 86400000000LL;
  int64_t days = micros / kDay;
  int64_t rem = micros % kDay;
  if (rem < 0) {
    rem += kDay;
    --days;
  }
  if (days == day_ ? !day_ok_ : !set_day(days)) {
    scratch_.clear();
    append_timestamp(scratch_, micros);
    std::memcpy(p, scratch_.data(), scratch_.size());
    return p + scratch_.size();
  }
  std::memcpy(p, ymd_, 10);
  p[10] = 'T';
  p += 11;
  const int64_t secs = rem / 1000000;
  const int64_t frac = rem % 1000000;
  p = put2(p, static_cast<unsigned>(secs / 3600));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(secs / 60 % 60));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(secs % 60));
  if (frac != 0) {
    *p++ = '.';
    p = put_padded(p, static_cast<uint64_t>(frac), 6);
  }
  *p++ = 'Z';
  return p;
}

char* TimestampText::put_date(char* p, int64_t days) {
  if (days == day_ ? !day_ok_ : !set_day(days)) {
    scratch_.clear();
    append_date(scratch_, days);
    std::memcpy(p, scratch_.data(), scratch_.size());
    return p + scratch_.size();
  }
  std::memcpy(p, ymd_, 10);
  return p + 10;
}

const char* append_parsed(ColumnVector& col, Type type, std::string_view text,
                          std::string& scratch) {
  const char* b = text.data();
  const char* e = b + text.size();
  switch (type) {
    case Type::kInt64: {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(b, e, v);
      if (text.empty() || ec != std::errc() || end != e) return "a 64-bit integer";
      col.append_int(v);
      return nullptr;
    }
    case Type::kDouble: {
      Result<double> v = parse_double(text);
      if (!v.is_ok() || text.empty()) return "a number, NaN, Infinity or -Infinity";
      col.append_double(*v);
      return nullptr;
    }
    case Type::kBool:
      if (text == "true") {
        col.append_bool(true);
      } else if (text == "false") {
        col.append_bool(false);
      } else {
        return "true or false";
      }
      return nullptr;
    case Type::kTimestamp: {
      Result<int64_t> v = parse_timestamp(text);
      if (!v.is_ok()) return "a timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)";
      col.append_int(*v);
      return nullptr;
    }
    case Type::kDate: {
      Result<int64_t> v = parse_date(text);
      if (!v.is_ok()) return "a date (YYYY-MM-DD)";
      col.append_int(*v);
      return nullptr;
    }
    case Type::kBytes:
      if (!decode_base64(text, scratch)) return "base64 bytes";
      col.append_text(scratch);
      return nullptr;
    case Type::kString:
    case Type::kDecimal:
    case Type::kJson:
      col.append_text(text);
      return nullptr;
  }
  return "a value of a known type";
}

std::string describe_text(const char* p, const char* end) {
  if (p >= end) return "end of line";
  std::string out = "'";
  size_t n = 0;
  for (; p < end && n < 24; ++p, ++n) {
    unsigned char c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == 0x7F) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (p < end) out += "...";
  return out + "'";
}

// ---- TextWriter ----

Status TextWriter::init(const FormatSpec& spec) {
  if (schema_->size() == 0) {
    return Status::permanent(spec.name + " writer: the schema has no columns");
  }
  dest_ = sink_;
  switch (spec.compression) {
    case Compression::kNone:
      break;
    case Compression::kZstd: {
      STRATA_ASSIGN_OR_RETURN(zstd_, ZstdCompressSink::open(sink_, spec.level));
      dest_ = zstd_.get();
      break;
    }
    default:
      return Status::permanent("format '" + spec.name + "' does not support compression '" +
                               compression_name(spec.compression) + "' (expected none or zstd)");
  }
  return Status::ok();
}

Status TextWriter::fail(Status s) {
  error_ = s;
  return s;
}

Status TextWriter::flush() {
  if (out_.size() == 0) return Status::ok();
  Status s = dest_->write(out_.data(), out_.size());
  out_.clear();
  return s;
}

Status TextWriter::write(const Batch& batch) {
  if (!error_.is_ok()) return error_;
  if (finished_) return Status::permanent("write() after finish()");
  const Schema& schema = *schema_;
  if (batch.num_columns() != schema.size()) {
    return Status::permanent("batch has " + std::to_string(batch.num_columns()) +
                             " columns, the writer's schema has " + std::to_string(schema.size()));
  }
  for (size_t c = 0; c < schema.size(); ++c) {
    if (batch.column(c).type() != schema[c].type) {
      return Status::permanent("batch column " + std::to_string(c) + " ('" + schema[c].name +
                               "') is " + type_name(batch.column(c).type()) +
                               ", the writer's schema says " + type_name(schema[c].type));
    }
  }
  const size_t n = batch.num_rows();
  size_t r = 0;
  while (r < n) {
    r = encode_rows(batch, r);
    if (out_.size() >= kFlushBytes) {
      Status s = flush();
      if (!s.is_ok()) return fail(s);
    }
  }
  rows_ += n;
  return Status::ok();
}

Status TextWriter::finish() {
  if (!error_.is_ok()) return error_;
  if (finished_) return Status::permanent("finish() called twice");
  Status s = flush();
  if (s.is_ok() && zstd_) s = zstd_->finish();
  if (!s.is_ok()) return fail(s);
  finished_ = true;
  return Status::ok();
}

// ---- InputWindow ----

Result<bool> InputWindow::fill() {
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() - end_ < kReadChunk) buf_.resize(end_ + kReadChunk);
  STRATA_ASSIGN_OR_RETURN(size_t got, in_->read(buf_.data() + end_, buf_.size() - end_));
  end_ += got;
  return got > 0;
}

// ---- TextReader ----

Status TextReader::init(const char* format, const FormatSpec& spec, ByteSource* source,
                        const ReadOptions& options) {
  source_name_ = source->name();
  if (!options.schema) {
    return Status::permanent(source_name_ + ": the " + format +
                             " reader needs the schema the file was written with "
                             "(ReadOptions.schema)");
  }
  if (options.schema->size() == 0) {
    return Status::permanent(source_name_ + ": the schema has no columns");
  }
  file_schema_ = options.schema;
  file_to_out_.assign(file_schema_->size(), -1);
  if (options.columns.empty()) {
    out_schema_ = file_schema_;
    for (size_t i = 0; i < file_to_out_.size(); ++i) file_to_out_[i] = static_cast<int>(i);
  } else {
    auto projected = std::make_shared<Schema>();
    for (const std::string& name : options.columns) {
      int i = file_schema_->index_of(name);
      if (i < 0) {
        std::string names;
        for (const Column& c : file_schema_->columns())
          names += (names.empty() ? "" : ", ") + c.name;
        return Status::permanent(source_name_ + ": cannot read column '" + name +
                                 "': the schema has no such column (it has " + names + ")");
      }
      if (file_to_out_[static_cast<size_t>(i)] >= 0) {
        return Status::permanent(source_name_ + ": column '" + name + "' is asked for twice");
      }
      file_to_out_[static_cast<size_t>(i)] = static_cast<int>(projected->size());
      projected->add((*file_schema_)[static_cast<size_t>(i)]);
    }
    out_schema_ = std::move(projected);
  }
  STRATA_ASSIGN_OR_RETURN(stream_, open_byte_stream(source, spec.compression));
  window_ = std::make_unique<InputWindow>(stream_.get());
  return Status::ok();
}

Status TextReader::error_at(uint64_t line, const std::string& what) const {
  return Status::permanent(source_name_ + ": line " + std::to_string(line) + ": " + what);
}

Result<bool> TextReader::next(Batch& batch, size_t max_rows) {
  if (!error_.is_ok()) return error_;
  if (max_rows == 0) return Status::permanent("next(): max_rows must be at least 1");
  const Schema& schema = *out_schema_;
  bool matches = batch.num_columns() == schema.size();
  for (size_t c = 0; matches && c < schema.size(); ++c) {
    matches = batch.column(c).type() == schema[c].type;
  }
  if (!matches) {
    return Status::permanent(source_name_ +
                             ": next() was given a batch not built from the reader's schema_ptr()");
  }
  batch.clear();
  if (at_end_) return false;
  Result<size_t> n = read_rows(batch, max_rows);
  if (!n.is_ok()) {
    error_ = n.status();
    batch.clear();
    return error_;
  }
  if (*n == 0) {
    at_end_ = true;
    return false;
  }
  return true;
}

}  // namespace strata::text_io

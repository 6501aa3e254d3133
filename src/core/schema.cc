#include "core/schema.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace strata {

const char* type_name(Type type) {
  switch (type) {
    case Type::kInt64:
      return "int64";
    case Type::kDouble:
      return "double";
    case Type::kBool:
      return "bool";
    case Type::kString:
      return "string";
    case Type::kBytes:
      return "bytes";
    case Type::kTimestamp:
      return "timestamp";
    case Type::kDate:
      return "date";
    case Type::kDecimal:
      return "decimal";
    case Type::kJson:
      return "json";
  }
  return "unknown";
}

Result<Type> parse_type_name(std::string_view name) {
  static constexpr Type kAll[] = {Type::kInt64,  Type::kDouble,  Type::kBool,
                                  Type::kString, Type::kBytes,   Type::kTimestamp,
                                  Type::kDate,   Type::kDecimal, Type::kJson};
  for (Type t : kAll) {
    if (name == type_name(t)) return t;
  }
  return Status::permanent("unknown type '" + std::string(name) +
                           "' (expected int64, double, bool, string, bytes, timestamp, date, "
                           "decimal or json)");
}

Storage storage_of(Type type) {
  switch (type) {
    case Type::kInt64:
    case Type::kBool:
    case Type::kTimestamp:
    case Type::kDate:
      return Storage::kInt;
    case Type::kDouble:
      return Storage::kDouble;
    default:
      return Storage::kText;
  }
}

int Schema::index_of(std::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Value::compare(const Value& o) const {
  if (v.index() != o.v.index()) {
    if (is_int() && o.is_double()) {
      double a = static_cast<double>(as_int());
      return a < o.as_double() ? -1 : (a > o.as_double() ? 1 : 0);
    }
    if (is_double() && o.is_int()) return -o.compare(*this);
    return v.index() < o.v.index() ? -1 : 1;
  }
  if (is_null()) return 0;
  if (is_int()) return as_int() < o.as_int() ? -1 : (as_int() > o.as_int() ? 1 : 0);
  if (is_double()) return as_double() < o.as_double() ? -1 : (as_double() > o.as_double() ? 1 : 0);
  int c = as_text().compare(o.as_text());
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string Value::to_string() const {
  if (is_null()) return "NULL";
  std::string out;
  if (is_int()) {
    append_int(out, as_int());
  } else if (is_double()) {
    append_double(out, as_double());
  } else {
    out.push_back('\'');
    for (char c : as_text()) {
      if (c == '\'') out.push_back('\'');
      out.push_back(c);
    }
    out.push_back('\'');
  }
  return out;
}

ColumnVector::ColumnVector(Type type) : type_(type), storage_(storage_of(type)) {}

Value ColumnVector::value_at(size_t i) const {
  if (is_null(i)) return Value::null();
  switch (storage_) {
    case Storage::kInt:
      return Value::of_int(ints_[i]);
    case Storage::kDouble:
      return Value::of_double(doubles_[i]);
    case Storage::kText:
      return Value::of_text(std::string(text_at(i)));
  }
  return Value::null();
}

void ColumnVector::append_null() {
  valid_.push_back(0);
  ++null_count_;
  switch (storage_) {
    case Storage::kInt:
      ints_.push_back(0);
      break;
    case Storage::kDouble:
      doubles_.push_back(0);
      break;
    case Storage::kText:
      offsets_.push_back(offsets_.back());
      break;
  }
}

void ColumnVector::append_value(const Value& v) {
  if (v.is_null()) return append_null();
  switch (storage_) {
    case Storage::kInt:
      return append_int(v.is_int() ? v.as_int() : static_cast<int64_t>(v.as_double()));
    case Storage::kDouble:
      return append_double(v.is_double() ? v.as_double() : static_cast<double>(v.as_int()));
    case Storage::kText:
      return append_text(v.as_text());
  }
}

void ColumnVector::clear() {
  valid_.clear();
  ints_.clear();
  doubles_.clear();
  offsets_.resize(1);
  chars_.clear();
  null_count_ = 0;
}

void ColumnVector::reserve(size_t rows) {
  valid_.reserve(rows);
  switch (storage_) {
    case Storage::kInt:
      ints_.reserve(rows);
      break;
    case Storage::kDouble:
      doubles_.reserve(rows);
      break;
    case Storage::kText:
      offsets_.reserve(rows + 1);
      break;
  }
}

size_t ColumnVector::data_bytes() const {
  switch (storage_) {
    case Storage::kInt:
    case Storage::kDouble:
      return (size() - null_count_) * 8;
    case Storage::kText:
      return chars_.size();
  }
  return 0;
}

Batch::Batch(std::shared_ptr<const Schema> schema) : schema_(std::move(schema)) {
  columns_.reserve(schema_->size());
  for (const Column& c : schema_->columns()) columns_.emplace_back(c.type);
}

void Batch::clear() {
  for (ColumnVector& c : columns_) c.clear();
}

void Batch::append_rows(const Batch& src, size_t begin, size_t end) {
  for (size_t c = 0; c < columns_.size(); ++c) {
    ColumnVector& dst = columns_[c];
    const ColumnVector& from = src.column(c);
    for (size_t r = begin; r < end; ++r) dst.append_from(from, r);
  }
}

size_t Batch::data_bytes() const {
  size_t n = 0;
  for (const ColumnVector& c : columns_) n += c.data_bytes();
  return n;
}

// ---- civil time (H. Hinnant's algorithms) ----

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
}

namespace {

void append_padded(std::string& out, int64_t v, int width) {
  char buf[24];
  if (v < 0) {
    out.push_back('-');
    v = -v;
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  for (int n = static_cast<int>(end - buf); n < width; ++n) out.push_back('0');
  out.append(buf, end);
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool parse_digits(std::string_view s, size_t pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Parses [-]YYYY-MM-DD at the start of `s`; returns chars consumed or 0.
size_t parse_ymd(std::string_view s, int64_t& days) {
  size_t p = 0;
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    p = 1;
  }
  size_t ystart = p;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
  if (p - ystart < 4 || p >= s.size() || s[p] != '-') return 0;
  int64_t y = 0, m = 0, d = 0;
  if (!parse_digits(s, ystart, p - ystart, y)) return 0;
  if (!parse_digits(s, p + 1, 2, m) || p + 3 >= s.size() || s[p + 3] != '-') return 0;
  if (!parse_digits(s, p + 4, 2, d)) return 0;
  if (m < 1 || m > 12 || d < 1 || d > 31) return 0;
  days = days_from_civil(neg ? -y : y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return p + 6;
}

}  // namespace

void append_date(std::string& out, int64_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  append_padded(out, y, 4);
  out.push_back('-');
  append_padded(out, m, 2);
  out.push_back('-');
  append_padded(out, d, 2);
}

std::string format_date(int64_t days) {
  std::string s;
  append_date(s, days);
  return s;
}

void append_timestamp(std::string& out, int64_t micros) {
  int64_t days = floor_div(micros, 86400000000LL);
  int64_t rem = micros - days * 86400000000LL;
  append_date(out, days);
  out.push_back('T');
  int64_t secs = rem / 1000000, frac = rem % 1000000;
  append_padded(out, secs / 3600, 2);
  out.push_back(':');
  append_padded(out, (secs / 60) % 60, 2);
  out.push_back(':');
  append_padded(out, secs % 60, 2);
  if (frac != 0) {
    out.push_back('.');
    append_padded(out, frac, 6);
  }
  out.push_back('Z');
}

std::string format_timestamp(int64_t micros) {
  std::string s;
  append_timestamp(s, micros);
  return s;
}

Result<int64_t> parse_date(std::string_view text) {
  int64_t days;
  size_t n = parse_ymd(text, days);
  if (n == 0 || n != text.size()) {
    return Status::permanent("invalid date '" + std::string(text) + "' (expected YYYY-MM-DD)");
  }
  return days;
}

Result<int64_t> parse_timestamp(std::string_view text) {
  auto bad = [&] {
    return Status::permanent("invalid timestamp '" + std::string(text) +
                             "' (expected YYYY-MM-DD[THH:MM:SS[.ffffff]][Z|+HH:MM])");
  };
  int64_t days;
  size_t p = parse_ymd(text, days);
  if (p == 0) return bad();
  int64_t micros = days * 86400000000LL;
  if (p == text.size()) return micros;
  if (text[p] != 'T' && text[p] != ' ') return bad();
  int64_t hh, mm, ss = 0;
  if (!parse_digits(text, p + 1, 2, hh) || p + 3 >= text.size() || text[p + 3] != ':' ||
      !parse_digits(text, p + 4, 2, mm)) {
    return bad();
  }
  p += 6;
  if (p < text.size() && text[p] == ':') {
    if (!parse_digits(text, p + 1, 2, ss)) return bad();
    p += 3;
  }
  int64_t frac = 0;
  if (p < text.size() && text[p] == '.') {
    ++p;
    int digits = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (digits < 6) {
        frac = frac * 10 + (text[p] - '0');
        ++digits;
      }
      ++p;
    }
    if (digits == 0) return bad();
    for (; digits < 6; ++digits) frac *= 10;
  }
  if (hh > 23 || mm > 59 || ss > 60) return bad();
  micros += ((hh * 60 + mm) * 60 + ss) * 1000000 + frac;
  if (p == text.size()) return micros;
  if (text[p] == 'Z' && p + 1 == text.size()) return micros;
  if (text[p] == '+' || text[p] == '-') {
    int64_t oh, om = 0;
    if (!parse_digits(text, p + 1, 2, oh)) return bad();
    size_t q = p + 3;
    if (q < text.size() && text[q] == ':') ++q;
    if (q < text.size()) {
      if (!parse_digits(text, q, 2, om) || q + 2 != text.size()) return bad();
    }
    int64_t off = (oh * 60 + om) * 60000000LL;
    return text[p] == '+' ? micros - off : micros + off;
  }
  return bad();
}

void append_double(std::string& out, double x) {
  if (std::isnan(x)) {
    out += "NaN";
    return;
  }
  if (std::isinf(x)) {
    out += x > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  (void)ec;
  out.append(buf, end);
}

Result<double> parse_double(std::string_view text) {
  if (text == "NaN" || text == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity" || text == "inf") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity" || text == "-inf") return -std::numeric_limits<double>::infinity();
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::permanent("invalid number '" + std::string(text) + "'");
  }
  return v;
}

void append_int(std::string& out, int64_t x) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  (void)ec;
  out.append(buf, end);
}

Result<int64_t> parse_int(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status::permanent("invalid integer '" + std::string(text) + "'");
  }
  return v;
}

double float_as_decimal(float f) {
  if (!std::isfinite(f)) return static_cast<double>(f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  // Direct-mapped, 4096 entries; a NaN's bits mark an empty slot (NaN never gets here).
  struct Cache {
    uint32_t keys[4096];
    double values[4096];
    Cache() { std::fill(std::begin(keys), std::end(keys), 0x7fc00000u); }
  };
  thread_local Cache cache;
  const uint32_t slot = (bits * 0x9E3779B1u) >> 20;
  if (cache.keys[slot] == bits) return cache.values[slot];
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  double d = static_cast<double>(f);
  std::from_chars(buf, r.ptr, d);
  cache.keys[slot] = bits;
  cache.values[slot] = d;
  return d;
}

}  // namespace strata

// PostgreSQL types <-> Strata types and binary COPY values (see pg_types.h).
#include "connectors/postgres/pg_types.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace strata::pg {

namespace {

inline uint16_t be16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}
inline uint32_t be32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t be64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

void put32(std::string& out, uint32_t v) {
  v = __builtin_bswap32(v);
  out.append(reinterpret_cast<const char*>(&v), 4);
}
void put64(std::string& out, uint64_t v) {
  v = __builtin_bswap64(v);
  out.append(reinterpret_cast<const char*>(&v), 8);
}

std::string bad_length(size_t n, const char* type) {
  return "a " + std::to_string(n) + "-byte value for " + type;
}

// Four decimal digits of a base-10000 digit, zero-padded.
inline void append4(std::string& out, unsigned d) {
  char buf[4] = {static_cast<char>('0' + d / 1000), static_cast<char>('0' + d / 100 % 10),
                 static_cast<char>('0' + d / 10 % 10), static_cast<char>('0' + d % 10)};
  out.append(buf, 4);
}

ColumnMapping scalar(Type type, Decode decode, std::string_view cast = "") {
  ColumnMapping m;
  m.supported = true;
  m.type = type;
  m.decode = decode;
  m.cast = cast;
  return m;
}

}  // namespace

ColumnMapping map_type(const CatalogType& t) {
  if (t.is_array) {
    CatalogType element;
    element.name = t.element;
    element.typtype = t.element_typtype;
    ColumnMapping inner = map_type(element);
    if (!inner.supported) return ColumnMapping{};
    return scalar(Type::kJson, Decode::kText, "json");
  }
  if (t.typtype == 'e') return scalar(Type::kString, Decode::kText, "text");
  if (t.typtype != 'b') return ColumnMapping{};
  const std::string& n = t.name;
  if (n == "int2") return scalar(Type::kInt64, Decode::kInt2);
  if (n == "int4") return scalar(Type::kInt64, Decode::kInt4);
  if (n == "int8") return scalar(Type::kInt64, Decode::kInt8);
  if (n == "oid") return scalar(Type::kInt64, Decode::kOid);
  if (n == "float4") return scalar(Type::kDouble, Decode::kFloat4);
  if (n == "float8") return scalar(Type::kDouble, Decode::kFloat8);
  if (n == "bool") return scalar(Type::kBool, Decode::kBool);
  if (n == "text" || n == "varchar" || n == "bpchar" || n == "name") {
    return scalar(Type::kString, Decode::kText);
  }
  if (n == "char" || n == "citext") return scalar(Type::kString, Decode::kText, "text");
  if (n == "bytea") return scalar(Type::kBytes, Decode::kBytes);
  if (n == "date") return scalar(Type::kDate, Decode::kDate);
  if (n == "timestamp" || n == "timestamptz") return scalar(Type::kTimestamp, Decode::kTimestamp);
  if (n == "time" || n == "timetz" || n == "interval" || n == "inet" || n == "cidr" ||
      n == "macaddr" || n == "macaddr8") {
    return scalar(Type::kString, Decode::kText, "text");
  }
  if (n == "json") return scalar(Type::kJson, Decode::kText);
  if (n == "jsonb") return scalar(Type::kJson, Decode::kJsonb);
  if (n == "uuid") return scalar(Type::kString, Decode::kUuid);
  if (n == "numeric") {
    ColumnMapping m = scalar(Type::kDecimal, Decode::kNumeric);
    if (t.typmod >= 4) {
      const int v = t.typmod - 4;
      const int precision = (v >> 16) & 0xffff;
      const int scale = ((v & 0x7ff) ^ 1024) - 1024;  // 11-bit signed since PostgreSQL 15
      if (precision >= 1 && precision <= 38 && scale >= 0 && scale <= precision) {
        m.precision = precision;
        m.scale = scale;
      }
    }
    return m;
  }
  return ColumnMapping{};
}

std::string numeric_text(const char* p, size_t n, std::string& out) {
  out.clear();
  if (n < 8) return bad_length(n, "numeric");
  const unsigned ndigits = be16(p);
  const int weight = static_cast<int16_t>(be16(p + 2));
  const unsigned sign = be16(p + 4);
  const int dscale = be16(p + 6);
  if (n != 8 + 2 * static_cast<size_t>(ndigits)) return bad_length(n, "numeric");
  if (sign == 0xC000) return "numeric NaN";
  if (sign == 0xD000) return "numeric Infinity";
  if (sign == 0xF000) return "numeric -Infinity";
  if (sign != 0 && sign != 0x4000) return "a numeric with an unknown sign";
  const char* digits = p + 8;
  auto digit = [&](int i) -> unsigned {
    if (i < 0 || i >= static_cast<int>(ndigits)) return 0;
    unsigned d = be16(digits + 2 * i);
    return d < 10000 ? d : 0;
  };
  if (sign == 0x4000) out += '-';
  if (weight < 0) {
    out += '0';
  } else {
    for (int i = 0; i <= weight; ++i) {
      unsigned d = digit(i);
      if (i == 0) {
        char buf[8];
        auto r = std::to_chars(buf, buf + sizeof buf, d);
        out.append(buf, r.ptr);
      } else {
        append4(out, d);
      }
    }
  }
  if (dscale > 0) {
    out += '.';
    const size_t end = out.size() + static_cast<size_t>(dscale);
    for (int i = weight + 1; out.size() < end; ++i) append4(out, digit(i));
    out.resize(end);
  }
  return "";
}

std::string decode_value(Decode d, const char* p, size_t n, ColumnVector& out,
                         std::string& scratch) {
  switch (d) {
    case Decode::kInt2:
      if (n != 2) return bad_length(n, "int2");
      out.append_int(static_cast<int16_t>(be16(p)));
      return "";
    case Decode::kInt4:
      if (n != 4) return bad_length(n, "int4");
      out.append_int(static_cast<int32_t>(be32(p)));
      return "";
    case Decode::kInt8:
      if (n != 8) return bad_length(n, "int8");
      out.append_int(static_cast<int64_t>(be64(p)));
      return "";
    case Decode::kOid:
      if (n != 4) return bad_length(n, "oid");
      out.append_int(static_cast<int64_t>(be32(p)));
      return "";
    case Decode::kFloat4: {
      if (n != 4) return bad_length(n, "float4");
      uint32_t bits = be32(p);
      float f;
      std::memcpy(&f, &bits, 4);
      out.append_double(float_as_decimal(f));  // 0.1::real reads as 0.1
      return "";
    }
    case Decode::kFloat8: {
      if (n != 8) return bad_length(n, "float8");
      uint64_t bits = be64(p);
      double v;
      std::memcpy(&v, &bits, 8);
      out.append_double(v);
      return "";
    }
    case Decode::kBool:
      if (n != 1) return bad_length(n, "bool");
      out.append_bool(*p != 0);
      return "";
    case Decode::kText:
    case Decode::kBytes:
      out.append_text(std::string_view(p, n));
      return "";
    case Decode::kJsonb:
      if (n < 1 || *p != 1) return "a jsonb value of unknown version";
      out.append_text(std::string_view(p + 1, n - 1));
      return "";
    case Decode::kDate: {
      if (n != 4) return bad_length(n, "date");
      int32_t v = static_cast<int32_t>(be32(p));
      if (v == std::numeric_limits<int32_t>::max()) return "date 'infinity'";
      if (v == std::numeric_limits<int32_t>::min()) return "date '-infinity'";
      out.append_int(static_cast<int64_t>(v) + kPgEpochDays);
      return "";
    }
    case Decode::kTimestamp: {
      if (n != 8) return bad_length(n, "timestamp");
      int64_t v = static_cast<int64_t>(be64(p));
      if (v == std::numeric_limits<int64_t>::max()) return "timestamp 'infinity'";
      if (v == std::numeric_limits<int64_t>::min()) return "timestamp '-infinity'";
      // PostgreSQL goes to year 294276; microseconds since 1970 in an int64 stop earlier.
      if (v > std::numeric_limits<int64_t>::max() - kPgEpochMicros) {
        return "a timestamp after 294247-01-10 04:00:54.775807 UTC";
      }
      out.append_int(v + kPgEpochMicros);
      return "";
    }
    case Decode::kNumeric: {
      std::string err = numeric_text(p, n, scratch);
      if (!err.empty()) return err;
      out.append_text(scratch);
      return "";
    }
    case Decode::kUuid: {
      if (n != 16) return bad_length(n, "uuid");
      static const char* hex = "0123456789abcdef";
      char buf[36];
      size_t o = 0;
      for (size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) buf[o++] = '-';
        unsigned char c = static_cast<unsigned char>(p[i]);
        buf[o++] = hex[c >> 4];
        buf[o++] = hex[c & 15];
      }
      out.append_text(std::string_view(buf, 36));
      return "";
    }
  }
  return "an unknown decoder";
}

const char* load_type(Type type) {
  switch (type) {
    case Type::kInt64:
      return "bigint";
    case Type::kDouble:
      return "double precision";
    case Type::kBool:
      return "boolean";
    case Type::kBytes:
      return "bytea";
    case Type::kTimestamp:
      return "timestamptz";
    case Type::kDate:
      return "date";
    case Type::kString:
    case Type::kDecimal:
    case Type::kJson:
      return "text";
  }
  return "text";
}

void append_copy_field(const ColumnVector& col, size_t i, std::string& out) {
  if (col.is_null(i)) {
    put32(out, 0xffffffffu);
    return;
  }
  switch (col.type()) {
    case Type::kInt64:
      put32(out, 8);
      put64(out, static_cast<uint64_t>(col.int_at(i)));
      return;
    case Type::kDouble: {
      double v = col.double_at(i);
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      put32(out, 8);
      put64(out, bits);
      return;
    }
    case Type::kBool:
      put32(out, 1);
      out += col.bool_at(i) ? '\1' : '\0';
      return;
    case Type::kTimestamp:
      put32(out, 8);
      put64(out, static_cast<uint64_t>(col.int_at(i) - kPgEpochMicros));
      return;
    case Type::kDate:
      put32(out, 4);
      put32(out, static_cast<uint32_t>(static_cast<int32_t>(col.int_at(i) - kPgEpochDays)));
      return;
    case Type::kString:
    case Type::kBytes:
    case Type::kDecimal:
    case Type::kJson: {
      std::string_view t = col.text_at(i);
      put32(out, static_cast<uint32_t>(t.size()));
      out.append(t.data(), t.size());
      return;
    }
  }
}

DirectCopy direct_copy(Type type, std::string_view table_type, bool table_is_array) {
  if (table_is_array) return DirectCopy::kNone;
  auto starts = [&](std::string_view p) { return table_type.substr(0, p.size()) == p; };
  switch (type) {
    case Type::kInt64:
      if (table_type == "bigint") return DirectCopy::kAsLoad;
      if (table_type == "integer") return DirectCopy::kInt4;
      if (table_type == "smallint") return DirectCopy::kInt2;
      break;
    case Type::kDouble:
      if (table_type == "double precision") return DirectCopy::kAsLoad;
      if (table_type == "real") return DirectCopy::kFloat4;
      break;
    case Type::kBool:
      if (table_type == "boolean") return DirectCopy::kAsLoad;
      break;
    case Type::kBytes:
      if (table_type == "bytea") return DirectCopy::kAsLoad;
      break;
    case Type::kTimestamp:
      // Sessions run in UTC, so both timestamp types take the same microseconds.
      if (starts("timestamp")) return DirectCopy::kAsLoad;
      break;
    case Type::kDate:
      if (table_type == "date") return DirectCopy::kAsLoad;
      break;
    case Type::kString:
      if (table_type == "text" || starts("character varying")) return DirectCopy::kAsLoad;
      break;
    case Type::kJson:
      if (table_type == "json" || table_type == "text") return DirectCopy::kAsLoad;
      if (table_type == "jsonb") return DirectCopy::kJsonb;
      break;
    case Type::kDecimal:
      if (table_type == "text") return DirectCopy::kAsLoad;
      if (starts("numeric")) return DirectCopy::kNumeric;
      break;
  }
  return DirectCopy::kNone;
}

namespace {

// Decimal text ("-12.340", "7", ".5") as binary numeric: base-10000 digits around the point.
std::string append_numeric(std::string_view t, std::string& out) {
  size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) negative = t[i++] == '-';
  const size_t int_start = i;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  std::string_view int_part = t.substr(int_start, i - int_start);
  std::string_view frac;
  if (i < t.size() && t[i] == '.') {
    const size_t f = ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    frac = t.substr(f, i - f);
  }
  if (i != t.size() || (int_part.empty() && frac.empty()) || frac.size() > 0x3FFF) {
    return "'" + std::string(t) + "' is not decimal text";
  }
  while (!int_part.empty() && int_part.front() == '0') int_part.remove_prefix(1);
  // Left-pad the integer part and right-pad the fraction to whole groups of 4 digits.
  const size_t int_groups = (int_part.size() + 3) / 4, frac_groups = (frac.size() + 3) / 4;
  std::vector<uint16_t> digits;
  digits.reserve(int_groups + frac_groups);
  auto group = [](std::string_view d, long from) {  // 4 digits starting at `from` (may be < 0)
    unsigned v = 0;
    for (long k = from; k < from + 4; ++k) {
      v = v * 10 + (k >= 0 && static_cast<size_t>(k) < d.size()
                        ? static_cast<unsigned>(d[static_cast<size_t>(k)] - '0')
                        : 0);
    }
    return static_cast<uint16_t>(v);
  };
  const long lead = static_cast<long>(int_groups * 4 - int_part.size());
  for (size_t g = 0; g < int_groups; ++g)
    digits.push_back(group(int_part, static_cast<long>(g * 4) - lead));
  for (size_t g = 0; g < frac_groups; ++g) digits.push_back(group(frac, static_cast<long>(g * 4)));
  int weight = static_cast<int>(int_groups) - 1;
  size_t first = 0;
  while (first < digits.size() && digits[first] == 0) {
    ++first;
    --weight;
  }
  size_t last = digits.size();
  while (last > first && digits[last - 1] == 0) --last;
  if (first == last) {
    weight = 0;
    negative = false;
  }
  const size_t n = last - first;
  if (n > 0xFFFF || weight > 0x7FFF || weight < -0x8000)
    return "decimal '" + std::string(t) + "' is out of range";
  put32(out, static_cast<uint32_t>(8 + 2 * n));
  auto put16 = [&](unsigned v) {
    out += static_cast<char>((v >> 8) & 0xFF);
    out += static_cast<char>(v & 0xFF);
  };
  put16(static_cast<unsigned>(n));
  put16(static_cast<unsigned>(static_cast<uint16_t>(static_cast<int16_t>(weight))));
  put16(negative ? 0x4000u : 0u);
  put16(static_cast<unsigned>(frac.size()));
  for (size_t k = first; k < last; ++k) put16(digits[k]);
  return "";
}

}  // namespace

std::string append_direct_field(DirectCopy how, const ColumnVector& col, size_t i,
                                std::string& out) {
  if (col.is_null(i) || how == DirectCopy::kAsLoad) {
    append_copy_field(col, i, out);
    return "";
  }
  switch (how) {
    case DirectCopy::kInt4: {
      const int64_t v = col.int_at(i);
      if (v < INT32_MIN || v > INT32_MAX) return std::to_string(v) + " is out of range for integer";
      put32(out, 4);
      put32(out, static_cast<uint32_t>(static_cast<int32_t>(v)));
      return "";
    }
    case DirectCopy::kInt2: {
      const int64_t v = col.int_at(i);
      if (v < INT16_MIN || v > INT16_MAX)
        return std::to_string(v) + " is out of range for smallint";
      put32(out, 2);
      const auto u = static_cast<uint16_t>(static_cast<int16_t>(v));
      out += static_cast<char>(u >> 8);
      out += static_cast<char>(u & 0xFF);
      return "";
    }
    case DirectCopy::kFloat4: {
      const double d = col.double_at(i);
      // Rounded to the nearest real, as the server's float8 -> real cast does (a real column is
      // archived as the shortest double that reads back as the same real).
      if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()) {
        return std::to_string(d) + " is out of range for real";
      }
      const auto f = static_cast<float>(d);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      put32(out, 4);
      put32(out, bits);
      return "";
    }
    case DirectCopy::kJsonb: {
      const std::string_view t = col.text_at(i);
      put32(out, static_cast<uint32_t>(t.size() + 1));
      out += '\1';
      out.append(t.data(), t.size());
      return "";
    }
    case DirectCopy::kNumeric: {
      const size_t mark = out.size();
      std::string e = append_numeric(col.text_at(i), out);
      if (!e.empty()) out.resize(mark);
      return e;
    }
    default:
      return "no direct form";
  }
}

namespace {

// JSON (as PostgreSQL's to_json writes an array) -> array input syntax, by recursive descent.
class ArrayLiteral {
 public:
  ArrayLiteral(std::string_view json, std::string& out) : s_(json), out_(out) {}

  std::string run() {
    ws();
    if (i_ >= s_.size() || s_[i_] != '[') return err("not a JSON array");
    std::string e = array();
    if (!e.empty()) return e;
    ws();
    return i_ == s_.size() ? "" : err("text after the array");
  }

 private:
  std::string err(const char* what) const {
    return std::string(what) + " at byte " + std::to_string(i_) + " of a JSON array";
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  std::string array() {
    ++i_;  // '['
    out_ += '{';
    ws();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      out_ += '}';
      return "";
    }
    while (true) {
      ws();
      std::string e = element();
      if (!e.empty()) return e;
      ws();
      if (i_ >= s_.size()) return err("unexpected end");
      if (s_[i_] == ']') {
        ++i_;
        out_ += '}';
        return "";
      }
      if (s_[i_] != ',') return err("unexpected character");
      ++i_;
      out_ += ',';
    }
  }
  std::string element() {
    if (i_ >= s_.size()) return err("unexpected end");
    const char c = s_[i_];
    if (c == '[') return array();
    if (c == '"') {
      std::string text;
      std::string e = string(text);
      if (e.empty()) quoted(text);
      return e;
    }
    if (c == '{') {  // a json[]/jsonb[] element: its JSON text
      const size_t start = i_;
      std::string e = skip_object();
      if (e.empty()) quoted(s_.substr(start, i_ - start));
      return e;
    }
    const size_t start = i_;  // number, true, false, null
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != ']' && s_[i_] != ' ' && s_[i_] != '\t' &&
           s_[i_] != '\n' && s_[i_] != '\r')
      ++i_;
    std::string_view token = s_.substr(start, i_ - start);
    if (token.empty()) return err("missing value");
    out_ += token == "null" ? std::string_view("NULL") : token;
    return "";
  }
  void quoted(std::string_view text) {
    out_ += '"';
    for (char ch : text) {
      if (ch == '"' || ch == '\\') out_ += '\\';
      out_ += ch;
    }
    out_ += '"';
  }
  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(uint32_t& v) {
    if (i_ + 4 > s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }
  // A JSON string at i_, unescaped into `text`.
  std::string string(std::string& text) {
    ++i_;  // '"'
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return "";
      if (c != '\\') {
        text += c;
        continue;
      }
      if (i_ >= s_.size()) break;
      const char e = s_[i_++];
      switch (e) {
        case 'b':
          text += '\b';
          break;
        case 'f':
          text += '\f';
          break;
        case 'n':
          text += '\n';
          break;
        case 'r':
          text += '\r';
          break;
        case 't':
          text += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return err("bad \\u escape");
          if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' &&
              s_[i_ + 1] == 'u') {
            i_ += 2;
            uint32_t lo = 0;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return err("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          utf8(cp, text);
          break;
        }
        default:  // " \ /
          text += e;
      }
    }
    return err("unterminated string");
  }
  // Past a JSON object at i_ (strings may hold braces).
  std::string skip_object() {
    int depth = 0;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '"') {
        std::string ignored;
        std::string e = string(ignored);
        if (!e.empty()) return e;
        continue;
      }
      ++i_;
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return "";
    }
    return err("unterminated object");
  }

  std::string_view s_;
  std::string& out_;
  size_t i_ = 0;
};

}  // namespace

std::string array_literal(std::string_view json, std::string& out) {
  out.clear();
  return ArrayLiteral(json, out).run();
}

std::string append_copy_array_field(const ColumnVector& col, size_t i, std::string& out,
                                    std::string& scratch) {
  if (col.is_null(i) || col.storage() != Storage::kText) {
    append_copy_field(col, i, out);
    return "";
  }
  std::string err = array_literal(col.text_at(i), scratch);
  if (!err.empty()) return err;
  put32(out, static_cast<uint32_t>(scratch.size()));
  out += scratch;
  return "";
}

std::string ddl_type(const Column& c) {
  switch (c.type) {
    case Type::kInt64:
      return "bigint";
    case Type::kDouble:
      return "double precision";
    case Type::kBool:
      return "boolean";
    case Type::kString:
      return "text";
    case Type::kBytes:
      return "bytea";
    case Type::kTimestamp:
      return "timestamptz";
    case Type::kDate:
      return "date";
    case Type::kDecimal:
      if (c.precision > 0) {
        return "numeric(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")";
      }
      return "numeric";
    case Type::kJson:
      return "jsonb";
  }
  return "text";
}

}  // namespace strata::pg

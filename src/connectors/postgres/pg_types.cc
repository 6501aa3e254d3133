// PostgreSQL types <-> Strata types and binary COPY values (see pg_types.h).
#include "connectors/postgres/pg_types.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

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
      if (!std::isfinite(f)) {
        out.append_double(static_cast<double>(f));
        return "";
      }
      // The double nearest to the float's shortest decimal form: 0.1::real reads as 0.1.
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, f);
      double v = 0;
      std::from_chars(buf, r.ptr, v);
      out.append_double(v);
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

// Strata <-> Parquet column mapping, decimals and the strata.schema entry (see parquet_schema.h).
#include "formats/parquet/parquet_schema.h"

#include <nlohmann/json.hpp>

namespace strata::parquet {

namespace {

Status column_error(const Column& c, const std::string& what) {
  return Status::permanent("column '" + c.name + "': " + what);
}

LogicalType logical(LogicalType::Kind kind) {
  LogicalType t;
  t.kind = kind;
  return t;
}

bool has_logical(const SchemaElement& e, LogicalType::Kind kind) {
  return e.logical_type && e.logical_type->kind == kind;
}

bool has_converted(const SchemaElement& e, ConvertedType t) {
  return e.converted_type && *e.converted_type == t;
}

Status read_error(const SchemaElement& e, const std::string& what) {
  return Status::permanent("column '" + e.name + "': " + what);
}

}  // namespace

int decimal_fixed_width(int precision) {
  // Largest precision that n bytes of two's complement hold: floor(log10(2^(8n-1) - 1)).
  static constexpr int kMaxPrecision[17] = {0,  2,  4,  6,  9,  11, 14, 16, 18,
                                            21, 23, 26, 28, 31, 33, 35, 38};
  for (int n = 1; n <= 16; ++n) {
    if (precision <= kMaxPrecision[n]) return n;
  }
  return 16;
}

Result<ColumnLayout> layout_for_writing(const Column& c, SchemaElement& e) {
  ColumnLayout l;
  e = SchemaElement{};
  e.name = c.name;
  l.optional = c.nullable;
  e.repetition_type = c.nullable ? Repetition::kOptional : Repetition::kRequired;
  switch (c.type) {
    case Type::kInt64:
      l.physical = PhysicalType::kInt64;
      l.kind = ValueKind::kInt64;
      break;
    case Type::kTimestamp: {
      l.physical = PhysicalType::kInt64;
      l.kind = ValueKind::kInt64;
      LogicalType t = logical(LogicalType::Kind::kTimestamp);
      t.is_adjusted_to_utc = true;
      t.unit = TimeUnit::kMicros;
      e.logical_type = t;
      e.converted_type = ConvertedType::kTimestampMicros;
      break;
    }
    case Type::kDate:
      l.physical = PhysicalType::kInt32;
      l.kind = ValueKind::kInt32;
      e.logical_type = logical(LogicalType::Kind::kDate);
      e.converted_type = ConvertedType::kDate;
      break;
    case Type::kDouble:
      l.physical = PhysicalType::kDouble;
      l.kind = ValueKind::kDouble;
      break;
    case Type::kBool:
      l.physical = PhysicalType::kBoolean;
      l.kind = ValueKind::kBool;
      break;
    case Type::kString:
      l.physical = PhysicalType::kByteArray;
      l.kind = ValueKind::kBytes;
      e.logical_type = logical(LogicalType::Kind::kString);
      e.converted_type = ConvertedType::kUtf8;
      break;
    case Type::kJson:
      l.physical = PhysicalType::kByteArray;
      l.kind = ValueKind::kBytes;
      e.logical_type = logical(LogicalType::Kind::kJson);
      e.converted_type = ConvertedType::kJson;
      break;
    case Type::kBytes:
      l.physical = PhysicalType::kByteArray;
      l.kind = ValueKind::kBytes;
      break;
    case Type::kDecimal: {
      if (c.precision < 0 || c.scale < 0 || (c.precision > 0 && c.scale > c.precision)) {
        return column_error(c, "invalid decimal precision " + std::to_string(c.precision) +
                                   " / scale " + std::to_string(c.scale) +
                                   " (need 0 <= scale <= precision)");
      }
      if (c.precision == 0 || c.precision > kMaxDecimalPrecision) {
        // Unknown or beyond what Parquet engines read as DECIMAL: keep the exact text.
        l.physical = PhysicalType::kByteArray;
        l.kind = ValueKind::kBytes;
        e.logical_type = logical(LogicalType::Kind::kString);
        e.converted_type = ConvertedType::kUtf8;
        break;
      }
      l.precision = c.precision;
      l.scale = c.scale;
      if (c.precision <= 9) {
        l.physical = PhysicalType::kInt32;
        l.kind = ValueKind::kDecimalInt32;
      } else if (c.precision <= 18) {
        l.physical = PhysicalType::kInt64;
        l.kind = ValueKind::kDecimalInt64;
      } else {
        l.physical = PhysicalType::kFixedLenByteArray;
        l.kind = ValueKind::kDecimalFixed;
        l.type_length = decimal_fixed_width(c.precision);
        e.type_length = l.type_length;
      }
      LogicalType t = logical(LogicalType::Kind::kDecimal);
      t.precision = c.precision;
      t.scale = c.scale;
      e.logical_type = t;
      e.converted_type = ConvertedType::kDecimal;
      e.precision = c.precision;
      e.scale = c.scale;
      break;
    }
  }
  e.type = l.physical;
  return l;
}

Result<ColumnLayout> layout_for_reading(const SchemaElement& e, Column& c) {
  ColumnLayout l;
  c = Column{};
  c.name = e.name;
  if (!e.type) return read_error(e, "nested (group) columns are not supported");
  if (!e.repetition_type) return read_error(e, "repetition type is missing");
  switch (*e.repetition_type) {
    case Repetition::kRequired:
      l.optional = false;
      break;
    case Repetition::kOptional:
      l.optional = true;
      break;
    default:
      return read_error(e, "repeated columns are not supported");
  }
  c.nullable = l.optional;
  l.physical = *e.type;

  const bool is_decimal = has_logical(e, LogicalType::Kind::kDecimal) ||
                          (!e.logical_type && has_converted(e, ConvertedType::kDecimal));
  if (is_decimal) {
    const int precision = e.logical_type ? e.logical_type->precision : e.precision.value_or(0);
    const int scale = e.logical_type ? e.logical_type->scale : e.scale.value_or(0);
    if (precision < 1 || precision > kMaxDecimalPrecision || scale < 0 || scale > precision) {
      return read_error(e, "unsupported decimal precision " + std::to_string(precision) +
                               " / scale " + std::to_string(scale));
    }
    c.type = Type::kDecimal;
    c.precision = precision;
    c.scale = scale;
    l.precision = precision;
    l.scale = scale;
    switch (*e.type) {
      case PhysicalType::kInt32:
        l.kind = ValueKind::kDecimalInt32;
        return l;
      case PhysicalType::kInt64:
        l.kind = ValueKind::kDecimalInt64;
        return l;
      case PhysicalType::kByteArray:
        l.kind = ValueKind::kDecimalBytes;
        return l;
      case PhysicalType::kFixedLenByteArray:
        if (!e.type_length || *e.type_length < 1 || *e.type_length > 16) {
          return read_error(e, "decimal FIXED_LEN_BYTE_ARRAY needs a length of 1..16 bytes");
        }
        l.kind = ValueKind::kDecimalFixed;
        l.type_length = *e.type_length;
        return l;
      default:
        return read_error(
            e, std::string("DECIMAL on ") + physical_type_name(*e.type) + " is not supported");
    }
  }
  const bool is_time = has_logical(e, LogicalType::Kind::kTime) ||
                       has_converted(e, ConvertedType::kTimeMillis) ||
                       has_converted(e, ConvertedType::kTimeMicros);
  if (is_time) return read_error(e, "TIME columns are not supported");

  switch (*e.type) {
    case PhysicalType::kBoolean:
      c.type = Type::kBool;
      l.kind = ValueKind::kBool;
      return l;
    case PhysicalType::kInt32: {
      if (has_logical(e, LogicalType::Kind::kDate) || has_converted(e, ConvertedType::kDate)) {
        c.type = Type::kDate;
        l.kind = ValueKind::kInt32;
        return l;
      }
      c.type = Type::kInt64;
      const bool is_unsigned =
          (e.logical_type && e.logical_type->kind == LogicalType::Kind::kInteger &&
           !e.logical_type->is_signed) ||
          has_converted(e, ConvertedType::kUint8) || has_converted(e, ConvertedType::kUint16) ||
          has_converted(e, ConvertedType::kUint32);
      l.kind = is_unsigned ? ValueKind::kUInt32 : ValueKind::kInt32;
      return l;
    }
    case PhysicalType::kInt64: {
      if (has_logical(e, LogicalType::Kind::kTimestamp)) {
        c.type = Type::kTimestamp;
        switch (e.logical_type->unit) {
          case TimeUnit::kMillis:
            l.kind = ValueKind::kTimestampMillis;
            break;
          case TimeUnit::kMicros:
            l.kind = ValueKind::kInt64;
            break;
          case TimeUnit::kNanos:
            l.kind = ValueKind::kTimestampNanos;
            break;
        }
        return l;
      }
      if (has_converted(e, ConvertedType::kTimestampMicros) ||
          has_converted(e, ConvertedType::kTimestampMillis)) {
        c.type = Type::kTimestamp;
        l.kind = has_converted(e, ConvertedType::kTimestampMillis) ? ValueKind::kTimestampMillis
                                                                   : ValueKind::kInt64;
        return l;
      }
      if ((e.logical_type && e.logical_type->kind == LogicalType::Kind::kInteger &&
           !e.logical_type->is_signed) ||
          has_converted(e, ConvertedType::kUint64)) {
        return read_error(e, "unsigned 64-bit integers are not supported");
      }
      c.type = Type::kInt64;
      l.kind = ValueKind::kInt64;
      return l;
    }
    case PhysicalType::kFloat:
      c.type = Type::kDouble;
      l.kind = ValueKind::kFloat;
      return l;
    case PhysicalType::kDouble:
      c.type = Type::kDouble;
      l.kind = ValueKind::kDouble;
      return l;
    case PhysicalType::kByteArray:
      l.kind = ValueKind::kBytes;
      if (has_logical(e, LogicalType::Kind::kJson) || has_converted(e, ConvertedType::kJson)) {
        c.type = Type::kJson;
      } else if (has_logical(e, LogicalType::Kind::kString) ||
                 has_logical(e, LogicalType::Kind::kEnum) ||
                 has_converted(e, ConvertedType::kUtf8) || has_converted(e, ConvertedType::kEnum)) {
        c.type = Type::kString;
      } else {
        c.type = Type::kBytes;
      }
      return l;
    case PhysicalType::kFixedLenByteArray:
      if (!e.type_length || *e.type_length < 0 || *e.type_length > (1 << 20)) {
        return read_error(e, "FIXED_LEN_BYTE_ARRAY without a valid length");
      }
      c.type = Type::kBytes;
      l.kind = ValueKind::kFixedBytes;
      l.type_length = *e.type_length;
      return l;
    case PhysicalType::kInt96:
      return read_error(e, "INT96 timestamps are not supported");
  }
  return read_error(e, "unknown physical type " + std::to_string(static_cast<int>(*e.type)));
}

std::string parse_decimal(std::string_view s, int precision, int scale, int128& out) {
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  int128 v = 0;
  int digits = 0;       // significant digits accumulated (after leading zeros)
  int int_digits = 0;   // significant digits before the point
  int frac_digits = 0;  // fraction digits kept
  bool any_digit = false, dot = false;
  for (; i < s.size(); ++i) {
    const char ch = s[i];
    if (ch == '.') {
      if (dot) return "more than one '.'";
      dot = true;
      continue;
    }
    if (ch < '0' || ch > '9') return std::string("unexpected character '") + ch + "'";
    any_digit = true;
    const int d = ch - '0';
    if (dot) {
      if (frac_digits == scale) {
        if (d != 0) return "more than " + std::to_string(scale) + " fraction digits";
        continue;  // trailing zero beyond the scale: same value
      }
      ++frac_digits;
    } else if (v == 0 && d == 0) {
      continue;  // leading zero
    } else {
      ++int_digits;
    }
    if (v != 0 || d != 0) ++digits;
    if (digits > kMaxDecimalPrecision) return "too many digits";
    v = v * 10 + d;
  }
  if (!any_digit) return "no digits";
  if (int_digits > precision - scale) {
    return "more than " + std::to_string(precision - scale) + " digits before the point";
  }
  for (int k = frac_digits; k < scale; ++k) v *= 10;
  out = neg ? -v : v;
  return {};
}

void append_decimal(std::string& out, int128 unscaled, int scale) {
  using uint128 = unsigned __int128;
  const bool neg = unscaled < 0;
  uint128 mag = neg ? static_cast<uint128>(-(unscaled + 1)) + 1 : static_cast<uint128>(unscaled);
  char buf[48];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + static_cast<int>(mag % 10));
    mag /= 10;
  } while (mag != 0);
  while (n <= scale) buf[n++] = '0';  // at least one digit before the point
  if (neg) out.push_back('-');
  for (int i = n - 1; i >= scale; --i) out.push_back(buf[i]);
  if (scale > 0) {
    out.push_back('.');
    for (int i = scale - 1; i >= 0; --i) out.push_back(buf[i]);
  }
}

std::string encode_strata_schema(const Schema& schema) {
  nlohmann::json cols = nlohmann::json::array();
  for (const Column& c : schema.columns()) {
    cols.push_back({{"name", c.name},
                    {"type", type_name(c.type)},
                    {"nullable", c.nullable},
                    {"precision", c.precision},
                    {"scale", c.scale},
                    {"source_type", c.source_type}});
  }
  return cols.dump();
}

Result<Schema> decode_strata_schema(std::string_view text) {
  const auto bad = [](const std::string& why) {
    return Status::permanent("invalid strata.schema metadata: " + why);
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return bad("not a JSON array");
  Schema schema;
  for (const nlohmann::json& o : j) {
    if (!o.is_object()) return bad("column entry is not an object");
    const auto name = o.find("name");
    const auto type = o.find("type");
    const auto nullable = o.find("nullable");
    const auto precision = o.find("precision");
    const auto scale = o.find("scale");
    const auto source = o.find("source_type");
    if (name == o.end() || !name->is_string() || type == o.end() || !type->is_string() ||
        nullable == o.end() || !nullable->is_boolean() || precision == o.end() ||
        !precision->is_number_integer() || scale == o.end() || !scale->is_number_integer() ||
        (source != o.end() && !source->is_string())) {
      return bad("column entry lacks name, type, nullable, precision or scale");
    }
    Column c;
    c.name = name->get_ref<const std::string&>();
    STRATA_ASSIGN_OR_RETURN(c.type, parse_type_name(type->get_ref<const std::string&>()));
    c.nullable = nullable->get<bool>();
    const int64_t p = precision->get<int64_t>(), s = scale->get<int64_t>();
    if (p < 0 || p > 1000 || s < 0 || s > 1000) return bad("precision or scale out of range");
    c.precision = static_cast<int>(p);
    c.scale = static_cast<int>(s);
    if (source != o.end()) c.source_type = source->get_ref<const std::string&>();
    schema.add(std::move(c));
  }
  return schema;
}

}  // namespace strata::parquet

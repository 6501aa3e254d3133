// Declared-type mapping, time encodings and decimal normalisation for the sqlite source.
#include "connectors/sqlite/sqlite_types.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace strata::sqlite {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// "(10, 2)" -> precision 10, scale 2. false if there are no parameters.
bool parse_type_params(std::string_view params, int& precision, int& scale) {
  size_t open = params.find('(');
  size_t close = params.find(')', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) return false;
  std::string_view inside = params.substr(open + 1, close - open - 1);
  size_t comma = inside.find(',');
  auto number = [](std::string_view t, int& out) {
    t = trim(t);
    if (t.empty() || t.size() > 4) return false;
    int v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    return true;
  };
  scale = 0;
  if (!number(inside.substr(0, comma), precision)) return false;
  if (comma != std::string_view::npos && !number(inside.substr(comma + 1), scale)) return false;
  return precision > 0 && scale <= precision;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t ceil_to(int64_t v, int64_t step) { return -floor_div(-v, step) * step; }

void append_2(std::string& out, int64_t v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Column column_for_declared_type(std::string name, std::string declared_type, bool not_null) {
  Column col;
  col.name = std::move(name);
  col.nullable = !not_null;
  std::string up = upper(trim(declared_type));
  std::string base(trim(std::string_view(up).substr(0, up.find('('))));
  int precision = 0, scale = 0;
  if (base.starts_with("BOOL")) {
    col.type = Type::kBool;
  } else if (base.starts_with("TIMESTAMP") || contains(base, "DATETIME")) {
    col.type = Type::kTimestamp;
  } else if (base == "DATE") {
    col.type = Type::kDate;
  } else if ((base == "DECIMAL" || base == "NUMERIC") && parse_type_params(up, precision, scale)) {
    col.type = Type::kDecimal;
    col.precision = precision;
    col.scale = scale;
  } else if (base.starts_with("JSON")) {
    col.type = Type::kJson;
  } else if (contains(up, "INT")) {
    col.type = Type::kInt64;
  } else if (contains(up, "CHAR") || contains(up, "CLOB") || contains(up, "TEXT")) {
    col.type = Type::kString;
  } else if (contains(up, "BLOB") || up.empty()) {
    col.type = Type::kBytes;
  } else if (contains(up, "REAL") || contains(up, "FLOA") || contains(up, "DOUB")) {
    col.type = Type::kDouble;
  } else {
    col.type = Type::kString;
  }
  col.source_type = std::move(declared_type);
  return col;
}

std::string TimeEncoding::describe() const {
  switch (kind) {
    case Kind::kEpochInt:
    case Kind::kEpochReal: {
      std::string unit = unit_micros == 1      ? "microseconds"
                         : unit_micros == 1000 ? "milliseconds"
                                               : "seconds";
      return std::string(kind == Kind::kEpochInt ? "integer" : "real") + " epoch " + unit;
    }
    case Kind::kText: {
      std::string layout = "YYYY-MM-DD";
      if (has_time) {
        layout += separator;
        layout += "HH:MM";
        if (has_seconds) layout += ":SS";
        if (fraction_digits > 0)
          layout += "." + std::string(static_cast<size_t>(fraction_digits), 'f');
      }
      return "ISO text '" + layout + suffix + "'";
    }
  }
  return "unknown";
}

Result<TimeEncoding> detect_text_encoding(std::string_view text) {
  auto bad = [&] {
    return Status::permanent("'" + std::string(text) +
                             "' is not a timestamp (expected ISO text like "
                             "'2026-01-31 12:00:00', or epoch seconds/milliseconds/microseconds)");
  };
  if (!parse_timestamp(text).is_ok()) return bad();
  TimeEncoding enc;
  enc.kind = TimeEncoding::Kind::kText;
  size_t p = 0;
  if (p < text.size() && text[p] == '-') ++p;
  while (p < text.size() && is_digit(text[p])) ++p;
  p += 6;  // "-MM-DD", checked by parse_timestamp
  if (p >= text.size()) {
    enc.has_time = false;
    enc.has_seconds = false;
    return enc;
  }
  enc.separator = text[p];
  p += 6;  // "<sep>HH:MM"
  enc.has_seconds = p < text.size() && text[p] == ':';
  if (enc.has_seconds) p += 3;
  if (p < text.size() && text[p] == '.') {
    ++p;
    while (p < text.size() && is_digit(text[p])) {
      ++enc.fraction_digits;
      ++p;
    }
  }
  enc.suffix = std::string(text.substr(p));
  if (!enc.suffix.empty() && enc.suffix != "Z") {
    // parse_timestamp accepted it, so it is [+-]HH[[:]MM]; the offset is local minus UTC.
    std::string_view s = enc.suffix;
    int64_t hh = (s[1] - '0') * 10 + (s[2] - '0');
    int64_t mm = 0;
    size_t q = s.size() > 3 && s[3] == ':' ? 4 : 3;
    if (q + 2 <= s.size()) mm = (s[q] - '0') * 10 + (s[q + 1] - '0');
    enc.offset_micros = (hh * 60 + mm) * 60000000LL * (s[0] == '-' ? -1 : 1);
  }
  return enc;
}

int64_t epoch_unit_for_magnitude(double abs_value) {
  if (abs_value < 1e11) return 1000000;
  if (abs_value < 1e14) return 1000;
  return 1;
}

TimeEncoding detect_int_encoding(int64_t value) {
  TimeEncoding enc;
  enc.kind = TimeEncoding::Kind::kEpochInt;
  enc.unit_micros = epoch_unit_for_magnitude(std::fabs(static_cast<double>(value)));
  return enc;
}

TimeEncoding detect_real_encoding(double value) {
  TimeEncoding enc;
  enc.kind = TimeEncoding::Kind::kEpochReal;
  enc.unit_micros = epoch_unit_for_magnitude(std::fabs(value));
  return enc;
}

Value encode_cutoff(const TimeEncoding& enc, int64_t cutoff_micros) {
  switch (enc.kind) {
    case TimeEncoding::Kind::kEpochInt:
      return Value::of_int(-floor_div(-cutoff_micros, enc.unit_micros));
    case TimeEncoding::Kind::kEpochReal:
      return Value::of_double(static_cast<double>(cutoff_micros) /
                              static_cast<double>(enc.unit_micros));
    case TimeEncoding::Kind::kText:
      break;
  }
  int64_t local = cutoff_micros + enc.offset_micros;
  int64_t step = 1;
  if (!enc.has_time) {
    step = 86400000000LL;
  } else if (!enc.has_seconds) {
    step = 60000000LL;
  } else {
    step = 1000000;
    for (int i = 0; i < enc.fraction_digits && step > 1; ++i) step /= 10;
  }
  local = ceil_to(local, step);
  int64_t days = floor_div(local, 86400000000LL);
  int64_t rem = local - days * 86400000000LL;
  std::string out;
  append_date(out, days);
  if (enc.has_time) {
    int64_t secs = rem / 1000000;
    out.push_back(enc.separator);
    append_2(out, secs / 3600);
    out.push_back(':');
    append_2(out, (secs / 60) % 60);
    if (enc.has_seconds) {
      out.push_back(':');
      append_2(out, secs % 60);
    }
    if (enc.fraction_digits > 0) {
      std::string frac = std::to_string(rem % 1000000);
      frac.insert(0, 6 - frac.size(), '0');
      frac.resize(static_cast<size_t>(enc.fraction_digits), '0');
      out.push_back('.');
      out += frac;
    }
  }
  out += enc.suffix;
  return Value::of_text(std::move(out));
}

Status normalize_decimal(std::string_view text, int scale, std::string& out) {
  auto bad = [&](const char* why) {
    return Status::permanent("'" + std::string(text) + "' " + why);
  };
  out.clear();
  std::string_view s = trim(text);
  bool negative = false;
  size_t p = 0;
  if (p < s.size() && (s[p] == '-' || s[p] == '+')) negative = s[p++] == '-';
  // Mantissa digits without the point; `point` = digits before the point.
  char digits[128];
  size_t n = 0;
  int64_t point = 0;
  bool seen_point = false, any = false;
  for (; p < s.size(); ++p) {
    char c = s[p];
    if (is_digit(c)) {
      any = true;
      if (n == 0 && c == '0') {  // leading zero: only shifts the point if after it
        if (seen_point) --point;
        continue;
      }
      if (n == sizeof digits) return bad("has too many digits for a decimal");
      digits[n++] = c;
      if (!seen_point) ++point;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any) return bad("is not a decimal number");
  if (p < s.size() && (s[p] == 'e' || s[p] == 'E')) {
    ++p;
    bool exp_negative = false;
    if (p < s.size() && (s[p] == '-' || s[p] == '+')) exp_negative = s[p++] == '-';
    int64_t exp = 0;
    size_t start = p;
    for (; p < s.size() && is_digit(s[p]); ++p) {
      exp = exp * 10 + (s[p] - '0');
      if (exp > 1000) return bad("has an exponent out of range for a decimal");
    }
    if (p == start) return bad("is not a decimal number");
    point += exp_negative ? -exp : exp;
  }
  if (p != s.size()) return bad("is not a decimal number");
  // Digits beyond the scale must be zeros.
  int64_t keep = point + scale;  // mantissa digits that land before the cut
  for (int64_t i = std::max<int64_t>(keep, 0); i < static_cast<int64_t>(n); ++i) {
    if (digits[i] != '0') {
      return bad(("has more than " + std::to_string(scale) + " digits after the point").c_str());
    }
  }
  auto digit_at = [&](int64_t i) {
    return i >= 0 && i < static_cast<int64_t>(n) ? digits[i] : '0';
  };
  bool zero = true;
  for (int64_t i = 0; i < std::min<int64_t>(keep, static_cast<int64_t>(n)); ++i) {
    if (digits[i] != '0') zero = false;
  }
  if (negative && !zero) out.push_back('-');
  if (point <= 0) {
    out.push_back('0');
  } else {
    for (int64_t i = 0; i < point; ++i) out.push_back(digit_at(i));
  }
  if (scale > 0) {
    out.push_back('.');
    for (int64_t i = point; i < point + scale; ++i) out.push_back(digit_at(i));
  }
  return Status::ok();
}

}  // namespace strata::sqlite

#include "functions/partition_layout.h"

#include <ctime>

namespace strata {

namespace {

void append_escaped(std::string& out, std::string_view v) {
  static const char* kHex = "0123456789ABCDEF";
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    bool unsafe = c < 0x20 || c == '/' || c == '\\' || c == '%' || c == '=' || c == ':' ||
                  c == '"' || c == '\'' || c == '*' || c == '?' || c == 0x7f ||
                  (i == 0 && c == '.');
    if (unsafe) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

}  // namespace

Result<PartitionLayout> PartitionLayout::parse(const std::string& layout, const Schema& schema) {
  PartitionLayout out;
  size_t p = 0;
  std::string literal;
  while (p < layout.size()) {
    char c = layout[p];
    if (c == '}') {
      return Status::permanent("layout '" + layout + "': unmatched '}' at position " +
                               std::to_string(p + 1));
    }
    if (c != '{') {
      literal.push_back(c);
      ++p;
      continue;
    }
    size_t close = layout.find('}', p);
    if (close == std::string::npos) {
      return Status::permanent("layout '" + layout + "': '{' at position " + std::to_string(p + 1) +
                               " is not closed");
    }
    std::string inner = layout.substr(p + 1, close - p - 1);
    std::string name = inner, fmt;
    if (size_t colon = inner.find(':'); colon != std::string::npos) {
      name = inner.substr(0, colon);
      fmt = inner.substr(colon + 1);
    }
    int col = schema.index_of(name);
    if (col < 0) {
      std::string names;
      for (const Column& sc : schema.columns()) names += (names.empty() ? "" : ", ") + sc.name;
      return Status::permanent("layout '" + layout + "' uses column '" + name +
                               "', which the source does not have (columns: " + names + ")");
    }
    Segment seg;
    seg.literal = std::move(literal);
    literal.clear();
    seg.column = col;
    seg.type = schema[col].type;
    if (!fmt.empty()) {
      if (seg.type != Type::kTimestamp && seg.type != Type::kDate) {
        return Status::permanent("layout '" + layout + "': a format (':" + fmt +
                                 "') needs a timestamp or date column, but '" + name + "' is " +
                                 type_name(seg.type));
      }
      seg.time_format = fmt;
    } else if (seg.type == Type::kTimestamp) {
      seg.time_format = "%Y-%m-%d";
    } else if (seg.type == Type::kDate) {
      seg.time_format = "%Y-%m-%d";
    }
    out.segments_.push_back(std::move(seg));
    p = close + 1;
  }
  if (out.segments_.empty() && !literal.empty()) {
    return Status::permanent("layout '" + layout +
                             "' has no {column} placeholder (write e.g. dt={ts:%Y-%m-%d})");
  }
  out.tail_ = std::move(literal);
  return out;
}

void PartitionLayout::partition_of(const Batch& batch, size_t row, std::string& out) {
  out.clear();
  for (Segment& seg : segments_) {
    out += seg.literal;
    const ColumnVector& col = batch.column(static_cast<size_t>(seg.column));
    if (col.is_null(row)) {
      out += "__HIVE_DEFAULT_PARTITION__";
      continue;
    }
    if (!seg.time_format.empty()) {
      int64_t v = col.int_at(row);
      int64_t secs =
          seg.type == Type::kDate ? v * 86400 : (v >= 0 ? v / 1000000 : -((-v + 999999) / 1000000));
      if (secs != seg.cached_second) {
        std::time_t t = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[128];
        size_t n = std::strftime(buf, sizeof buf, seg.time_format.c_str(), &tm);
        seg.cached.clear();
        append_escaped(seg.cached, std::string_view(buf, n));
        seg.cached_second = secs;
      }
      out += seg.cached;
      continue;
    }
    switch (col.storage()) {
      case Storage::kInt:
        if (seg.type == Type::kBool)
          out += col.bool_at(row) ? "true" : "false";
        else
          append_int(out, col.int_at(row));
        break;
      case Storage::kDouble: {
        std::string tmp;
        append_double(tmp, col.double_at(row));
        append_escaped(out, tmp);
        break;
      }
      case Storage::kText:
        append_escaped(out, col.text_at(row));
        break;
    }
  }
  out += tail_;
}

}  // namespace strata

// CSV writer (RFC 4180, with "\n" line ends instead of "\r\n": every reader we care about takes
// both, and LF matches the NDJSON files and Unix tools).
//
// A header row of column names, then one row per record. NULL is an empty unquoted field; an
// empty string is "" (quoted), so the two stay apart (DuckDB keeps them apart with
// read_csv(..., allow_quoted_nulls=false); by default it reads both as NULL). A field is quoted when it contains a comma,
// a quote, CR or LF, or is empty; quotes inside are doubled. Strings are written byte for byte
// (no UTF-8 check: CSV has no escapes, and the reader gives back the same bytes).
// Values use the same text as NDJSON: integers, shortest round-trip doubles with NaN / Infinity /
// -Infinity, true/false, core's timestamp and date forms, decimal and json text as they are,
// bytes as base64.
//
// Hand-written for the same reason as the NDJSON writer: one reused buffer, no allocation per
// value, flushed to the sink every ~256 KiB.
#include <cstring>

#include "formats/text_formats.h"
#include "formats/text_io.h"

namespace strata {

namespace {

using text_io::OutBuffer;

// 1 for the bytes that force quoting.
struct CsvByteClass {
  unsigned char v[256];
  constexpr CsvByteClass() : v() {
    v[static_cast<unsigned char>(',')] = 1;
    v[static_cast<unsigned char>('"')] = 1;
    v[static_cast<unsigned char>('\r')] = 1;
    v[static_cast<unsigned char>('\n')] = 1;
  }
};
constexpr CsvByteClass kCsvClass;

void put_csv_text(OutBuffer& out, std::string_view s) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n && kCsvClass.v[b[i]] == 0) ++i;
  if (i == n && n > 0) {
    out.append(s);
    return;
  }
  char* p = out.reserve(2 * n + 2);
  *p++ = '"';
  std::memcpy(p, b, i);
  p += i;
  for (; i < n; ++i) {
    if (b[i] == '"') *p++ = '"';
    *p++ = static_cast<char>(b[i]);
  }
  *p++ = '"';
  out.commit(p);
}

class CsvWriter final : public text_io::TextWriter {
 public:
  CsvWriter(std::shared_ptr<const Schema> schema, ByteSink* sink)
      : TextWriter(std::move(schema), sink) {
    for (size_t c = 0; c < schema_->size(); ++c) {
      if (c > 0) out_.push(',');
      put_csv_text(out_, (*schema_)[c].name);
      types_.push_back((*schema_)[c].type);
    }
    out_.push('\n');
  }

 protected:
  size_t encode_rows(const Batch& batch, size_t r) override {
    const size_t rows = batch.num_rows();
    const size_t cols = types_.size();
    for (; r < rows && out_.size() < text_io::kFlushBytes; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        if (c > 0) out_.push(',');
        const ColumnVector& col = batch.column(c);
        if (!col.is_null(r)) encode_value(col, types_[c], r);
      }
      out_.push('\n');
    }
    return r;
  }

 private:
  void encode_value(const ColumnVector& col, Type type, size_t r) {
    switch (type) {
      case Type::kInt64: {
        char* p = out_.reserve(text_io::kMaxNumberChars);
        out_.commit(text_io::put_int(p, col.int_at(r)));
        return;
      }
      case Type::kDouble: {
        const double v = col.double_at(r);
        std::string_view special = text_io::non_finite_text(v);
        if (!special.empty()) {
          out_.append(special);
          return;
        }
        char* p = out_.reserve(text_io::kMaxNumberChars);
        out_.commit(text_io::put_double(p, v));
        return;
      }
      case Type::kBool:
        if (col.bool_at(r)) {
          out_.append("true", 4);
        } else {
          out_.append("false", 5);
        }
        return;
      case Type::kTimestamp: {
        char* p = out_.reserve(text_io::kMaxTimestampChars);
        out_.commit(time_text_.put_timestamp(p, col.int_at(r)));
        return;
      }
      case Type::kDate: {
        char* p = out_.reserve(text_io::kMaxTimestampChars);
        out_.commit(time_text_.put_date(p, col.int_at(r)));
        return;
      }
      case Type::kBytes: {
        std::string_view bytes = col.text_at(r);
        if (bytes.empty()) {
          out_.append("\"\"", 2);  // empty, not NULL
          return;
        }
        char* p = out_.reserve(text_io::base64_size(bytes.size()));
        out_.commit(text_io::put_base64(p, bytes));
        return;
      }
      case Type::kString:
      case Type::kDecimal:
      case Type::kJson:
        put_csv_text(out_, col.text_at(r));
        return;
    }
  }

  std::vector<Type> types_;
  text_io::TimestampText time_text_;
};

}  // namespace

Result<std::unique_ptr<FormatWriter>> open_csv_writer(const FormatSpec& spec,
                                                      std::shared_ptr<const Schema> schema,
                                                      ByteSink* sink) {
  auto w = std::make_unique<CsvWriter>(std::move(schema), sink);
  STRATA_TRY(w->init(spec));
  return std::unique_ptr<FormatWriter>(std::move(w));
}

}  // namespace strata

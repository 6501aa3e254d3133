// NDJSON writer: one JSON object per line ("\n"), keys = column names in schema order.
//
// Values: int64 as JSON integers; double as the shortest round-trip number (core's
// append_double) except -0.0, written "-0.0" because JSON readers take "-0" for the integer 0 and
// drop the sign; NaN / Infinity / -Infinity as the JSON strings "NaN", "Infinity", "-Infinity";
// bool as true/false; timestamp as a string in core's form ("2026-11-01T12:34:56.500000Z"); date as
// "YYYY-MM-DD"; decimal as a string holding the exact text; json as a string holding the document
// text; bytes as a base64 string; NULL as null.
//
// Strings: valid UTF-8 is written as it is; '"' and '\\' are escaped, \n \r \t use their short
// escapes and the other control characters \u00XX. A byte that is not part of valid UTF-8 is
// written as \u00XX (XX = the byte), which keeps the file valid JSON; Strata's reader turns
// \u0080..\u00FF back into that single byte, so such strings round-trip exactly through Strata
// (other JSON readers see the Latin-1 character U+00XX instead). Our writer never uses
// \u0080..\u00FF for anything else: valid UTF-8 is never escaped.
//
// The encoder is hand-written (nlohmann-json would build a DOM per row and allocate per value):
// it appends to one reused buffer that is handed to the sink, or the zstd stream, every ~256 KiB.
#include <cmath>
#include <cstring>

#include "formats/text_formats.h"
#include "formats/text_io.h"

namespace strata {

namespace {

using text_io::OutBuffer;

// 0: copied as is; 1: needs an escape (control, '"', '\\'); 2: non-ASCII (UTF-8 checked).
struct JsonByteClass {
  unsigned char v[256];
  constexpr JsonByteClass() : v() {
    for (int i = 0; i < 256; ++i) v[i] = i < 0x20 ? 1 : (i >= 0x80 ? 2 : 0);
    v[static_cast<unsigned char>('"')] = 1;
    v[static_cast<unsigned char>('\\')] = 1;
  }
};
constexpr JsonByteClass kJsonClass;

constexpr char kHex[] = "0123456789abcdef";

inline char* put_u00(char* p, unsigned char c) {
  std::memcpy(p, "\\u00", 4);
  p[4] = kHex[c >> 4];
  p[5] = kHex[c & 15];
  return p + 6;
}

// Appends `s` as a JSON string literal (with quotes).
void put_json_string(OutBuffer& out, std::string_view s) {
  // Worst case: every byte becomes \u00XX.
  char* p = out.reserve(s.size() * 6 + 2);
  *p++ = '"';
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && kJsonClass.v[b[j]] == 0) ++j;
    std::memcpy(p, b + i, j - i);
    p += j - i;
    i = j;
    if (i == n) break;
    const unsigned char c = b[i];
    if (kJsonClass.v[c] == 1) {
      switch (c) {
        case '"':
          *p++ = '\\';
          *p++ = '"';
          break;
        case '\\':
          *p++ = '\\';
          *p++ = '\\';
          break;
        case '\n':
          *p++ = '\\';
          *p++ = 'n';
          break;
        case '\r':
          *p++ = '\\';
          *p++ = 'r';
          break;
        case '\t':
          *p++ = '\\';
          *p++ = 't';
          break;
        default:
          p = put_u00(p, c);
          break;
      }
      ++i;
      continue;
    }
    size_t len = text_io::utf8_sequence_length(b + i, n - i);
    if (len == 0) {
      p = put_u00(p, c);
      ++i;
    } else {
      std::memcpy(p, b + i, len);
      p += len;
      i += len;
    }
  }
  *p++ = '"';
  out.commit(p);
}

class NdjsonWriter final : public text_io::TextWriter {
 public:
  NdjsonWriter(std::shared_ptr<const Schema> schema, ByteSink* sink)
      : TextWriter(std::move(schema), sink) {
    // Each value is preceded by `{"name":` (first column) or `,"name":`.
    OutBuffer tmp;
    for (size_t c = 0; c < schema_->size(); ++c) {
      tmp.clear();
      tmp.push(c == 0 ? '{' : ',');
      put_json_string(tmp, (*schema_)[c].name);
      tmp.push(':');
      prefixes_.emplace_back(tmp.data(), tmp.size());
      types_.push_back((*schema_)[c].type);
    }
  }

 protected:
  size_t encode_rows(const Batch& batch, size_t r) override {
    const size_t rows = batch.num_rows();
    const size_t cols = types_.size();
    for (; r < rows && out_.size() < text_io::kFlushBytes; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        out_.append(prefixes_[c]);
        encode_value(batch.column(c), types_[c], r);
      }
      out_.append("}\n", 2);
    }
    return r;
  }

 private:
  void encode_value(const ColumnVector& col, Type type, size_t r) {
    if (col.is_null(r)) {
      out_.append("null", 4);
      return;
    }
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
          out_.push('"');
          out_.append(special);
          out_.push('"');
          return;
        }
        if (v == 0 && std::signbit(v)) {
          out_.append("-0.0", 4);  // "-0" is the integer 0 to many JSON parsers (DuckDB's too)
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
        char* p = out_.reserve(text_io::kMaxTimestampChars + 2);
        *p++ = '"';
        p = time_text_.put_timestamp(p, col.int_at(r));
        *p++ = '"';
        out_.commit(p);
        return;
      }
      case Type::kDate: {
        char* p = out_.reserve(text_io::kMaxTimestampChars + 2);
        *p++ = '"';
        p = time_text_.put_date(p, col.int_at(r));
        *p++ = '"';
        out_.commit(p);
        return;
      }
      case Type::kBytes: {
        std::string_view bytes = col.text_at(r);
        char* p = out_.reserve(text_io::base64_size(bytes.size()) + 2);
        *p++ = '"';
        p = text_io::put_base64(p, bytes);
        *p++ = '"';
        out_.commit(p);
        return;
      }
      case Type::kString:
      case Type::kDecimal:
      case Type::kJson:
        put_json_string(out_, col.text_at(r));
        return;
    }
  }

  std::vector<std::string> prefixes_;
  std::vector<Type> types_;
  text_io::TimestampText time_text_;
};

}  // namespace

Result<std::unique_ptr<FormatWriter>> open_ndjson_writer(const FormatSpec& spec,
                                                         std::shared_ptr<const Schema> schema,
                                                         ByteSink* sink) {
  auto w = std::make_unique<NdjsonWriter>(std::move(schema), sink);
  STRATA_TRY(w->init(spec));
  return std::unique_ptr<FormatWriter>(std::move(w));
}

}  // namespace strata

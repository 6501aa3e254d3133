// NDJSON reader: the inverse of ndjson_writer.cc, typed by the schema the file was written with.
//
// Each line holds one flat JSON object. Keys may come in any order; a key that is not a column
// is an error, a missing key is NULL, a repeated key is an error. Blank lines are skipped; "\r\n"
// line ends are accepted. The last line must end with a line end like every other (the writer
// always writes one), so a file cut anywhere but right after a line end is an error. Values must
// have the JSON type the writer uses for the column (see ndjson_writer.cc); a double also accepts
// the strings "NaN", "Infinity" and "-Infinity". \u0000..\u00FF escapes decode to the single byte
// 0x00..0xFF (how the writer keeps bytes that are not valid UTF-8); other \uXXXX escapes, including
// surrogate pairs, decode to UTF-8.
//
// The parser is hand-written and streaming (a DOM per line from nlohmann-json would allocate per
// value): it splits the decompressed stream into lines inside a reused window and parses each
// line in place, copying only strings that hold escapes. Any malformed input is a permanent error
// that names the source, the line, the column and what was expected.
#include <cstring>

#include "formats/text_formats.h"
#include "formats/text_io.h"

namespace strata {

namespace {

// 0: an ordinary string byte; 1: '"', '\\' or a control character.
struct StringByteClass {
  unsigned char v[256];
  constexpr StringByteClass() : v() {
    for (int i = 0; i < 0x20; ++i) v[i] = 1;
    v[static_cast<unsigned char>('"')] = 1;
    v[static_cast<unsigned char>('\\')] = 1;
  }
};
constexpr StringByteClass kStringClass;

inline bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r'; }
inline void skip_ws(const char*& p, const char* end) {
  while (p < end && is_ws(*p)) ++p;
}
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline bool match_literal(const char*& p, const char* end, std::string_view lit) {
  if (static_cast<size_t>(end - p) < lit.size() || std::memcmp(p, lit.data(), lit.size()) != 0) {
    return false;
  }
  p += lit.size();
  return true;
}

// Scans a JSON number at p; returns its end, or nullptr if there is none. `integral` is false
// when it has a fraction or an exponent.
const char* scan_number(const char* p, const char* end, bool& integral) {
  integral = true;
  if (p < end && *p == '-') ++p;
  const char* d = p;
  while (p < end && is_digit(*p)) ++p;
  if (p == d) return nullptr;
  if (p < end && *p == '.') {
    integral = false;
    d = ++p;
    while (p < end && is_digit(*p)) ++p;
    if (p == d) return nullptr;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    integral = false;
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    d = p;
    while (p < end && is_digit(*p)) ++p;
    if (p == d) return nullptr;
  }
  return p;
}

bool read_hex4(const char*& p, const char* end, uint32_t& out) {
  if (end - p < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    v = v * 16 + d;
  }
  p += 4;
  out = v;
  return true;
}

// Parses the JSON string whose opening quote is at p. On success sets `out` (a view into the
// line, or into `scratch` when the string holds escapes), moves p past the closing quote and
// returns nullptr; else returns what went wrong.
const char* parse_string(const char*& p, const char* end, std::string_view& out,
                         std::string& scratch) {
  ++p;
  const char* start = p;
  while (p < end && kStringClass.v[static_cast<unsigned char>(*p)] == 0) ++p;
  if (p == end) return "unterminated string";
  if (*p == '"') {
    out = std::string_view(start, static_cast<size_t>(p - start));
    ++p;
    return nullptr;
  }
  scratch.assign(start, p);
  for (;;) {
    if (p == end) return "unterminated string";
    const char c = *p;
    if (c == '"') {
      ++p;
      out = scratch;
      return nullptr;
    }
    if (c != '\\') {
      if (static_cast<unsigned char>(c) < 0x20) {
        return "a control character inside a string (it must be escaped)";
      }
      const char* run = p;
      while (p < end && kStringClass.v[static_cast<unsigned char>(*p)] == 0) ++p;
      scratch.append(run, p);
      continue;
    }
    if (++p == end) return "unterminated string";
    switch (*p++) {
      case '"':
        scratch.push_back('"');
        break;
      case '\\':
        scratch.push_back('\\');
        break;
      case '/':
        scratch.push_back('/');
        break;
      case 'b':
        scratch.push_back('\b');
        break;
      case 'f':
        scratch.push_back('\f');
        break;
      case 'n':
        scratch.push_back('\n');
        break;
      case 'r':
        scratch.push_back('\r');
        break;
      case 't':
        scratch.push_back('\t');
        break;
      case 'u': {
        uint32_t cp;
        if (!read_hex4(p, end, cp)) return "a \\u escape with 4 hex digits";
        if (cp < 0x100) {
          scratch.push_back(static_cast<char>(cp));  // the byte itself (see the file comment)
          break;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) return "a \\u escape that is not a lone low surrogate";
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (end - p < 6 || p[0] != '\\' || p[1] != 'u') {
            return "a low surrogate \\u escape after a high surrogate";
          }
          p += 2;
          if (!read_hex4(p, end, lo) || lo < 0xDC00 || lo > 0xDFFF) {
            return "a low surrogate \\u escape after a high surrogate";
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        text_io::append_utf8(scratch, cp);
        break;
      }
      default:
        return "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)";
    }
  }
}

class NdjsonReader final : public text_io::TextReader {
 protected:
  Result<size_t> read_rows(Batch& batch, size_t max_rows) override {
    if (seen_.empty()) seen_.assign(file_schema_->size(), 0);
    size_t n = 0;
    std::string_view line;
    while (n < max_rows) {
      STRATA_ASSIGN_OR_RETURN(bool got, next_line(line));
      if (!got) break;
      const char* p = line.data();
      skip_ws(p, line.data() + line.size());
      if (p == line.data() + line.size()) continue;  // blank line
      STRATA_TRY(parse_line(line, batch));
      ++n;
    }
    return n;
  }

 private:
  // The next line without its "\n"; false at the end. The view lives until the next call.
  Result<bool> next_line(std::string_view& line) {
    text_io::InputWindow& w = *window_;
    size_t scanned = 0;
    for (;;) {
      const char* b = w.begin();
      const size_t avail = w.available();
      const void* nl = avail > scanned ? std::memchr(b + scanned, '\n', avail - scanned) : nullptr;
      if (nl != nullptr) {
        const char* e = static_cast<const char*>(nl);
        line = std::string_view(b, static_cast<size_t>(e - b));
        w.consume_to(e + 1);
        ++line_;
        return true;
      }
      scanned = avail;
      STRATA_ASSIGN_OR_RETURN(bool more, w.fill());
      if (!more) {
        if (w.available() == 0) return false;
        // The writer ends every line with "\n": a last line without one was cut short.
        return error_at(line_ + 1, "the last line has no line end (truncated file?)");
      }
    }
  }

  Status expected(const std::string& what, const char* p, const char* end) const {
    return error_at(line_, "expected " + what + ", found " + text_io::describe_text(p, end));
  }
  Status column_error(size_t fi, const std::string& what) const {
    return error_at(line_, "column '" + (*file_schema_)[fi].name + "': " + what);
  }
  Status expected_value(size_t fi, const std::string& what, const char* p, const char* end) const {
    return column_error(fi, "expected " + what + ", found " + text_io::describe_text(p, end));
  }

  int find_column(std::string_view key) {
    const Schema& s = *file_schema_;
    if (hint_ < s.size() && s[hint_].name == key) return static_cast<int>(hint_++);
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i].name == key) {
        hint_ = i + 1;
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  Status parse_line(std::string_view line, Batch& batch) {
    const char* p = line.data();
    const char* const end = p + line.size();
    ++stamp_;
    hint_ = 0;
    skip_ws(p, end);
    if (p == end || *p != '{') return expected("'{' (each line holds one JSON object)", p, end);
    ++p;
    skip_ws(p, end);
    if (p < end && *p == '}') {
      ++p;
    } else {
      for (;;) {
        if (p == end || *p != '"') return expected("a key (a JSON string)", p, end);
        std::string_view key;
        if (const char* err = parse_string(p, end, key, key_scratch_)) {
          return error_at(line_, std::string("in a key: ") + err);
        }
        int fi = find_column(key);
        if (fi < 0) {
          return error_at(line_,
                          "unknown key '" + std::string(key) + "' (the schema has no such column)");
        }
        const size_t f = static_cast<size_t>(fi);
        if (seen_[f] == stamp_) return column_error(f, "the key appears twice in the object");
        seen_[f] = stamp_;
        skip_ws(p, end);
        if (p == end || *p != ':')
          return expected("':' after key '" + std::string(key) + "'", p, end);
        ++p;
        skip_ws(p, end);
        const int oi = file_to_out_[f];
        if (oi < 0) {
          STRATA_TRY(skip_value(p, end, f));
        } else {
          STRATA_TRY(parse_value(p, end, batch.column(static_cast<size_t>(oi)), f));
        }
        skip_ws(p, end);
        if (p < end && *p == ',') {
          ++p;
          skip_ws(p, end);
          continue;
        }
        if (p < end && *p == '}') {
          ++p;
          break;
        }
        return expected("',' or '}' after the value of '" + (*file_schema_)[f].name + "'", p, end);
      }
    }
    skip_ws(p, end);
    if (p != end) return expected("the end of the line after the object", p, end);
    for (size_t f = 0; f < seen_.size(); ++f) {
      if (seen_[f] != stamp_ && file_to_out_[f] >= 0) {
        batch.column(static_cast<size_t>(file_to_out_[f])).append_null();
      }
    }
    return Status::ok();
  }

  Status parse_value(const char*& p, const char* end, ColumnVector& col, size_t f) {
    const Type type = (*file_schema_)[f].type;
    if (p < end && *p == 'n') {
      if (!match_literal(p, end, "null")) return expected_value(f, "null", p, end);
      col.append_null();
      return Status::ok();
    }
    switch (type) {
      case Type::kInt64: {
        bool integral;
        const char* e = scan_number(p, end, integral);
        if (e == nullptr || !integral) return expected_value(f, "an integer", p, end);
        int64_t v = 0;
        auto [q, ec] = std::from_chars(p, e, v);
        if (ec != std::errc() || q != e) {
          return expected_value(f, "an integer in the 64-bit range", p, end);
        }
        col.append_int(v);
        p = e;
        return Status::ok();
      }
      case Type::kDouble: {
        if (p < end && *p == '"') {
          const char* start = p;
          std::string_view s;
          if (const char* err = parse_string(p, end, s, scratch_)) return column_error(f, err);
          std::string_view special =
              s == "NaN" || s == "Infinity" || s == "-Infinity" ? s : std::string_view();
          if (special.empty()) {
            return expected_value(f, "a number or \"NaN\", \"Infinity\", \"-Infinity\"", start,
                                  end);
          }
          col.append_double(*parse_double(special));
          return Status::ok();
        }
        bool integral;
        const char* e = scan_number(p, end, integral);
        if (e == nullptr) return expected_value(f, "a number", p, end);
        double v = 0;
        auto [q, ec] = std::from_chars(p, e, v);
        if (ec != std::errc() || q != e) {
          return expected_value(f, "a number in the range of a double", p, end);
        }
        col.append_double(v);
        p = e;
        return Status::ok();
      }
      case Type::kBool:
        if (match_literal(p, end, "true")) {
          col.append_bool(true);
        } else if (match_literal(p, end, "false")) {
          col.append_bool(false);
        } else {
          return expected_value(f, "true or false", p, end);
        }
        return Status::ok();
      case Type::kString:
      case Type::kBytes:
      case Type::kTimestamp:
      case Type::kDate:
      case Type::kDecimal:
      case Type::kJson: {
        if (p == end || *p != '"') {
          return expected_value(f, std::string("a string (") + type_name(type) + ")", p, end);
        }
        const char* start = p;
        std::string_view s;
        if (const char* err = parse_string(p, end, s, scratch_)) return column_error(f, err);
        if (type == Type::kString || type == Type::kDecimal || type == Type::kJson) {
          col.append_text(s);
          return Status::ok();
        }
        if (const char* want = text_io::append_parsed(col, type, s, bytes_scratch_)) {
          return expected_value(f, want, start, end);
        }
        return Status::ok();
      }
    }
    return column_error(f, "unsupported type");
  }

  // A value of a column that is not projected: checked for JSON syntax only.
  Status skip_value(const char*& p, const char* end, size_t f) {
    if (p < end && *p == '"') {
      std::string_view s;
      if (const char* err = parse_string(p, end, s, scratch_)) return column_error(f, err);
      return Status::ok();
    }
    if (match_literal(p, end, "null") || match_literal(p, end, "true") ||
        match_literal(p, end, "false")) {
      return Status::ok();
    }
    bool integral;
    if (const char* e = scan_number(p, end, integral)) {
      p = e;
      return Status::ok();
    }
    return expected_value(f, "a flat JSON value (string, number, true, false or null)", p, end);
  }

  uint64_t line_ = 0;
  uint64_t stamp_ = 0;
  std::vector<uint64_t> seen_;  // per file column: the stamp of the last line that had it
  size_t hint_ = 0;             // where the next key is looked for first
  std::string key_scratch_;
  std::string scratch_;
  std::string bytes_scratch_;
};

}  // namespace

Result<std::unique_ptr<FormatReader>> open_ndjson_reader(const FormatSpec& spec, ByteSource* source,
                                                         const ReadOptions& options) {
  auto r = std::make_unique<NdjsonReader>();
  STRATA_TRY(r->init("ndjson", spec, source, options));
  return std::unique_ptr<FormatReader>(std::move(r));
}

}  // namespace strata

// CSV reader: the inverse of csv_writer.cc (RFC 4180), typed by the schema the file was written
// with. The header row must name the schema's columns in order. Quoted fields may hold commas,
// doubled quotes and line breaks; "\r\n" and "\n" line ends are both accepted, and the last
// record must have one too (the writer always writes it), so that a cut file is an error. An empty
// unquoted field is NULL, "" is the empty string. A quote inside an unquoted field, text after a
// closing quote, a wrong number of fields, a value that does not parse as its column's type, or a
// file that ends inside quotes is a permanent error naming the source, line and column.
//
// Hand-written (there is no CSV library among the Debian packages we use): records are found in
// a reused window over the decompressed stream and their fields parsed in place; only fields with
// doubled quotes are copied.
#include <cstring>

#include "formats/text_formats.h"
#include "formats/text_io.h"

namespace strata {

namespace {

class CsvReader final : public text_io::TextReader {
 protected:
  Result<size_t> read_rows(Batch& batch, size_t max_rows) override {
    if (!header_checked_) {
      STRATA_TRY(check_header());
      header_checked_ = true;
    }
    size_t n = 0;
    std::string_view rec;
    while (n < max_rows) {
      STRATA_ASSIGN_OR_RETURN(bool got, next_record(rec));
      if (!got) break;
      STRATA_TRY(parse_row(rec, batch));
      ++n;
    }
    return n;
  }

 private:
  // The next record without its line end; false at the end of the file. Sets record_line_ to the
  // line the record starts on. The view lives until the next call.
  // A quote opens a quoted field only at the start of a field, as in RFC 4180; a stray quote
  // elsewhere leaves the record's end where the line ends and parse_row() reports it.
  Result<bool> next_record(std::string_view& rec) {
    enum class Scan { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
    text_io::InputWindow& w = *window_;
    size_t scanned = 0;
    Scan state = Scan::kFieldStart;
    uint64_t newlines = 0;
    for (;;) {
      const char* b = w.begin();
      const size_t avail = w.available();
      for (size_t i = scanned; i < avail; ++i) {
        const char c = b[i];
        if (state == Scan::kQuoted) {
          if (c == '"') {
            state = Scan::kQuoteInQuoted;
          } else if (c == '\n') {
            ++newlines;
          }
          continue;
        }
        if (c == '\n') {
          rec = trim_cr(std::string_view(b, i));
          w.consume_to(b + i + 1);
          record_line_ = line_ + 1;
          line_ += newlines + 1;
          return true;
        }
        if (c == ',') {
          state = Scan::kFieldStart;
        } else if (c == '"' && (state == Scan::kFieldStart || state == Scan::kQuoteInQuoted)) {
          state = Scan::kQuoted;  // an opening quote, or the second quote of a doubled pair
        } else {
          state = Scan::kUnquoted;
        }
      }
      scanned = avail;
      STRATA_ASSIGN_OR_RETURN(bool more, w.fill());
      if (!more) {
        if (w.available() == 0) return false;
        record_line_ = line_ + 1;
        if (state == Scan::kQuoted) {
          return error_at(record_line_,
                          "unterminated quoted field (the file ends inside quotes: truncated?)");
        }
        // The writer ends every record with "\n": a last record without one was cut short.
        return error_at(record_line_, "the last record has no line end (truncated file?)");
      }
    }
  }

  static std::string_view trim_cr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }

  // Calls on_field(index, text, quoted) for each field of `rec`, which must hold at most
  // `max_fields` fields; returns how many it had.
  template <typename OnField>
  Result<size_t> for_each_field(std::string_view rec, size_t max_fields, OnField&& on_field) {
    const char* p = rec.data();
    const char* const end = p + rec.size();
    size_t f = 0;
    for (;;) {
      if (f >= max_fields) {
        return error_at(record_line_, "more than the " + std::to_string(max_fields) +
                                          " fields of the schema's columns");
      }
      std::string_view field;
      bool quoted = false;
      if (p < end && *p == '"') {
        quoted = true;
        const char* start = ++p;
        bool doubled = false;
        const char* close = nullptr;
        while (close == nullptr) {
          const char* q =
              static_cast<const char*>(std::memchr(p, '"', static_cast<size_t>(end - p)));
          if (q == nullptr) {
            return error_at(record_line_,
                            "field " + std::to_string(f + 1) + ": unterminated quoted field");
          }
          if (q + 1 < end && q[1] == '"') {
            doubled = true;
            p = q + 2;
          } else {
            close = q;
            p = q + 1;
          }
        }
        if (doubled) {
          field_scratch_.clear();
          for (const char* s = start; s < close; ++s) {
            field_scratch_.push_back(*s);
            if (*s == '"') ++s;  // the second quote of a pair
          }
          field = field_scratch_;
        } else {
          field = std::string_view(start, static_cast<size_t>(close - start));
        }
        if (p < end && *p != ',') {
          return error_at(record_line_, "field " + std::to_string(f + 1) +
                                            ": expected ',' or the end of the line after a "
                                            "closing quote, found " +
                                            text_io::describe_text(p, end));
        }
      } else {
        const char* start = p;
        while (p < end && *p != ',') {
          if (*p == '"') {
            return error_at(record_line_,
                            "field " + std::to_string(f + 1) +
                                ": a quote inside an unquoted field (RFC 4180 wants the field "
                                "quoted and the quote doubled)");
          }
          ++p;
        }
        field = std::string_view(start, static_cast<size_t>(p - start));
      }
      STRATA_TRY(on_field(f, field, quoted));
      ++f;
      if (p == end) return f;
      ++p;  // the comma
    }
  }

  Status check_header() {
    std::string_view rec;
    STRATA_ASSIGN_OR_RETURN(bool got, next_record(rec));
    const Schema& s = *file_schema_;
    if (!got) {
      return Status::permanent(source_name_ + ": empty file (expected a header row naming " +
                               "the columns)");
    }
    STRATA_ASSIGN_OR_RETURN(
        size_t n, for_each_field(rec, s.size(), [&](size_t f, std::string_view name, bool) {
          if (name != s[f].name) {
            return error_at(record_line_, "header column " + std::to_string(f + 1) + " is '" +
                                              std::string(name) + "', the schema's column is '" +
                                              s[f].name + "'");
          }
          return Status::ok();
        }));
    if (n != s.size()) {
      return error_at(record_line_, "the header has " + std::to_string(n) +
                                        " columns; the schema's column '" + s[n].name +
                                        "' is missing");
    }
    return Status::ok();
  }

  Status parse_row(std::string_view rec, Batch& batch) {
    const Schema& s = *file_schema_;
    STRATA_ASSIGN_OR_RETURN(
        size_t n, for_each_field(rec, s.size(), [&](size_t f, std::string_view text, bool quoted) {
          const int oi = file_to_out_[f];
          if (oi < 0) return Status::ok();
          ColumnVector& col = batch.column(static_cast<size_t>(oi));
          if (!quoted && text.empty()) {
            col.append_null();
            return Status::ok();
          }
          if (const char* want = text_io::append_parsed(col, s[f].type, text, bytes_scratch_)) {
            return error_at(record_line_,
                            "column '" + s[f].name + "': expected " + want + ", found " +
                                text_io::describe_text(text.data(), text.data() + text.size()));
          }
          return Status::ok();
        }));
    if (n != s.size()) {
      return error_at(record_line_, "expected " + std::to_string(s.size()) + " fields, found " +
                                        std::to_string(n) + " (column '" + s[n].name +
                                        "' is missing)");
    }
    return Status::ok();
  }

  bool header_checked_ = false;
  uint64_t line_ = 0;         // lines consumed so far
  uint64_t record_line_ = 0;  // the line the current record starts on
  std::string field_scratch_;
  std::string bytes_scratch_;
};

}  // namespace

Result<std::unique_ptr<FormatReader>> open_csv_reader(const FormatSpec& spec, ByteSource* source,
                                                      const ReadOptions& options) {
  auto r = std::make_unique<CsvReader>();
  STRATA_TRY(r->init("csv", spec, source, options));
  return std::unique_ptr<FormatReader>(std::move(r));
}

}  // namespace strata

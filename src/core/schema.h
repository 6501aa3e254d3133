// Strata's logical types, schemas, single values and columnar batches.
//
// A Batch holds up to a few thousand rows column by column. Columns are appended to and cleared
// without releasing capacity, so a reader that reuses one Batch allocates nothing per row.
// Not thread-safe; a Batch is owned by one pipeline stage at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace strata {

enum class Type {
  kInt64,
  kDouble,
  kBool,
  kString,
  kBytes,
  kTimestamp,  // microseconds since 1970-01-01T00:00:00Z
  kDate,       // days since 1970-01-01
  kDecimal,    // exact decimal text, e.g. "-12.340"; precision/scale in Column
  kJson,       // JSON document text
};

const char* type_name(Type type);
Result<Type> parse_type_name(std::string_view name);

// How a type is stored in a ColumnVector.
enum class Storage { kInt, kDouble, kText };
Storage storage_of(Type type);

struct Column {
  std::string name;
  Type type = Type::kString;
  bool nullable = true;
  int precision = 0;        // kDecimal only; 0 = unknown
  int scale = 0;            // kDecimal only
  std::string source_type;  // the store's own type name, for messages and cold tables

  bool operator==(const Column&) const = default;
};

class Schema {
 public:
  Schema() = default;
  explicit Schema(std::vector<Column> columns) : columns_(std::move(columns)) {}

  const std::vector<Column>& columns() const { return columns_; }
  size_t size() const { return columns_.size(); }
  const Column& operator[](size_t i) const { return columns_[i]; }
  // Index of the column named `name`, or -1.
  int index_of(std::string_view name) const;
  void add(Column column) { columns_.push_back(std::move(column)); }

  bool operator==(const Schema&) const = default;

 private:
  std::vector<Column> columns_;
};

// One value of any type, used for keys, bounds and statistics (not on the per-row hot path).
// Int covers kInt64, kTimestamp, kDate and kBool; text covers string-like types.
struct Value {
  std::variant<std::monostate, int64_t, double, std::string> v;

  static Value null() { return Value{}; }
  static Value of_int(int64_t x) { return Value{x}; }
  static Value of_double(double x) { return Value{x}; }
  static Value of_text(std::string s) { return Value{std::move(s)}; }

  bool is_null() const { return std::holds_alternative<std::monostate>(v); }
  bool is_int() const { return std::holds_alternative<int64_t>(v); }
  bool is_double() const { return std::holds_alternative<double>(v); }
  bool is_text() const { return std::holds_alternative<std::string>(v); }
  int64_t as_int() const { return std::get<int64_t>(v); }
  double as_double() const { return std::get<double>(v); }
  const std::string& as_text() const { return std::get<std::string>(v); }

  // Total order within one alternative; null sorts first. Comparing int with double compares
  // numerically; text compares bytewise.
  int compare(const Value& other) const;
  bool operator==(const Value& other) const { return compare(other) == 0; }
  bool operator<(const Value& other) const { return compare(other) < 0; }
  // Human form for messages and plans: 42, 1.5, 'text', NULL.
  std::string to_string() const;
};

// One column of a batch: a validity vector plus storage chosen by the type.
class ColumnVector {
 public:
  explicit ColumnVector(Type type = Type::kString);

  Type type() const { return type_; }
  Storage storage() const { return storage_; }
  size_t size() const { return valid_.size(); }
  size_t null_count() const { return null_count_; }

  bool is_null(size_t i) const { return valid_[i] == 0; }
  int64_t int_at(size_t i) const { return ints_[i]; }
  double double_at(size_t i) const { return doubles_[i]; }
  bool bool_at(size_t i) const { return ints_[i] != 0; }
  std::string_view text_at(size_t i) const {
    return std::string_view(chars_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  Value value_at(size_t i) const;

  void append_null();
  void append_int(int64_t x) {
    valid_.push_back(1);
    ints_.push_back(x);
  }
  void append_double(double x) {
    valid_.push_back(1);
    doubles_.push_back(x);
  }
  void append_bool(bool x) { append_int(x ? 1 : 0); }
  void append_text(std::string_view s) {
    valid_.push_back(1);
    chars_.append(s.data(), s.size());
    offsets_.push_back(static_cast<uint64_t>(chars_.size()));
  }
  // Appends `v`, which must match the storage (int for kInt, etc.) or be null.
  void append_value(const Value& v);
  // Appends row `i` of `src`, which must have the same storage.
  void append_from(const ColumnVector& src, size_t i) {
    if (src.is_null(i)) return append_null();
    switch (storage_) {
      case Storage::kInt:
        return append_int(src.ints_[i]);
      case Storage::kDouble:
        return append_double(src.doubles_[i]);
      case Storage::kText:
        return append_text(src.text_at(i));
    }
  }

  // Empties the column, keeping capacity.
  void clear();
  void reserve(size_t rows);

  // Raw views for encoders. ints()/doubles() hold a slot for null rows too (value 0).
  const std::vector<uint8_t>& validity() const { return valid_; }
  const std::vector<int64_t>& ints() const { return ints_; }
  const std::vector<double>& doubles() const { return doubles_; }
  const std::vector<uint64_t>& offsets() const { return offsets_; }  // size() + 1 entries
  const std::string& chars() const { return chars_; }
  // Bytes held by the values (not capacity); for memory accounting and "bytes in" figures.
  size_t data_bytes() const;

 private:
  Type type_;
  Storage storage_;
  size_t null_count_ = 0;
  std::vector<uint8_t> valid_;
  std::vector<int64_t> ints_;
  std::vector<double> doubles_;
  std::vector<uint64_t> offsets_{0};
  std::string chars_;
};

class Batch {
 public:
  Batch() = default;
  explicit Batch(std::shared_ptr<const Schema> schema);

  const Schema& schema() const { return *schema_; }
  const std::shared_ptr<const Schema>& schema_ptr() const { return schema_; }
  size_t num_rows() const { return columns_.empty() ? 0 : columns_[0].size(); }
  size_t num_columns() const { return columns_.size(); }
  ColumnVector& column(size_t i) { return columns_[i]; }
  const ColumnVector& column(size_t i) const { return columns_[i]; }
  void clear();
  size_t data_bytes() const;
  // Appends rows [begin, end) of `src` (same schema).
  void append_rows(const Batch& src, size_t begin, size_t end);

 private:
  std::shared_ptr<const Schema> schema_;
  std::vector<ColumnVector> columns_;
};

// Text forms shared by every text format and by messages, so that a value written as text and
// read back is bit-identical.
// Timestamp: "2026-11-01T12:34:56.123456Z" (fraction omitted when zero).
std::string format_timestamp(int64_t micros);
void append_timestamp(std::string& out, int64_t micros);
Result<int64_t> parse_timestamp(std::string_view text);  // accepts 'T' or ' ', optional Z/offset
std::string format_date(int64_t days);
void append_date(std::string& out, int64_t days);
Result<int64_t> parse_date(std::string_view text);
// Shortest text that reads back as the same double; "NaN", "Infinity", "-Infinity".
void append_double(std::string& out, double x);
Result<double> parse_double(std::string_view text);
void append_int(std::string& out, int64_t x);
Result<int64_t> parse_int(std::string_view text);
// Civil date helpers (proleptic Gregorian, UTC).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d);

// The double nearest to a float's shortest decimal form (12.3f reads as 12.3, not
// 12.300000190734863): the value whoever stored the float meant, and what the database itself
// prints. Non-finite floats stay as they are. Recent conversions are remembered per thread (a
// float column repeats its values; the conversion itself costs a to_chars and a from_chars).
double float_as_decimal(float f);

}  // namespace strata

// How Strata columns map to Parquet leaf columns and back, exact decimal text <-> unscaled
// integers, and the "strata.schema" key-value entry that lets the reader restore a Strata schema
// exactly (decimal precision 0 written as STRING, source_type).
//
// Writer mapping (Column -> physical + logical type):
//   int64 -> INT64             timestamp -> INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)
//   double -> DOUBLE           date -> INT32 DATE
//   bool -> BOOLEAN            string -> BYTE_ARRAY STRING,  json -> BYTE_ARRAY JSON
//   bytes -> BYTE_ARRAY        decimal(p,s): p <= 9 INT32, p <= 18 INT64, p <= 38
//                              FIXED_LEN_BYTE_ARRAY (minimal width), all DECIMAL(p,s);
//                              p = 0 (unknown) or p > 38 -> BYTE_ARRAY STRING holding the text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "core/status.h"
#include "formats/parquet/parquet_thrift.h"

namespace strata::parquet {

using int128 = __int128;

constexpr int kMaxDecimalPrecision = 38;
constexpr const char* kStrataSchemaKey = "strata.schema";
constexpr const char* kStrataVersionKey = "strata.version";

// How values of one column are stored. Shared by the writer (encode) and reader (decode).
enum class ValueKind {
  kBool,             // BOOLEAN <-> int 0/1
  kInt32,            // INT32 <-> int64 (date, INT_8/16/32)
  kUInt32,           // INT32 read as unsigned (UINT_8/16/32); reader only
  kInt64,            // INT64 <-> int64 (int64, timestamp micros)
  kTimestampMillis,  // INT64 millis -> micros; reader only
  kTimestampNanos,   // INT64 nanos -> micros (floor); reader only
  kFloat,            // FLOAT -> double; reader only
  kDouble,           // DOUBLE <-> double
  kBytes,            // BYTE_ARRAY <-> text
  kFixedBytes,       // FIXED_LEN_BYTE_ARRAY -> text; reader only
  kDecimalInt32,     // INT32 unscaled <-> decimal text
  kDecimalInt64,     // INT64 unscaled <-> decimal text
  kDecimalFixed,     // FIXED_LEN_BYTE_ARRAY big-endian two's complement <-> decimal text
  kDecimalBytes,     // BYTE_ARRAY big-endian two's complement -> decimal text; reader only
};

struct ColumnLayout {
  PhysicalType physical = PhysicalType::kInt64;
  int32_t type_length = 0;  // FIXED_LEN_BYTE_ARRAY only
  ValueKind kind = ValueKind::kInt64;
  int precision = 0;  // decimal kinds
  int scale = 0;      // decimal kinds
  bool optional = true;
};

// The leaf SchemaElement and layout for writing `column`. Errors name the column.
Result<ColumnLayout> layout_for_writing(const Column& column, SchemaElement& element);

// The Strata column and layout for reading a leaf written by any Parquet writer. Unsupported
// types are permanent errors naming the column and the type.
Result<ColumnLayout> layout_for_reading(const SchemaElement& element, Column& column);

// Bytes of a FIXED_LEN_BYTE_ARRAY that holds every decimal of `precision` digits.
int decimal_fixed_width(int precision);

// Parses exact decimal text ("-12.340", "7", "+0.5", ".5") into the unscaled integer at `scale`.
// Fewer fraction digits than `scale` are padded; more are an error (the value would change), as
// are more than `precision` digits in total, exponents and anything but digits, sign and one dot.
// Returns an empty string on success, else what is wrong.
std::string parse_decimal(std::string_view text, int precision, int scale, int128& out);
// Canonical text of unscaled/10^scale: "-12.340", "0.500", "42"; what the reader returns.
void append_decimal(std::string& out, int128 unscaled, int scale);

// The "strata.schema" value: a JSON array with one object per column (name, type, nullable,
// precision, scale, source_type).
std::string encode_strata_schema(const Schema& schema);
Result<Schema> decode_strata_schema(std::string_view text);

}  // namespace strata::parquet

// PostgreSQL types <-> Strata types, and the binary COPY wire format both ways.
//
// Source mapping (describe): int2/int4/int8/oid -> int64; numeric(p,s) -> decimal(p,s), numeric
// without a typmod (or p > 38, or a negative scale) -> decimal precision 0 (exact text, written
// to Parquet as a string); float4/float8 -> double (float4 through its shortest decimal text, so
// 0.1::real reads as 0.1); text/varchar/bpchar/name/"char"/citext/uuid/enums/inet/cidr/macaddr
// -> string; time/timetz/interval -> string (ISO text; intervals as ISO 8601 durations);
// json/jsonb -> json; bytea -> bytes; bool -> bool; date -> date; timestamp/timestamptz ->
// timestamp (µs UTC; timestamp without time zone taken as UTC); domains as their base type;
// arrays of any of these -> json (a JSON array). Anything else is unsupported.
//
// Binary COPY values are decoded straight from libpq's buffer into ColumnVectors; numerics become
// exact decimal text, uuids canonical text. Values that Strata cannot hold (infinite dates and
// timestamps, numeric NaN/Infinity) are errors the caller words with the column and the key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/schema.h"
#include "core/status.h"

namespace strata::pg {

// 2000-01-01, PostgreSQL's epoch, relative to 1970-01-01.
constexpr int64_t kPgEpochDays = 10957;
constexpr int64_t kPgEpochMicros = kPgEpochDays * 86400LL * 1000000LL;

// How one column's binary value is decoded.
enum class Decode {
  kInt2,
  kInt4,
  kInt8,
  kOid,
  kFloat4,
  kFloat8,
  kBool,
  kText,  // raw bytes as text (text, varchar, json, and everything cast ::text / to_json)
  kJsonb,
  kBytes,
  kDate,
  kTimestamp,
  kNumeric,
  kUuid,
};

// What the catalog says about a column's type (domains already resolved to their base type).
struct CatalogType {
  std::string name;       // pg_type.typname of the (base) type, e.g. "int4", "_int4"
  char typtype = 'b';     // b base, e enum, d domain, c composite, r range, ...
  bool is_array = false;  // then `element*` describe the element type
  std::string element;
  char element_typtype = 'b';
  int typmod = -1;  // atttypmod
};

struct ColumnMapping {
  bool supported = false;
  Type type = Type::kString;
  int precision = 0;
  int scale = 0;
  Decode decode = Decode::kText;
  // How the column appears in the COPY select list: "" = as is, "text" = col::text,
  // "json" = to_json(col).
  std::string_view cast;
};

ColumnMapping map_type(const CatalogType& t);

// Decodes one non-null binary value into `out`. Returns "" or what is wrong with the value
// ("infinite timestamp", "numeric NaN", "bad length 3 for int4"). `scratch` is reused for
// numeric and uuid text.
std::string decode_value(Decode d, const char* p, size_t n, ColumnVector& out,
                         std::string& scratch);

// Exact text of a binary numeric ("-12.340"); "" on success, else what is wrong.
std::string numeric_text(const char* p, size_t n, std::string& out);

// The temporary load table's column type for a Strata type (values are sent in that type's
// binary form; decimals and JSON as text, cast by the INSERT).
const char* load_type(Type type);
// Appends the binary COPY field (length + bytes) for row `i` of `col` as load_type(col.type()).
void append_copy_field(const ColumnVector& col, size_t i, std::string& out);

// How a batch column goes straight into a table column by binary COPY, without a load table and
// a cast: in the column's own binary form.
enum class DirectCopy {
  kNone,     // no direct form: load through the temporary table
  kAsLoad,   // the table column has load_type's binary form (append_copy_field)
  kInt4,     // int64 -> integer (range-checked)
  kInt2,     // int64 -> smallint (range-checked)
  kFloat4,   // double -> real (rounded to the nearest; beyond real's range rejected)
  kJsonb,    // JSON text -> jsonb (version 1 + text)
  kNumeric,  // decimal text -> numeric
};
// `table_type` as format_type() shows it ("integer", "numeric(12,3)", "character varying(20)").
DirectCopy direct_copy(Type type, std::string_view table_type, bool table_is_array);
// Appends row `i` of `col` as `how` says; "" or why the value cannot go directly (an integer out
// of range, a double beyond real's range, malformed decimal text): nothing is appended then.
std::string append_direct_field(DirectCopy how, const ColumnVector& col, size_t i,
                                std::string& out);

// The input literal of a PostgreSQL array ('{{1,2},{3,NULL}}', '{"a b","x\\"y"}') for the JSON
// array an array column is archived as (to_json of the array: nested arrays for dimensions,
// strings, numbers, booleans, null, objects for json[] elements). "" or what is wrong.
std::string array_literal(std::string_view json, std::string& out);
// Like append_copy_field for a JSON column loaded into an array column: the value as
// array_literal. "" or what is wrong with the value (nothing is appended then).
std::string append_copy_array_field(const ColumnVector& col, size_t i, std::string& out,
                                    std::string& scratch);

// The PostgreSQL type for a Strata column in a table Strata creates: bigint, double precision,
// boolean, text, bytea, timestamptz, date, numeric(p,s) or numeric, jsonb.
std::string ddl_type(const Column& c);

}  // namespace strata::pg

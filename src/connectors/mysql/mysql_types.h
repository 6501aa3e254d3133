// How MySQL/MariaDB column types map to Strata types (from information_schema.COLUMNS), and how
// each column's text-protocol value is decoded into its ColumnVector.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/schema.h"

namespace strata::mysql {

// How a column's text value is turned into its ColumnVector.
enum class ReadKind {
  kInt,        // signed integer text
  kBits,       // BIT(n), selected as `col`+0: unsigned text kept as its 64-bit pattern
  kDouble,     // float/double text
  kText,       // strings, bytes, decimals, JSON, TIME, UUID, INET: the bytes as sent
  kTimestamp,  // "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC session) -> µs
  kDate,       // "YYYY-MM-DD" -> days
};

struct MappedColumn {
  Column column;
  ReadKind kind = ReadKind::kText;
};

// The Strata column for one information_schema.COLUMNS row, or nullopt when Strata cannot
// represent the type (geometry, ...). `data_type` is DATA_TYPE, `column_type` COLUMN_TYPE;
// `is_json` is true for MariaDB's JSON (longtext with a json_valid check) and MySQL's json.
std::optional<MappedColumn> map_column(std::string name, std::string_view data_type,
                                       std::string_view column_type, bool nullable,
                                       std::optional<int> precision, std::optional<int> scale,
                                       bool is_json);

// The MySQL column type for a Strata column in a cold table created from another kind of
// source: bigint, double, tinyint(1), longtext (varchar(255) for a key), longblob (varbinary(255)
// for a key), datetime(6), date, decimal(p,s) (65,30 when unknown), json.
std::string mysql_type_for(const Column& c, bool is_key);

}  // namespace strata::mysql

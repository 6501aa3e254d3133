// MySQL/MariaDB type mapping.
#include "connectors/mysql/mysql_types.h"

#include <algorithm>
#include <cctype>

namespace strata::mysql {

namespace {

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

}  // namespace

std::optional<MappedColumn> map_column(std::string name, std::string_view data_type_in,
                                       std::string_view column_type, bool nullable,
                                       std::optional<int> precision, std::optional<int> scale,
                                       bool is_json) {
  std::string data_type(data_type_in);
  std::transform(data_type.begin(), data_type.end(), data_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  MappedColumn m;
  m.column.name = std::move(name);
  m.column.nullable = nullable;
  m.column.source_type = std::string(column_type);
  if (one_of(data_type, {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})) {
    if (data_type == "bigint" && column_type.find("unsigned") != std::string_view::npos) {
      m.column.type = Type::kDecimal;  // 0..2^64-1 does not fit int64; decimal(20,0) is lossless
      m.column.precision = 20;
      m.column.scale = 0;
      m.kind = ReadKind::kText;
    } else {
      m.column.type = Type::kInt64;
      m.kind = ReadKind::kInt;
    }
  } else if (data_type == "year") {
    m.column.type = Type::kInt64;
    m.kind = ReadKind::kInt;
  } else if (data_type == "bit") {
    m.column.type = Type::kInt64;
    m.kind = ReadKind::kBits;
  } else if (one_of(data_type, {"decimal", "numeric"})) {
    m.column.type = Type::kDecimal;
    m.column.precision = precision.value_or(0);
    m.column.scale = scale.value_or(0);
    m.kind = ReadKind::kText;
  } else if (one_of(data_type, {"float", "double", "real", "double precision"})) {
    m.column.type = Type::kDouble;
    m.kind = ReadKind::kDouble;
  } else if (data_type == "json" ||
             (is_json && one_of(data_type, {"longtext", "text", "mediumtext"}))) {
    m.column.type = Type::kJson;
    m.column.source_type = "json";
    m.kind = ReadKind::kText;
  } else if (one_of(data_type, {"char", "varchar", "tinytext", "text", "mediumtext", "longtext",
                                "enum", "set", "time", "uuid", "inet4", "inet6"})) {
    m.column.type = Type::kString;
    m.kind = ReadKind::kText;
  } else if (one_of(data_type,
                    {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})) {
    m.column.type = Type::kBytes;
    m.kind = ReadKind::kText;
  } else if (data_type == "date") {
    m.column.type = Type::kDate;
    m.kind = ReadKind::kDate;
  } else if (one_of(data_type, {"datetime", "timestamp"})) {
    m.column.type = Type::kTimestamp;
    m.kind = ReadKind::kTimestamp;
  } else {
    return std::nullopt;
  }
  return m;
}

std::string mysql_type_for(const Column& c, bool is_key) {
  switch (c.type) {
    case Type::kInt64:
      return "bigint";
    case Type::kDouble:
      return "double";
    case Type::kBool:
      return "tinyint(1)";
    case Type::kString:
      return is_key ? "varchar(255)" : "longtext";
    case Type::kBytes:
      return is_key ? "varbinary(255)" : "longblob";
    case Type::kTimestamp:
      return "datetime(6)";
    case Type::kDate:
      return "date";
    case Type::kDecimal:
      if (c.precision > 0 && c.precision <= 65 && c.scale >= 0 && c.scale <= 30 &&
          c.scale <= c.precision) {
        return "decimal(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")";
      }
      return "decimal(65,30)";
    case Type::kJson:
      return "json";
  }
  return "longtext";
}

}  // namespace strata::mysql

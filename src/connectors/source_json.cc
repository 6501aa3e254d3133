// JSON forms of the values that travel in events, manifests and part metadata.
#include "connectors/source_json.h"

namespace strata {

using nlohmann::json;

json value_to_json(const Value& v) {
  if (v.is_null()) return nullptr;
  if (v.is_int()) return v.as_int();
  if (v.is_double()) return v.as_double();
  return v.as_text();
}

Value value_from_json(const json& j) {
  if (j.is_number_integer()) return Value::of_int(j.get<int64_t>());
  if (j.is_number()) return Value::of_double(j.get<double>());
  if (j.is_string()) return Value::of_text(j.get<std::string>());
  return Value::null();
}

json schema_to_json(const Schema& schema) {
  json cols = json::array();
  for (const Column& c : schema.columns()) {
    json col = {{"name", c.name}, {"type", type_name(c.type)}, {"nullable", c.nullable}};
    if (c.type == Type::kDecimal) {
      col["precision"] = c.precision;
      col["scale"] = c.scale;
    }
    if (!c.source_type.empty()) col["source_type"] = c.source_type;
    cols.push_back(std::move(col));
  }
  return cols;
}

Result<Schema> schema_from_json(const json& j) {
  if (!j.is_array()) return Status::permanent("schema must be an array of columns");
  Schema schema;
  for (const json& c : j) {
    if (!c.is_object() || !c.contains("name") || !c.contains("type")) {
      return Status::permanent("schema column needs 'name' and 'type'");
    }
    Column col;
    col.name = c["name"].get<std::string>();
    STRATA_ASSIGN_OR_RETURN(col.type, parse_type_name(c["type"].get<std::string>()));
    col.nullable = c.value("nullable", true);
    col.precision = c.value("precision", 0);
    col.scale = c.value("scale", 0);
    col.source_type = c.value("source_type", "");
    schema.add(std::move(col));
  }
  return schema;
}

json predicate_to_json(const Predicate& p) {
  json j = json::object();
  if (p.time_before) j["time_before"] = *p.time_before;
  if (p.time_from) j["time_from"] = *p.time_from;
  if (p.key_below) j["key_below"] = value_to_json(*p.key_below);
  if (p.key_from) j["key_from"] = value_to_json(*p.key_from);
  if (!p.where.empty()) j["where"] = p.where;
  if (p.time_before) j["time_before_text"] = format_timestamp(*p.time_before);
  if (p.time_from) j["time_from_text"] = format_timestamp(*p.time_from);
  return j;
}

Result<Predicate> predicate_from_json(const json& j) {
  if (!j.is_object()) return Status::permanent("predicate must be a JSON object");
  Predicate p;
  if (j.contains("time_before")) p.time_before = j["time_before"].get<int64_t>();
  if (j.contains("time_from")) p.time_from = j["time_from"].get<int64_t>();
  if (j.contains("key_below")) p.key_below = value_from_json(j["key_below"]);
  if (j.contains("key_from")) p.key_from = value_from_json(j["key_from"]);
  p.where = j.value("where", "");
  return p;
}

json shard_to_json(const Shard& s) {
  return json{{"index", s.index},
              {"lo", value_to_json(s.range.lo)},
              {"hi", value_to_json(s.range.hi)},
              {"estimated_rows", s.estimated_rows}};
}

Result<Shard> shard_from_json(const json& j) {
  if (!j.is_object() || !j.contains("index")) return Status::permanent("shard needs an 'index'");
  Shard s;
  s.index = j["index"].get<int>();
  s.range.lo = value_from_json(j.value("lo", json()));
  s.range.hi = value_from_json(j.value("hi", json()));
  s.estimated_rows = j.value("estimated_rows", int64_t{0});
  return s;
}

}  // namespace strata

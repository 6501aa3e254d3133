// JSON forms of keys, predicates, shards and schemas: how they travel in events, manifests,
// the state store and part-file metadata. Lossless (integers stay integers).
#pragma once

#include <nlohmann/json.hpp>

#include "connectors/source.h"
#include "core/schema.h"
#include "core/status.h"

namespace strata {

nlohmann::json value_to_json(const Value& v);
Value value_from_json(const nlohmann::json& j);
nlohmann::json schema_to_json(const Schema& schema);
Result<Schema> schema_from_json(const nlohmann::json& j);
nlohmann::json predicate_to_json(const Predicate& p);
Result<Predicate> predicate_from_json(const nlohmann::json& j);
nlohmann::json shard_to_json(const Shard& s);
Result<Shard> shard_from_json(const nlohmann::json& j);

}  // namespace strata

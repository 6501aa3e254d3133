// The payload of shard-level events (shard.requested, purge.requested): everything a stateless
// worker needs, so any worker on any machine can take any shard.
#pragma once

#include "connectors/source.h"
#include "policy/policy.h"
#include "runtime/event.h"

namespace strata {

struct ShardWork {
  std::string task_id;
  Policy policy;
  Predicate predicate;
  Shard shard;

  Json to_json() const;
  static Result<ShardWork> from_json(const Json& j);
};

}  // namespace strata

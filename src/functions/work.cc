#include "functions/work.h"

#include "functions/task.h"

namespace strata {

Json ShardWork::to_json() const {
  return Json{{"task_id", task_id},
              {"policy", policy.to_json()},
              {"predicate", predicate_to_json(predicate)},
              {"shard", shard_to_json(shard)}};
}

Result<ShardWork> ShardWork::from_json(const Json& j) {
  if (!j.is_object() || !j.contains("task_id") || !j.contains("policy") ||
      !j.contains("predicate") || !j.contains("shard")) {
    return Status::permanent("shard event needs task_id, policy, predicate and shard");
  }
  ShardWork w;
  w.task_id = j["task_id"].get<std::string>();
  STRATA_ASSIGN_OR_RETURN(w.policy, Policy::from_json(j["policy"]));
  STRATA_ASSIGN_OR_RETURN(w.predicate, predicate_from_json(j["predicate"]));
  STRATA_ASSIGN_OR_RETURN(w.shard, shard_from_json(j["shard"]));
  return w;
}

}  // namespace strata

// A task: one run of a policy. Its selection is resolved to constants when it is first planned
// (the cutoff "30 days ago" becomes a timestamp) and travels with every event, so all shards,
// retries and resumes of the task read and purge exactly the same rows.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "connectors/registry.h"
#include "connectors/source.h"
#include "connectors/source_json.h"
#include "core/clock.h"
#include "policy/policy.h"
#include "runtime/state_store.h"

namespace strata {

SourceSpec source_spec_of(const Policy& policy);
// The folder a target's files go under: target.dataset, else the table name without schema.
std::string dataset_of(const Policy& policy, const TargetConfig& target);
// The format of a target, checked.
Result<FormatSpec> format_of(const TargetConfig& target);

// Time-ordered, unique: "20261126T201530-3fa2c1".
std::string new_task_id(const Clock& clock);

// The selection of a new task. Copy mode continues after the last succeeded task of the policy
// (its cutoff becomes this task's lower bound) so a re-run archives only newly eligible rows.
Result<Predicate> resolve_predicate(const Policy& policy, const Schema& schema, int64_t now_micros,
                                    const std::optional<TaskRecord>& previous);

struct TaskPlan {
  Schema schema;
  Predicate predicate;
  std::vector<Shard> shards;
};

// Describes the source, checks the policy against its schema (key/time columns, layouts,
// formats), resolves the predicate (unless `fixed` is given: a resumed task keeps its own), and
// plans the shards. Touches nothing. With `pace`, the planning statements are paced by the
// policy's sleep_coef (split does this; `strata plan` answers at once).
Result<TaskPlan> plan_task(const Policy& policy, Source& source, const Clock& clock,
                           const std::optional<TaskRecord>& previous,
                           const std::optional<Predicate>& fixed = std::nullopt, bool pace = false);

// The predicate in words for plans and logs: "ts < '2026-10-27T20:15:30Z' AND (status <> 'x')".
std::string describe_predicate(const Policy& policy, const Predicate& p);

}  // namespace strata

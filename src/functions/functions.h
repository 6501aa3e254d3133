// The chain of functions (see docs/design.md):
//
//   strata.tasks --> split --> strata.shards.<kind> --> archive --> strata.purge --> purge
//   every function --> strata.status --> status (folds events into the state store)
//
// Handlers are transport-free: they read an Event, do their work through the connectors, and
// send events through the Context. All are idempotent, so at-least-once delivery is safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "functions/services.h"
#include "policy/policy.h"
#include "runtime/bus.h"
#include "runtime/scaler.h"

namespace strata {

Handler make_split_handler(Services& services);
Handler make_archive_handler(Services& services);
Handler make_purge_handler(Services& services);
Handler make_status_handler(Services& services);

struct ChainOptions {
  int archive_workers = 2;  // shards archived at once per source kind
  int purge_workers = 1;
  std::vector<std::string> source_kinds = {"sqlite"};
  RetryPolicy retry;
  // The functions this process runs, by name ("split", "archive-postgres", "purge", "status");
  // empty: all of them.
  std::vector<std::string> functions;
  // Functions run as scaled pools, by name: they start at `min` replicas with room for `max`
  // (a Scaler moves them). The others run archive_workers / purge_workers / 1 replicas.
  std::map<std::string, PoolBounds> pools;
};

// Every function name of the chain for these source kinds, in chain order.
std::vector<std::string> chain_function_names(const std::vector<std::string>& source_kinds);

// Subscribes the functions of the chain to `bus`, and turns dead letters into
// strata.shard.failed / strata.task.failed status events.
Status register_chain(Bus& bus, Services& services, const ChainOptions& options);

// The event that asks for a task to run (topic strata.tasks).
Event make_task_request(const std::string& task_id, const Policy& policy);
// The event that runs a finished task again with its stored policy: its plan is kept, and only
// the shards that are not done (failed or cancelled ones) run again.
Event make_retry_request(const TaskRecord& task);

}  // namespace strata

// What the functions need from the world, injected by whoever runs them (CLI, server, worker).
#pragma once

#include <chrono>
#include <string>

#include "connectors/registry.h"
#include "core/clock.h"
#include "core/duration.h"
#include "functions/source_cache.h"
#include "functions/throttle.h"
#include "runtime/event.h"
#include "runtime/state_store.h"

namespace strata {

struct Services {
  const Registry* registry = nullptr;
  // Read by split (resume), written by the status function; archive takes shard leases in it.
  StateStore* state = nullptr;
  // This process's name among the workers sharing the state store: archive holds a shard's lease
  // under it while it works, so a shard redelivered to another worker meanwhile waits. Empty:
  // one process runs every function (strata run), no leases.
  std::string worker_id;
  Micros lease_ttl = std::chrono::seconds(30);
  const Clock* clock = &system_clock();
  ThrottleRegistry throttles;
  // Open part writers per shard and target before the oldest is closed.
  int max_open_partitions = 16;
  // One process running the whole chain (strata run): the source sessions its archive and purge
  // workers share (see SessionGate). Null: no sharing; each pool has its own size.
  SessionGate* source_sessions = nullptr;
  // Shards reading from the source at once in this process (split.parallel). An archive worker
  // takes one before its shard starts and gives it back as soon as the shard's rows are read, so
  // that the next shard's read runs while this one closes, verifies and records its files. Null:
  // as many as there are archive workers.
  SessionGate* archive_reads = nullptr;
  // Each task's source, kept open across its functions in this process (see SourceCache). Null:
  // every function opens its own.
  SourceCache* sources = nullptr;
};

// The task's source: the one svc.sources keeps for it, else one opened for the caller alone.
Result<std::shared_ptr<Source>> open_task_source(const Services& svc, const std::string& task_id,
                                                 const SourceSpec& spec);
// Returns `s`; when it is a failure, first drops the cached source of the event's task (so its
// retry starts from new sessions and a new description of the table).
Status forget_source_on_failure(const Services& svc, const Json& event_data, Status s);

// Event types of the chain.
inline constexpr const char* kTaskRequested = "strata.task.requested";
inline constexpr const char* kTaskPlanned = "strata.task.planned";
inline constexpr const char* kTaskFailed = "strata.task.failed";
inline constexpr const char* kShardRequested = "strata.shard.requested";
inline constexpr const char* kShardStarted = "strata.shard.started";
inline constexpr const char* kBatchArchived = "strata.batch.archived";
inline constexpr const char* kShardArchived = "strata.shard.archived";
inline constexpr const char* kPurgeRequested = "strata.purge.requested";
inline constexpr const char* kPurgeProgress = "strata.purge.progress";
inline constexpr const char* kShardPurged = "strata.shard.purged";
inline constexpr const char* kShardFailed = "strata.shard.failed";
// A shard stopped because its task was cancelled (its files stay uncommitted, its rows unpurged).
inline constexpr const char* kShardCancelled = "strata.shard.cancelled";

// Whether a task was cancelled (strata cancel, POST /v1/tasks/{id}/cancel): archive and purge
// ask before they start and between batches. The state store is read at most once a second;
// without a state store nothing is ever cancelled.
class CancelWatch {
 public:
  CancelWatch(const Services& svc, std::string task_id);
  // True once the task's state is "cancelled". A failed read is not a cancel (logged).
  bool cancelled();

 private:
  const Services& svc_;
  const std::string task_id_;
  double checked_at_ = -1;
  bool cancelled_ = false;
};

}  // namespace strata

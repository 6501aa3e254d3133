// Where every task, shard and batch stands. Written by the status function, read by the CLI, the
// API and the split function (for resume); shard leases let several workers share a task.
// Thread-safe. Two implementations with the same schema and semantics: SQLite (one machine) and
// PostgreSQL (many processes on many machines).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/status.h"
#include "runtime/event.h"

namespace strata {

// Task states: "running" -> "succeeded" | "failed" | "cancelled".
inline bool task_finished(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}
// Shard states: "pending" -> "archiving" -> "archived" -> ("purging" ->) "done", or "failed" or
// "cancelled" (both run again when the task is retried).
struct TaskRecord {
  std::string id;
  std::string policy_name;
  std::string state = "running";
  int64_t created_at = 0;  // µs UTC
  int64_t updated_at = 0;
  int64_t finished_at = 0;          // 0 while running
  Json policy = Json::object();     // the resolved policy (no secrets: ${ENV} kept unexpanded)
  Json predicate = Json::object();  // the resolved selection: cutoffs as constants
  int shards_total = 0;
  int shards_done = 0;
  int shards_failed = 0;
  int64_t rows = 0;  // rows archived
  int64_t rows_purged = 0;
  int64_t bytes_in = 0;   // source bytes read (decoded values)
  int64_t bytes_out = 0;  // bytes written to targets
  std::string error;      // first error that failed a shard
};

struct ShardRecord {
  std::string task_id;
  int index = 0;
  std::string state = "pending";
  Json range = Json::object();  // {"lo":..,"hi":..}
  int64_t estimated_rows = 0;
  int64_t rows = 0;
  int64_t rows_purged = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int files = 0;
  int attempts = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  std::string error;
  // The shard's lease (claim_shard); read-only here: put_shard never changes it.
  std::string lease_owner;  // "" when nobody holds it
  int64_t lease_until = 0;  // µs UTC, by the store's clock
};

struct BatchRecord {
  std::string task_id;
  int shard = 0;
  int seq = 0;  // batch number within the shard, from 0
  int64_t rows = 0;
  int64_t bytes_in = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
};

// One worker's pool of one function: how many replicas take its events now (the scaler moves it
// between min and max on the backlog). Written by each worker, read by status.
struct PoolRecord {
  std::string worker;    // worker id ("host-pid")
  std::string function;  // "split", "archive-postgres", "purge", "status"
  int replicas = 0;
  int min_replicas = 0;
  int max_replicas = 0;
  int64_t backlog = 0;     // events waiting or in flight when last polled (all workers)
  int64_t updated_at = 0;  // µs UTC; a worker refreshes its rows at least every few seconds
};

struct DeadLetterRecord {
  std::string function;
  std::string topic;
  std::string event_json;
  int attempts = 0;
  std::string error;
  int64_t at = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Insert or replace by id / (task, index) / (task, shard, seq).
  virtual Status put_task(const TaskRecord& task) = 0;
  virtual Status put_shard(const ShardRecord& shard) = 0;
  virtual Status put_batch(const BatchRecord& batch) = 0;
  virtual Status put_dead_letter(const DeadLetterRecord& record) = 0;

  virtual Result<std::optional<TaskRecord>> get_task(const std::string& id) = 0;
  // Newest first.
  virtual Result<std::vector<TaskRecord>> list_tasks(int limit = 100) = 0;
  // The newest task of `policy_name` in state "running" (not finished), if any.
  virtual Result<std::optional<TaskRecord>> latest_unfinished(const std::string& policy_name) = 0;
  // The newest task of `policy_name` that succeeded, if any (for copy-mode watermarks).
  virtual Result<std::optional<TaskRecord>> latest_succeeded(const std::string& policy_name) = 0;
  virtual Result<std::optional<ShardRecord>> get_shard(const std::string& task_id, int index) = 0;
  virtual Result<std::vector<ShardRecord>> list_shards(const std::string& task_id) = 0;
  virtual Result<std::vector<BatchRecord>> list_batches(const std::string& task_id, int shard) = 0;
  virtual Result<std::vector<DeadLetterRecord>> list_dead_letters(int limit = 100) = 0;

  // Atomic read-modify-write of one shard, safe against other processes doing the same:
  // `change` gets the stored record (nullopt when missing) and returns true to write it back
  // (put_shard semantics; the lease is kept). It may run more than once when a transaction
  // must be retried, so it must not have side effects, and it must not call the store. The status
  // function's monotonic fold belongs in here when several status workers share a store.
  using ShardChange = std::function<bool(std::optional<ShardRecord>& shard)>;
  virtual Status update_shard(const std::string& task_id, int index, const ShardChange& change) = 0;
  // The same for one task: status refreshes, cancel and retry never overwrite each other.
  using TaskChange = std::function<bool(std::optional<TaskRecord>& task)>;
  virtual Status update_task(const std::string& id, const TaskChange& change) = 0;

  // Pools by (worker, function): insert or replace; every pool, by function then worker; and
  // removal of a stopping worker's pools.
  virtual Status put_pool(const PoolRecord& pool) = 0;
  virtual Result<std::vector<PoolRecord>> list_pools() = 0;
  virtual Status remove_pools(const std::string& worker) = 0;

  // Shard leases: one owner (a worker id) works on a shard at a time. The clock is the store's:
  // the database server's for PostgreSQL (shared by every machine), the local one for SQLite.
  // Claims shard (task, index) for `owner` until now + ttl unless another owner holds an
  // unexpired lease; true when claimed (or already held by owner, then renewed). Creates a
  // "pending" shard row when there is none.
  virtual Result<bool> claim_shard(const std::string& task_id, int index, const std::string& owner,
                                   Micros ttl) = 0;
  // Extends the lease `owner` holds to now + ttl. A permanent error if the lease was lost:
  // another owner claimed it after it expired, or it was released. (An expired lease nobody
  // claimed meanwhile is still the owner's, and is renewed.)
  virtual Status renew_shard(const std::string& task_id, int index, const std::string& owner,
                             Micros ttl) = 0;
  // Gives the lease up; ok (and no change) when `owner` does not hold it.
  virtual Status release_shard(const std::string& task_id, int index, const std::string& owner) = 0;
};

// SQLite state store at `path` (created with its directory if missing; WAL mode). A schema
// version table guards against opening a newer store with an older binary.
Result<std::unique_ptr<StateStore>> open_sqlite_state_store(const std::string& path);

// PostgreSQL state store: postgres://user[:password]@host[:port]/db[?schema=strata&sslmode=..]
// (libpq options as in the postgres connector; ${ENV} expanded at connect). The tables live in
// `schema` (default "strata"), created with it if missing. Safe for many processes at once:
// every write is one statement or one transaction with row locks. Connections are pooled and
// re-opened after a server restart; a lost connection fails the call with a retryable error.
Result<std::unique_ptr<StateStore>> open_postgres_state_store(const std::string& uri);

// By URI: sqlite://PATH (or a bare path), postgres:// / postgresql://.
Result<std::unique_ptr<StateStore>> open_state_store(const std::string& uri);

}  // namespace strata

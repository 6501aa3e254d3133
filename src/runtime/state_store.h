// Where every task, shard and batch stands. Written by the status function (one writer per
// process), read by the CLI, the API and the split function (for resume). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/event.h"

namespace strata {

// Task states: "running" -> "succeeded" | "failed" | "cancelled".
// Shard states: "pending" -> "archiving" -> "archived" -> ("purging" ->) "done", or "failed".
struct TaskRecord {
  std::string id;
  std::string policy_name;
  std::string state = "running";
  int64_t created_at = 0;   // µs UTC
  int64_t updated_at = 0;
  int64_t finished_at = 0;  // 0 while running
  Json policy = Json::object();     // the resolved policy (no secrets: ${ENV} kept unexpanded)
  Json predicate = Json::object();  // the resolved selection: cutoffs as constants
  int shards_total = 0;
  int shards_done = 0;
  int shards_failed = 0;
  int64_t rows = 0;        // rows archived
  int64_t rows_purged = 0;
  int64_t bytes_in = 0;    // source bytes read (decoded values)
  int64_t bytes_out = 0;   // bytes written to targets
  std::string error;       // first error that failed a shard
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
};

struct BatchRecord {
  std::string task_id;
  int shard = 0;
  int seq = 0;           // batch number within the shard, from 0
  int64_t rows = 0;
  int64_t bytes_in = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
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
};

// SQLite state store at `path` (created with its directory if missing; WAL mode). A schema
// version table guards against opening a newer store with an older binary.
Result<std::unique_ptr<StateStore>> open_sqlite_state_store(const std::string& path);

}  // namespace strata

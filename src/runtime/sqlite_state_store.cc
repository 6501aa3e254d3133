// The SQLite state store: one connection in WAL mode guarded by a mutex, prepared statements
// cached per SQL text, every write an upsert. All SQL lives in the `sql` namespace below.
//
// No foreign keys between tables on purpose: status events may arrive in any order (a shard's
// progress before its task's "planned" event), and every record must be storable on its own.
// The PostgreSQL store (pg_state_store.cc) has the same tables and statements; change both.
//
// Leases: the shard row's lease_owner / lease_until columns, written only by the lease
// statements (put_shard leaves them alone). Lease times use the local system clock.
#include <sqlite3.h>

#include <mutex>
#include <string_view>
#include <unordered_map>

#include "core/checksum.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/log.h"
#include "runtime/state_rows.h"
#include "runtime/state_store.h"

namespace strata {

namespace {

// Bump when the schema changes, and add the migration from the previous version to migrate().
constexpr int64_t kSchemaVersion = 3;

namespace sql {

constexpr const char* kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";
constexpr const char* kGetVersion = "SELECT MAX(version) FROM schema_version";
constexpr const char* kClearVersion = "DELETE FROM schema_version";
constexpr const char* kSetVersion = "INSERT INTO schema_version (version) VALUES (:version)";

// Version 1. Times are µs since the epoch, UTC; JSON documents are TEXT.
constexpr const char* kCreateTablesV1 = R"sql(
CREATE TABLE IF NOT EXISTS tasks (
  id            TEXT PRIMARY KEY,
  policy_name   TEXT NOT NULL,
  state         TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  finished_at   INTEGER NOT NULL,
  policy        TEXT NOT NULL,
  predicate     TEXT NOT NULL,
  shards_total  INTEGER NOT NULL,
  shards_done   INTEGER NOT NULL,
  shards_failed INTEGER NOT NULL,
  rows          INTEGER NOT NULL,
  rows_purged   INTEGER NOT NULL,
  bytes_in      INTEGER NOT NULL,
  bytes_out     INTEGER NOT NULL,
  error         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_at);
CREATE INDEX IF NOT EXISTS tasks_by_policy_state ON tasks (policy_name, state, created_at);

CREATE TABLE IF NOT EXISTS shards (
  task_id        TEXT NOT NULL,
  shard_index    INTEGER NOT NULL,
  state          TEXT NOT NULL,
  range          TEXT NOT NULL,
  estimated_rows INTEGER NOT NULL,
  rows           INTEGER NOT NULL,
  rows_purged    INTEGER NOT NULL,
  bytes_in       INTEGER NOT NULL,
  bytes_out      INTEGER NOT NULL,
  files          INTEGER NOT NULL,
  attempts       INTEGER NOT NULL,
  started_at     INTEGER NOT NULL,
  finished_at    INTEGER NOT NULL,
  error          TEXT NOT NULL,
  PRIMARY KEY (task_id, shard_index)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS batches (
  task_id     TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  rows        INTEGER NOT NULL,
  bytes_in    INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  PRIMARY KEY (task_id, shard_index, seq)
) WITHOUT ROWID;

-- One row per (function, event): a redelivered event dead-lettered again replaces its row.
CREATE TABLE IF NOT EXISTS dead_letters (
  id         INTEGER PRIMARY KEY,
  function   TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  topic      TEXT NOT NULL,
  event_json TEXT NOT NULL,
  attempts   INTEGER NOT NULL,
  error      TEXT NOT NULL,
  at         INTEGER NOT NULL,
  UNIQUE (function, event_id)
);
CREATE INDEX IF NOT EXISTS dead_letters_by_at ON dead_letters (at);
)sql";

// Version 2: shard leases.
constexpr const char* kMigrateV1ToV2 = R"sql(
ALTER TABLE shards ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE shards ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 3: worker pools.
constexpr const char* kMigrateV2ToV3 = R"sql(
CREATE TABLE IF NOT EXISTS pools (
  worker       TEXT NOT NULL,
  function     TEXT NOT NULL,
  replicas     INTEGER NOT NULL,
  min_replicas INTEGER NOT NULL,
  max_replicas INTEGER NOT NULL,
  backlog      INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (worker, function)
) WITHOUT ROWID;
)sql";

constexpr const char* kPutPool = R"sql(
INSERT INTO pools (worker, function, replicas, min_replicas, max_replicas, backlog, updated_at)
VALUES (:worker, :function, :replicas, :min_replicas, :max_replicas, :backlog, :updated_at)
ON CONFLICT (worker, function) DO UPDATE SET
  replicas = excluded.replicas, min_replicas = excluded.min_replicas,
  max_replicas = excluded.max_replicas, backlog = excluded.backlog, updated_at = excluded.updated_at
)sql";
constexpr const char* kListPools = R"sql(
SELECT worker, function, replicas, min_replicas, max_replicas, backlog, updated_at
FROM pools ORDER BY function, worker
)sql";
constexpr const char* kRemovePools = "DELETE FROM pools WHERE worker = :worker";

constexpr const char* kPutTask = R"sql(
INSERT INTO tasks (id, policy_name, state, created_at, updated_at, finished_at, policy, predicate,
                   shards_total, shards_done, shards_failed, rows, rows_purged, bytes_in,
                   bytes_out, error)
VALUES (:id, :policy_name, :state, :created_at, :updated_at, :finished_at, :policy, :predicate,
        :shards_total, :shards_done, :shards_failed, :rows, :rows_purged, :bytes_in, :bytes_out,
        :error)
ON CONFLICT (id) DO UPDATE SET
  policy_name = excluded.policy_name, state = excluded.state, created_at = excluded.created_at,
  updated_at = excluded.updated_at, finished_at = excluded.finished_at, policy = excluded.policy,
  predicate = excluded.predicate, shards_total = excluded.shards_total,
  shards_done = excluded.shards_done, shards_failed = excluded.shards_failed, rows = excluded.rows,
  rows_purged = excluded.rows_purged, bytes_in = excluded.bytes_in,
  bytes_out = excluded.bytes_out, error = excluded.error
)sql";

// Column order of every task SELECT; state_rows::task() reads in this order.
#define STRATA_TASK_COLUMNS                                                          \
  "id, policy_name, state, created_at, updated_at, finished_at, policy, predicate, " \
  "shards_total, shards_done, shards_failed, rows, rows_purged, bytes_in, bytes_out, error"

constexpr const char* kGetTask = "SELECT " STRATA_TASK_COLUMNS " FROM tasks WHERE id = :id";
constexpr const char* kListTasks =
    "SELECT " STRATA_TASK_COLUMNS " FROM tasks ORDER BY created_at DESC, rowid DESC LIMIT :limit";
constexpr const char* kLatestTaskInState =
    "SELECT " STRATA_TASK_COLUMNS
    " FROM tasks WHERE policy_name = :policy_name AND state = :state"
    " ORDER BY created_at DESC, rowid DESC LIMIT 1";
#undef STRATA_TASK_COLUMNS

constexpr const char* kPutShard = R"sql(
INSERT INTO shards (task_id, shard_index, state, range, estimated_rows, rows, rows_purged,
                    bytes_in, bytes_out, files, attempts, started_at, finished_at, error)
VALUES (:task_id, :shard_index, :state, :range, :estimated_rows, :rows, :rows_purged, :bytes_in,
        :bytes_out, :files, :attempts, :started_at, :finished_at, :error)
ON CONFLICT (task_id, shard_index) DO UPDATE SET
  state = excluded.state, range = excluded.range, estimated_rows = excluded.estimated_rows,
  rows = excluded.rows, rows_purged = excluded.rows_purged, bytes_in = excluded.bytes_in,
  bytes_out = excluded.bytes_out, files = excluded.files, attempts = excluded.attempts,
  started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error
)sql";

#define STRATA_SHARD_COLUMNS                                                          \
  "task_id, shard_index, state, range, estimated_rows, rows, rows_purged, bytes_in, " \
  "bytes_out, files, attempts, started_at, finished_at, error, lease_owner, lease_until"

constexpr const char* kGetShard =
    "SELECT " STRATA_SHARD_COLUMNS " FROM shards WHERE task_id = :task_id AND shard_index = :index";
constexpr const char* kListShards =
    "SELECT " STRATA_SHARD_COLUMNS " FROM shards WHERE task_id = :task_id ORDER BY shard_index";
#undef STRATA_SHARD_COLUMNS

constexpr const char* kPutBatch = R"sql(
INSERT INTO batches (task_id, shard_index, seq, rows, bytes_in, started_at, finished_at)
VALUES (:task_id, :shard_index, :seq, :rows, :bytes_in, :started_at, :finished_at)
ON CONFLICT (task_id, shard_index, seq) DO UPDATE SET
  rows = excluded.rows, bytes_in = excluded.bytes_in, started_at = excluded.started_at,
  finished_at = excluded.finished_at
)sql";

// Claims when nobody holds the lease, `owner` does, or it expired; a row comes back when claimed.
constexpr const char* kClaimShard = R"sql(
INSERT INTO shards (task_id, shard_index, state, range, estimated_rows, rows, rows_purged,
                    bytes_in, bytes_out, files, attempts, started_at, finished_at, error,
                    lease_owner, lease_until)
VALUES (:task_id, :shard_index, 'pending', '{}', 0, 0, 0, 0, 0, 0, 0, 0, 0, '', :owner, :until)
ON CONFLICT (task_id, shard_index) DO UPDATE SET
  lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
WHERE shards.lease_owner = '' OR shards.lease_owner = excluded.lease_owner
   OR shards.lease_until <= :now
RETURNING lease_owner
)sql";

constexpr const char* kRenewShard = R"sql(
UPDATE shards SET lease_until = :until
WHERE task_id = :task_id AND shard_index = :shard_index AND lease_owner = :owner
RETURNING lease_owner
)sql";

constexpr const char* kReleaseShard = R"sql(
UPDATE shards SET lease_owner = '', lease_until = 0
WHERE task_id = :task_id AND shard_index = :shard_index AND lease_owner = :owner
)sql";

constexpr const char* kListBatches = R"sql(
SELECT task_id, shard_index, seq, rows, bytes_in, started_at, finished_at
FROM batches WHERE task_id = :task_id AND shard_index = :shard_index ORDER BY seq
)sql";

constexpr const char* kPutDeadLetter = R"sql(
INSERT INTO dead_letters (function, event_id, topic, event_json, attempts, error, at)
VALUES (:function, :event_id, :topic, :event_json, :attempts, :error, :at)
ON CONFLICT (function, event_id) DO UPDATE SET
  topic = excluded.topic, event_json = excluded.event_json, attempts = excluded.attempts,
  error = excluded.error, at = excluded.at
)sql";

constexpr const char* kListDeadLetters = R"sql(
SELECT function, topic, event_json, attempts, error, at
FROM dead_letters ORDER BY at DESC, id DESC LIMIT :limit
)sql";

}  // namespace sql

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

struct DatabaseDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DatabasePtr = std::unique_ptr<sqlite3, DatabaseDeleter>;

// A Status for SQLite result `rc`: names the database and the operation. Busy and locked
// databases are retryable (another process holds the lock past busy_timeout); the rest is not.
Status sqlite_status(int rc, sqlite3* db, const std::string& path, std::string_view op) {
  std::string msg = "state store " + path + ": " + std::string(op) + ": " +
                    (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::retryable(msg + " (another process holds the database lock)");
    case SQLITE_FULL:
      return Status::permanent(msg + " (the disk is full: free space)");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return Status::permanent(msg + " (check the path and its permissions)");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Status::permanent(msg + " (the file is not a usable strata state store)");
    default:
      return Status::permanent(msg);
  }
}

// The key of a dead letter: the event id inside `event_json`, or a digest of the text when the
// event could not even be parsed (so unparseable events still get one row each).
std::string dead_letter_event_id(const std::string& event_json) {
  Json j = Json::parse(event_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto it = j.find("id");
    if (it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
      return it->get<std::string>();
    }
  }
  Sha256 sha;
  sha.update(event_json.data(), event_json.size());
  return "sha256:" + sha.hex_digest();
}

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

class SqliteStateStore final : public StateStore {
 public:
  SqliteStateStore(std::string path, DatabasePtr db) : path_(std::move(path)), db_(std::move(db)) {}

  // Applies the pragmas and creates or checks the schema.
  Status init();

  Status put_task(const TaskRecord& t) override;
  Status put_shard(const ShardRecord& s) override;
  Status put_batch(const BatchRecord& b) override;
  Status put_dead_letter(const DeadLetterRecord& d) override;
  Result<std::optional<TaskRecord>> get_task(const std::string& id) override;
  Result<std::vector<TaskRecord>> list_tasks(int limit) override;
  Result<std::optional<TaskRecord>> latest_unfinished(const std::string& policy_name) override;
  Result<std::optional<TaskRecord>> latest_succeeded(const std::string& policy_name) override;
  Result<std::optional<ShardRecord>> get_shard(const std::string& task_id, int index) override;
  Result<std::vector<ShardRecord>> list_shards(const std::string& task_id) override;
  Result<std::vector<BatchRecord>> list_batches(const std::string& task_id, int shard) override;
  Result<std::vector<DeadLetterRecord>> list_dead_letters(int limit) override;
  Status update_shard(const std::string& task_id, int index, const ShardChange& change) override;
  Status update_task(const std::string& id, const TaskChange& change) override;
  Status put_pool(const PoolRecord& pool) override;
  Result<std::vector<PoolRecord>> list_pools() override;
  Status remove_pools(const std::string& worker) override;
  Result<bool> claim_shard(const std::string& task_id, int index, const std::string& owner,
                           Micros ttl) override;
  Status renew_shard(const std::string& task_id, int index, const std::string& owner,
                     Micros ttl) override;
  Status release_shard(const std::string& task_id, int index, const std::string& owner) override;

 private:
  class Query;

  // With mu_ held.
  Status put_task_locked(const TaskRecord& t);
  Result<std::optional<TaskRecord>> get_task_locked(const std::string& id);
  Status put_shard_locked(const ShardRecord& s);
  Result<std::optional<ShardRecord>> get_shard_locked(const std::string& task_id, int index);

  Status exec(const char* sql_text, std::string_view op);
  Result<sqlite3_stmt*> statement(const char* sql_text, std::string_view op);
  Result<std::optional<TaskRecord>> latest_task_in_state(const std::string& policy_name,
                                                         const char* state, std::string_view op);

  const std::string path_;
  std::mutex mu_;  // guards db_ and statements_; held for each whole operation
  DatabasePtr db_;
  std::unordered_map<const char*, StatementPtr> statements_;  // keyed by the sql:: constant
};

// One use of a cached statement, with mu_ held: binds parameters by name, steps, reads the
// columns of the current row in SELECT order. Resets the statement when it goes out of scope.
class SqliteStateStore::Query {
 public:
  Query(const SqliteStateStore& store, sqlite3_stmt* stmt, std::string_view op)
      : store_(store), stmt_(stmt), op_(op) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  Query& bind(const char* name, int64_t v) {
    int i = index_of(name);
    if (i > 0) check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Query& bind(const char* name, const std::string& v) {
    int i = index_of(name);
    if (i > 0) {
      check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    return *this;
  }
  Query& bind_json(const char* name, const Json& v) { return bind(name, dump_json(v)); }

  // True when a row is ready, false when done.
  Result<bool> step() {
    if (!error_.is_ok()) return error_;
    column_ = 0;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqlite_status(rc, sqlite3_db_handle(stmt_), store_.path_, op_);
  }
  Status run() {
    Result<bool> r = step();
    return r.is_ok() ? Status::ok() : r.status();
  }

  int64_t int64() { return sqlite3_column_int64(stmt_, column_++); }
  int int32() { return static_cast<int>(int64()); }
  std::string text() {
    const int i = column_++;
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, i));
  }
  Result<Json> json() {
    const char* name = sqlite3_column_name(stmt_, column_);
    const std::string raw = text();
    if (raw.empty()) return Json::object();
    Json j = Json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return Status::permanent("state store " + store_.path_ + ": " + std::string(op_) +
                               ": column " + name + " does not hold valid JSON");
    }
    return j;
  }

 private:
  int index_of(const char* name) {
    int i = sqlite3_bind_parameter_index(stmt_, name);
    if (i == 0 && error_.is_ok()) {
      error_ = Status::permanent("state store " + store_.path_ + ": " + std::string(op_) +
                                 ": no SQL parameter " + name + " (a strata bug)");
    }
    return i;
  }
  void check(int rc) {
    if (rc != SQLITE_OK && error_.is_ok()) {
      error_ = sqlite_status(rc, sqlite3_db_handle(stmt_), store_.path_, op_);
    }
  }

  const SqliteStateStore& store_;
  sqlite3_stmt* stmt_;
  std::string_view op_;
  int column_ = 0;
  Status error_;
};

Status SqliteStateStore::exec(const char* sql_text, std::string_view op) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), sql_text, nullptr, nullptr, &err);
  sqlite3_free(err);  // sqlite3_errmsg() below says the same
  if (rc != SQLITE_OK) return sqlite_status(rc, db_.get(), path_, op);
  return Status::ok();
}

Result<sqlite3_stmt*> SqliteStateStore::statement(const char* sql_text, std::string_view op) {
  auto it = statements_.find(sql_text);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql_text, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return sqlite_status(rc, db_.get(), path_, op);
  }
  statements_.emplace(sql_text, StatementPtr(raw));
  return raw;
}

Status SqliteStateStore::init() {
  std::lock_guard lock(mu_);
  sqlite3_busy_timeout(db_.get(), 5000);
  sqlite3_extended_result_codes(db_.get(), 1);
  // journal_mode answers with a row; sqlite3_exec ignores it. ":memory:" stays "memory".
  STRATA_TRY(exec("PRAGMA journal_mode = WAL", "enable WAL mode"));
  STRATA_TRY(exec("PRAGMA synchronous = NORMAL", "set synchronous mode"));

  // IMMEDIATE: two processes opening a fresh store at once create the schema only once.
  STRATA_TRY(exec("BEGIN IMMEDIATE", "begin schema transaction"));
  auto check_schema = [&]() -> Status {
    STRATA_TRY(exec(sql::kCreateVersionTable, "create schema_version table"));
    int64_t version = 0;
    {
      STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt,
                              statement(sql::kGetVersion, "read schema version"));
      Query q(*this, stmt, "read schema version");
      STRATA_ASSIGN_OR_RETURN(bool row, q.step());
      if (row) version = q.int64();  // NULL (no row yet) reads as 0
    }
    if (version > kSchemaVersion) {
      return Status::permanent(
          "state store " + path_ + " has schema version " + std::to_string(version) +
          ", newer than this strata binary supports (" + std::to_string(kSchemaVersion) +
          "): upgrade strata, or point it at another state store");
    }
    if (version == kSchemaVersion) return Status::ok();
    // Migrations in order: version 0 is a new store.
    if (version < 1) STRATA_TRY(exec(sql::kCreateTablesV1, "create tables"));
    if (version < 2) STRATA_TRY(exec(sql::kMigrateV1ToV2, "add the shard lease columns"));
    if (version < 3) STRATA_TRY(exec(sql::kMigrateV2ToV3, "add the pools table"));
    STRATA_TRY(exec(sql::kClearVersion, "write schema version"));
    STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * set,
                            statement(sql::kSetVersion, "write schema version"));
    Query q(*this, set, "write schema version");
    q.bind(":version", kSchemaVersion);
    return q.run();
  };
  Status s = check_schema();
  if (!s.is_ok()) {
    (void)exec("ROLLBACK", "rollback schema transaction");
    return s;
  }
  return exec("COMMIT", "commit schema transaction");
}

Status SqliteStateStore::put_task(const TaskRecord& t) {
  std::lock_guard lock(mu_);
  return put_task_locked(t);
}

Status SqliteStateStore::put_task_locked(const TaskRecord& t) {
  static constexpr std::string_view kOp = "put task";
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kPutTask, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":id", t.id)
      .bind(":policy_name", t.policy_name)
      .bind(":state", t.state)
      .bind(":created_at", t.created_at)
      .bind(":updated_at", t.updated_at)
      .bind(":finished_at", t.finished_at)
      .bind_json(":policy", t.policy)
      .bind_json(":predicate", t.predicate)
      .bind(":shards_total", t.shards_total)
      .bind(":shards_done", t.shards_done)
      .bind(":shards_failed", t.shards_failed)
      .bind(":rows", t.rows)
      .bind(":rows_purged", t.rows_purged)
      .bind(":bytes_in", t.bytes_in)
      .bind(":bytes_out", t.bytes_out)
      .bind(":error", t.error);
  return q.run().with_context("task " + t.id);
}

Status SqliteStateStore::put_shard(const ShardRecord& s) {
  std::lock_guard lock(mu_);
  return put_shard_locked(s);
}

Status SqliteStateStore::put_shard_locked(const ShardRecord& s) {
  static constexpr std::string_view kOp = "put shard";
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kPutShard, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", s.task_id)
      .bind(":shard_index", s.index)
      .bind(":state", s.state)
      .bind_json(":range", s.range)
      .bind(":estimated_rows", s.estimated_rows)
      .bind(":rows", s.rows)
      .bind(":rows_purged", s.rows_purged)
      .bind(":bytes_in", s.bytes_in)
      .bind(":bytes_out", s.bytes_out)
      .bind(":files", s.files)
      .bind(":attempts", s.attempts)
      .bind(":started_at", s.started_at)
      .bind(":finished_at", s.finished_at)
      .bind(":error", s.error);
  return q.run().with_context("shard " + s.task_id + "/" + std::to_string(s.index));
}

Status SqliteStateStore::put_batch(const BatchRecord& b) {
  static constexpr std::string_view kOp = "put batch";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kPutBatch, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", b.task_id)
      .bind(":shard_index", b.shard)
      .bind(":seq", b.seq)
      .bind(":rows", b.rows)
      .bind(":bytes_in", b.bytes_in)
      .bind(":started_at", b.started_at)
      .bind(":finished_at", b.finished_at);
  return q.run().with_context("batch " + b.task_id + "/" + std::to_string(b.shard) + "/" +
                              std::to_string(b.seq));
}

Status SqliteStateStore::put_dead_letter(const DeadLetterRecord& d) {
  static constexpr std::string_view kOp = "put dead letter";
  const std::string event_id = dead_letter_event_id(d.event_json);
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kPutDeadLetter, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":function", d.function)
      .bind(":event_id", event_id)
      .bind(":topic", d.topic)
      .bind(":event_json", d.event_json)
      .bind(":attempts", d.attempts)
      .bind(":error", d.error)
      .bind(":at", d.at);
  return q.run().with_context("event " + event_id + " of function " + d.function);
}

// Reads every row of `q` with `read`.
template <typename Record, typename Reader>
Result<std::vector<Record>> read_all(auto& q, Reader read) {
  std::vector<Record> out;
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return out;
    STRATA_ASSIGN_OR_RETURN(Record r, read(q));
    out.push_back(std::move(r));
  }
}

// Reads the first row of `q` with `read`, if there is one.
template <typename Record, typename Reader>
Result<std::optional<Record>> read_one(auto& q, Reader read) {
  STRATA_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return std::optional<Record>();
  STRATA_ASSIGN_OR_RETURN(Record r, read(q));
  return std::optional<Record>(std::move(r));
}

Result<std::optional<TaskRecord>> SqliteStateStore::get_task(const std::string& id) {
  std::lock_guard lock(mu_);
  return get_task_locked(id);
}

Result<std::optional<TaskRecord>> SqliteStateStore::get_task_locked(const std::string& id) {
  static constexpr std::string_view kOp = "get task";
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kGetTask, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":id", id);
  return read_one<TaskRecord>(q, state_rows::task<Query>);
}

Result<std::vector<TaskRecord>> SqliteStateStore::list_tasks(int limit) {
  static constexpr std::string_view kOp = "list tasks";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kListTasks, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":limit", limit < 0 ? int64_t{-1} : int64_t{limit});  // -1: no limit
  return read_all<TaskRecord>(q, state_rows::task<Query>);
}

Result<std::optional<TaskRecord>> SqliteStateStore::latest_task_in_state(
    const std::string& policy_name, const char* state, std::string_view op) {
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kLatestTaskInState, op));
  Query q(*this, stmt, op);
  q.bind(":policy_name", policy_name).bind(":state", std::string(state));
  return read_one<TaskRecord>(q, state_rows::task<Query>);
}

Result<std::optional<TaskRecord>> SqliteStateStore::latest_unfinished(
    const std::string& policy_name) {
  return latest_task_in_state(policy_name, "running", "latest unfinished task");
}

Result<std::optional<TaskRecord>> SqliteStateStore::latest_succeeded(
    const std::string& policy_name) {
  return latest_task_in_state(policy_name, "succeeded", "latest succeeded task");
}

Result<std::optional<ShardRecord>> SqliteStateStore::get_shard(const std::string& task_id,
                                                               int index) {
  std::lock_guard lock(mu_);
  return get_shard_locked(task_id, index);
}

Result<std::optional<ShardRecord>> SqliteStateStore::get_shard_locked(const std::string& task_id,
                                                                      int index) {
  static constexpr std::string_view kOp = "get shard";
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kGetShard, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", task_id).bind(":index", index);
  return read_one<ShardRecord>(q, state_rows::shard<Query>);
}

Result<std::vector<ShardRecord>> SqliteStateStore::list_shards(const std::string& task_id) {
  static constexpr std::string_view kOp = "list shards";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kListShards, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", task_id);
  return read_all<ShardRecord>(q, state_rows::shard<Query>);
}

Result<std::vector<BatchRecord>> SqliteStateStore::list_batches(const std::string& task_id,
                                                                int shard) {
  static constexpr std::string_view kOp = "list batches";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kListBatches, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", task_id).bind(":shard_index", shard);
  return read_all<BatchRecord>(q, state_rows::batch<Query>);
}

Result<std::vector<DeadLetterRecord>> SqliteStateStore::list_dead_letters(int limit) {
  static constexpr std::string_view kOp = "list dead letters";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kListDeadLetters, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":limit", limit < 0 ? int64_t{-1} : int64_t{limit});
  return read_all<DeadLetterRecord>(q, state_rows::dead_letter<Query>);
}

std::string shard_name(const std::string& task_id, int index) {
  return "shard " + task_id + "/" + std::to_string(index);
}

// IMMEDIATE takes the write lock up front, so no other process writes between the read and the
// write; within this process mu_ serializes.
Status SqliteStateStore::update_shard(const std::string& task_id, int index,
                                      const ShardChange& change) {
  std::lock_guard lock(mu_);
  STRATA_TRY(exec("BEGIN IMMEDIATE", "begin shard update"));
  auto body = [&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(std::optional<ShardRecord> shard, get_shard_locked(task_id, index));
    if (!change(shard) || !shard) return Status::ok();
    shard->task_id = task_id;
    shard->index = index;
    return put_shard_locked(*shard);
  };
  Status s = body();
  if (!s.is_ok()) {
    (void)exec("ROLLBACK", "rollback shard update");
    return s.with_context(shard_name(task_id, index));
  }
  return exec("COMMIT", "commit shard update");
}

Status SqliteStateStore::update_task(const std::string& id, const TaskChange& change) {
  std::lock_guard lock(mu_);
  STRATA_TRY(exec("BEGIN IMMEDIATE", "begin task update"));
  auto body = [&]() -> Status {
    STRATA_ASSIGN_OR_RETURN(std::optional<TaskRecord> task, get_task_locked(id));
    if (!change(task) || !task) return Status::ok();
    task->id = id;
    return put_task_locked(*task);
  };
  Status s = body();
  if (!s.is_ok()) {
    (void)exec("ROLLBACK", "rollback task update");
    return s.with_context("task " + id);
  }
  return exec("COMMIT", "commit task update");
}

Status SqliteStateStore::put_pool(const PoolRecord& p) {
  static constexpr std::string_view kOp = "put pool";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kPutPool, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":worker", p.worker)
      .bind(":function", p.function)
      .bind(":replicas", p.replicas)
      .bind(":min_replicas", p.min_replicas)
      .bind(":max_replicas", p.max_replicas)
      .bind(":backlog", p.backlog)
      .bind(":updated_at", p.updated_at);
  return q.run().with_context("pool " + p.function + " of " + p.worker);
}

Result<std::vector<PoolRecord>> SqliteStateStore::list_pools() {
  static constexpr std::string_view kOp = "list pools";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kListPools, kOp));
  Query q(*this, stmt, kOp);
  return read_all<PoolRecord>(q, state_rows::pool<Query>);
}

Status SqliteStateStore::remove_pools(const std::string& worker) {
  static constexpr std::string_view kOp = "remove pools";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kRemovePools, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":worker", worker);
  return q.run().with_context("pools of " + worker);
}

Result<bool> SqliteStateStore::claim_shard(const std::string& task_id, int index,
                                           const std::string& owner, Micros ttl) {
  static constexpr std::string_view kOp = "claim shard";
  if (owner.empty()) return Status::permanent("state store " + path_ + ": claim with no owner");
  const int64_t now = system_clock().now_micros();
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kClaimShard, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", task_id)
      .bind(":shard_index", index)
      .bind(":owner", owner)
      .bind(":until", now + ttl.count())
      .bind(":now", now);
  Result<bool> row = q.step();
  if (!row.is_ok()) return row.status().with_context(shard_name(task_id, index));
  return *row;
}

Status SqliteStateStore::renew_shard(const std::string& task_id, int index,
                                     const std::string& owner, Micros ttl) {
  static constexpr std::string_view kOp = "renew shard lease";
  const int64_t now = system_clock().now_micros();
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kRenewShard, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", task_id)
      .bind(":shard_index", index)
      .bind(":owner", owner)
      .bind(":until", now + ttl.count());
  Result<bool> row = q.step();
  if (!row.is_ok()) return row.status().with_context(shard_name(task_id, index));
  if (!*row) {
    return Status::permanent("state store " + path_ + ": " + shard_name(task_id, index) +
                             ": the lease of " + owner +
                             " was lost (another worker claimed the shard after the lease "
                             "expired, or it was released): stop working on this shard");
  }
  return Status::ok();
}

Status SqliteStateStore::release_shard(const std::string& task_id, int index,
                                       const std::string& owner) {
  static constexpr std::string_view kOp = "release shard lease";
  std::lock_guard lock(mu_);
  STRATA_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, statement(sql::kReleaseShard, kOp));
  Query q(*this, stmt, kOp);
  q.bind(":task_id", task_id).bind(":shard_index", index).bind(":owner", owner);
  return q.run().with_context(shard_name(task_id, index));
}

}  // namespace

Result<std::unique_ptr<StateStore>> open_sqlite_state_store(const std::string& path) {
  if (path.empty()) return Status::permanent("state store: empty database path");
  const bool in_memory = path == ":memory:";
  if (!in_memory) {
    Status dir = make_dirs(parent_dir(path));
    if (!dir.is_ok()) return dir.with_context("state store " + path);
  }
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DatabasePtr db(raw);  // closes even when open failed
  if (rc != SQLITE_OK) return sqlite_status(rc, db.get(), path, "open");
  auto store = std::make_unique<SqliteStateStore>(path, std::move(db));
  STRATA_TRY(store->init());
  spdlog::debug("state store {} open (schema version {})", path, kSchemaVersion);
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace strata

// The PostgreSQL state store: the SQLite store's tables and statements (sqlite_state_store.cc;
// change both together) in one schema of a shared database, for many processes on many
// machines. Every write is a single statement (an upsert, or an UPDATE whose WHERE decides a
// lease) or one transaction holding the shard's row lock (update_shard), so concurrent writers
// never lose each other's changes. Connections come from the postgres connector's pool (URI
// options, ${ENV} expansion, TLS and the SQLSTATE -> retryable/permanent mapping are shared);
// a call that finds its pooled connection dead (server restarted) retries once on a new one.
//
// Lease times are the database server's clock (statement_timestamp()), shared by every worker.
#include <libpq-fe.h>

#include <cctype>
#include <optional>
#include <string_view>

#include "connectors/postgres/pg_connection.h"
#include "core/checksum.h"
#include "core/log.h"
#include "core/uri.h"
#include "runtime/state_rows.h"
#include "runtime/state_store.h"

namespace strata {

namespace {

// The same version numbers as the SQLite store: version 2 has the shard leases. A new store is
// created at the current version directly.
constexpr int64_t kSchemaVersion = 3;

namespace sql {

// "{s}" stands for the quoted schema name in every statement.
constexpr const char* kCreateSchema = R"sql(
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.schema_version (version BIGINT NOT NULL);
)sql";
constexpr const char* kGetVersion = "SELECT MAX(version) FROM {s}.schema_version";
constexpr const char* kSetVersion =
    "DELETE FROM {s}.schema_version; INSERT INTO {s}.schema_version (version) VALUES (3)";
// Serializes schema creation between processes opening a new store at once.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(hashtext($1))";

// Times are µs since the epoch, UTC; JSON documents are TEXT (kept byte for byte). `seq` orders
// rows written in the same microsecond, like SQLite's rowid.
constexpr const char* kCreateTables = R"sql(
CREATE TABLE IF NOT EXISTS {s}.tasks (
  seq           BIGINT GENERATED ALWAYS AS IDENTITY,
  id            TEXT PRIMARY KEY,
  policy_name   TEXT NOT NULL,
  state         TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  finished_at   BIGINT NOT NULL,
  policy        TEXT NOT NULL,
  predicate     TEXT NOT NULL,
  shards_total  INTEGER NOT NULL,
  shards_done   INTEGER NOT NULL,
  shards_failed INTEGER NOT NULL,
  rows          BIGINT NOT NULL,
  rows_purged   BIGINT NOT NULL,
  bytes_in      BIGINT NOT NULL,
  bytes_out     BIGINT NOT NULL,
  error         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_created ON {s}.tasks (created_at, seq);
CREATE INDEX IF NOT EXISTS tasks_by_policy_state ON {s}.tasks (policy_name, state, created_at);

CREATE TABLE IF NOT EXISTS {s}.shards (
  task_id        TEXT NOT NULL,
  shard_index    INTEGER NOT NULL,
  state          TEXT NOT NULL,
  range          TEXT NOT NULL,
  estimated_rows BIGINT NOT NULL,
  rows           BIGINT NOT NULL,
  rows_purged    BIGINT NOT NULL,
  bytes_in       BIGINT NOT NULL,
  bytes_out      BIGINT NOT NULL,
  files          INTEGER NOT NULL,
  attempts       INTEGER NOT NULL,
  started_at     BIGINT NOT NULL,
  finished_at    BIGINT NOT NULL,
  error          TEXT NOT NULL,
  lease_owner    TEXT NOT NULL DEFAULT '',
  lease_until    BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (task_id, shard_index)
);

CREATE TABLE IF NOT EXISTS {s}.batches (
  task_id     TEXT NOT NULL,
  shard_index INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  rows        BIGINT NOT NULL,
  bytes_in    BIGINT NOT NULL,
  started_at  BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  PRIMARY KEY (task_id, shard_index, seq)
);

-- One row per (function, event): a redelivered event dead-lettered again replaces its row.
CREATE TABLE IF NOT EXISTS {s}.dead_letters (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  function   TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  topic      TEXT NOT NULL,
  event_json TEXT NOT NULL,
  attempts   INTEGER NOT NULL,
  error      TEXT NOT NULL,
  at         BIGINT NOT NULL,
  UNIQUE (function, event_id)
);
CREATE INDEX IF NOT EXISTS dead_letters_by_at ON {s}.dead_letters (at, id);
)sql";

// Version 3: worker pools.
constexpr const char* kCreatePools = R"sql(
CREATE TABLE IF NOT EXISTS {s}.pools (
  worker       TEXT NOT NULL,
  function     TEXT NOT NULL,
  replicas     INTEGER NOT NULL,
  min_replicas INTEGER NOT NULL,
  max_replicas INTEGER NOT NULL,
  backlog      BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (worker, function)
);
)sql";
constexpr const char* kPutPool = R"sql(
INSERT INTO {s}.pools (worker, function, replicas, min_replicas, max_replicas, backlog, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (worker, function) DO UPDATE SET
  replicas = excluded.replicas, min_replicas = excluded.min_replicas,
  max_replicas = excluded.max_replicas, backlog = excluded.backlog, updated_at = excluded.updated_at
)sql";
constexpr const char* kListPools = R"sql(
SELECT worker, function, replicas, min_replicas, max_replicas, backlog, updated_at
FROM {s}.pools ORDER BY function, worker
)sql";
constexpr const char* kRemovePools = "DELETE FROM {s}.pools WHERE worker = $1";

constexpr const char* kPutTask = R"sql(
INSERT INTO {s}.tasks (id, policy_name, state, created_at, updated_at, finished_at, policy,
                       predicate, shards_total, shards_done, shards_failed, rows, rows_purged,
                       bytes_in, bytes_out, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (id) DO UPDATE SET
  policy_name = excluded.policy_name, state = excluded.state, created_at = excluded.created_at,
  updated_at = excluded.updated_at, finished_at = excluded.finished_at, policy = excluded.policy,
  predicate = excluded.predicate, shards_total = excluded.shards_total,
  shards_done = excluded.shards_done, shards_failed = excluded.shards_failed, rows = excluded.rows,
  rows_purged = excluded.rows_purged, bytes_in = excluded.bytes_in,
  bytes_out = excluded.bytes_out, error = excluded.error
)sql";

#define STRATA_TASK_COLUMNS                                                          \
  "id, policy_name, state, created_at, updated_at, finished_at, policy, predicate, " \
  "shards_total, shards_done, shards_failed, rows, rows_purged, bytes_in, bytes_out, error"

constexpr const char* kGetTask = "SELECT " STRATA_TASK_COLUMNS " FROM {s}.tasks WHERE id = $1";
constexpr const char* kGetTaskForUpdate =
    "SELECT " STRATA_TASK_COLUMNS " FROM {s}.tasks WHERE id = $1 FOR UPDATE";
constexpr const char* kListTasks =
    "SELECT " STRATA_TASK_COLUMNS " FROM {s}.tasks ORDER BY created_at DESC, seq DESC LIMIT $1";
constexpr const char* kLatestTaskInState = "SELECT " STRATA_TASK_COLUMNS
                                           " FROM {s}.tasks WHERE policy_name = $1 AND state = $2"
                                           " ORDER BY created_at DESC, seq DESC LIMIT 1";
#undef STRATA_TASK_COLUMNS

// $1..$14 in the order of put_shard's parameters.
#define STRATA_SHARD_INSERT                                                                        \
  "INSERT INTO {s}.shards (task_id, shard_index, state, range, estimated_rows, rows, rows_purged," \
  " bytes_in, bytes_out, files, attempts, started_at, finished_at, error)"                         \
  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"

constexpr const char* kPutShard = STRATA_SHARD_INSERT R"sql(
ON CONFLICT (task_id, shard_index) DO UPDATE SET
  state = excluded.state, range = excluded.range, estimated_rows = excluded.estimated_rows,
  rows = excluded.rows, rows_purged = excluded.rows_purged, bytes_in = excluded.bytes_in,
  bytes_out = excluded.bytes_out, files = excluded.files, attempts = excluded.attempts,
  started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error
)sql";
// update_shard of a missing row: a concurrent insert wins, and the update starts over.
constexpr const char* kInsertShardIfMissing =
    STRATA_SHARD_INSERT " ON CONFLICT (task_id, shard_index) DO NOTHING RETURNING 1";
#undef STRATA_SHARD_INSERT

#define STRATA_SHARD_COLUMNS                                                          \
  "task_id, shard_index, state, range, estimated_rows, rows, rows_purged, bytes_in, " \
  "bytes_out, files, attempts, started_at, finished_at, error, lease_owner, lease_until"

constexpr const char* kGetShard =
    "SELECT " STRATA_SHARD_COLUMNS " FROM {s}.shards WHERE task_id = $1 AND shard_index = $2";
constexpr const char* kGetShardForUpdate = "SELECT " STRATA_SHARD_COLUMNS
                                           " FROM {s}.shards WHERE task_id = $1 AND "
                                           "shard_index = $2 FOR UPDATE";
constexpr const char* kListShards =
    "SELECT " STRATA_SHARD_COLUMNS " FROM {s}.shards WHERE task_id = $1 ORDER BY shard_index";
#undef STRATA_SHARD_COLUMNS

// The server's clock in µs; one value per statement.
#define STRATA_NOW_US "(extract(epoch FROM statement_timestamp()) * 1000000)::bigint"

// Claims when nobody holds the lease, `owner` does, or it expired; a row comes back when
// claimed. The conflicting row is locked and re-checked, so of many racing claims one wins.
constexpr const char* kClaimShard = R"sql(
INSERT INTO {s}.shards AS sh (task_id, shard_index, state, range, estimated_rows, rows,
                              rows_purged, bytes_in, bytes_out, files, attempts, started_at,
                              finished_at, error, lease_owner, lease_until)
VALUES ($1, $2, 'pending', '{}', 0, 0, 0, 0, 0, 0, 0, 0, 0, '', $3, )sql" STRATA_NOW_US R"sql( + $4)
ON CONFLICT (task_id, shard_index) DO UPDATE SET
  lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
WHERE sh.lease_owner = '' OR sh.lease_owner = excluded.lease_owner
   OR sh.lease_until <= )sql" STRATA_NOW_US R"sql(
RETURNING lease_owner
)sql";

constexpr const char* kRenewShard = "UPDATE {s}.shards SET lease_until = " STRATA_NOW_US
                                    " + $4 WHERE task_id = $1 AND shard_index = $2 AND "
                                    "lease_owner = $3 RETURNING lease_owner";
#undef STRATA_NOW_US

constexpr const char* kReleaseShard =
    "UPDATE {s}.shards SET lease_owner = '', lease_until = 0"
    " WHERE task_id = $1 AND shard_index = $2 AND lease_owner = $3";

constexpr const char* kPutBatch = R"sql(
INSERT INTO {s}.batches (task_id, shard_index, seq, rows, bytes_in, started_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (task_id, shard_index, seq) DO UPDATE SET
  rows = excluded.rows, bytes_in = excluded.bytes_in, started_at = excluded.started_at,
  finished_at = excluded.finished_at
)sql";

constexpr const char* kListBatches = R"sql(
SELECT task_id, shard_index, seq, rows, bytes_in, started_at, finished_at
FROM {s}.batches WHERE task_id = $1 AND shard_index = $2 ORDER BY seq
)sql";

constexpr const char* kPutDeadLetter = R"sql(
INSERT INTO {s}.dead_letters (function, event_id, topic, event_json, attempts, error, at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (function, event_id) DO UPDATE SET
  topic = excluded.topic, event_json = excluded.event_json, attempts = excluded.attempts,
  error = excluded.error, at = excluded.at
)sql";

constexpr const char* kListDeadLetters = R"sql(
SELECT function, topic, event_json, attempts, error, at
FROM {s}.dead_letters ORDER BY at DESC, id DESC LIMIT $1
)sql";

}  // namespace sql

// A text parameter; nullopt is SQL NULL.
using Param = std::optional<std::string>;

Param p(const std::string& v) { return v; }
Param p(int64_t v) { return std::to_string(v); }
Param p(int v) { return std::to_string(v); }
Param p_json(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The key of a dead letter, as in the SQLite store: the event's id, or a digest of the text.
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

std::string shard_name(const std::string& task_id, int index) {
  return "shard " + task_id + "/" + std::to_string(index);
}

// Reads one result row column by column, in SELECT order.
class RowReader {
 public:
  RowReader(const pg::PgResult& r, int row, const std::string& store)
      : r_(r), row_(row), store_(store) {}
  std::string text() { return r_.str(row_, col_++); }
  int64_t int64() {
    const int c = col_++;
    return r_.is_null(row_, c) ? 0 : std::stoll(r_.str(row_, c));
  }
  int int32() { return static_cast<int>(int64()); }
  Result<Json> json() {
    const int c = col_++;
    std::string t = r_.str(row_, c);
    if (t.empty()) return Json::object();
    Json j = Json::parse(t, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return Status::permanent(store_ + ": column " + PQfname(r_.get(), c) +
                               " does not hold valid JSON");
    }
    return j;
  }

 private:
  const pg::PgResult& r_;
  int row_;
  int col_ = 0;
  const std::string& store_;
};

std::vector<Param> shard_params(const ShardRecord& s) {
  return {p(s.task_id),  p(s.index),       p(s.state),       p_json(s.range), p(s.estimated_rows),
          p(s.rows),     p(s.rows_purged), p(s.bytes_in),    p(s.bytes_out),  p(s.files),
          p(s.attempts), p(s.started_at),  p(s.finished_at), p(s.error)};
}

class PgStateStore final : public StateStore {
 public:
  PgStateStore(std::shared_ptr<pg::ConnectionPool> pool, std::string schema)
      : pool_(std::move(pool)), schema_(std::move(schema)), store_(pool_->where().store) {}

  Status init();

  Status put_task(const TaskRecord& t) override {
    return exec(sql::kPutTask, task_params(t), "put task").with_context("task " + t.id);
  }
  Status put_shard(const ShardRecord& s) override {
    return exec(sql::kPutShard, shard_params(s), "put shard")
        .with_context(shard_name(s.task_id, s.index));
  }
  Status put_batch(const BatchRecord& b) override {
    return exec(sql::kPutBatch,
                {p(b.task_id), p(b.shard), p(b.seq), p(b.rows), p(b.bytes_in), p(b.started_at),
                 p(b.finished_at)},
                "put batch")
        .with_context("batch " + b.task_id + "/" + std::to_string(b.shard) + "/" +
                      std::to_string(b.seq));
  }
  Status put_dead_letter(const DeadLetterRecord& d) override {
    const std::string event_id = dead_letter_event_id(d.event_json);
    return exec(sql::kPutDeadLetter,
                {p(d.function), p(event_id), p(d.topic), p(d.event_json), p(d.attempts), p(d.error),
                 p(d.at)},
                "put dead letter")
        .with_context("event " + event_id + " of function " + d.function);
  }

  Result<std::optional<TaskRecord>> get_task(const std::string& id) override {
    return one<TaskRecord>(sql::kGetTask, {p(id)}, "get task", state_rows::task<RowReader>);
  }
  Result<std::vector<TaskRecord>> list_tasks(int limit) override {
    return all<TaskRecord>(sql::kListTasks, {limit_param(limit)}, "list tasks",
                           state_rows::task<RowReader>);
  }
  Result<std::optional<TaskRecord>> latest_unfinished(const std::string& policy_name) override {
    return one<TaskRecord>(sql::kLatestTaskInState, {p(policy_name), p(std::string("running"))},
                           "latest unfinished task", state_rows::task<RowReader>);
  }
  Result<std::optional<TaskRecord>> latest_succeeded(const std::string& policy_name) override {
    return one<TaskRecord>(sql::kLatestTaskInState, {p(policy_name), p(std::string("succeeded"))},
                           "latest succeeded task", state_rows::task<RowReader>);
  }
  Result<std::optional<ShardRecord>> get_shard(const std::string& task_id, int index) override {
    return one<ShardRecord>(sql::kGetShard, {p(task_id), p(index)}, "get shard",
                            state_rows::shard<RowReader>);
  }
  Result<std::vector<ShardRecord>> list_shards(const std::string& task_id) override {
    return all<ShardRecord>(sql::kListShards, {p(task_id)}, "list shards",
                            state_rows::shard<RowReader>);
  }
  Result<std::vector<BatchRecord>> list_batches(const std::string& task_id, int shard) override {
    return all<BatchRecord>(sql::kListBatches, {p(task_id), p(shard)}, "list batches",
                            state_rows::batch<RowReader>);
  }
  Result<std::vector<DeadLetterRecord>> list_dead_letters(int limit) override {
    return all<DeadLetterRecord>(sql::kListDeadLetters, {limit_param(limit)}, "list dead letters",
                                 state_rows::dead_letter<RowReader>);
  }

  Status update_shard(const std::string& task_id, int index, const ShardChange& change) override;
  Status update_task(const std::string& id, const TaskChange& change) override;
  Status put_pool(const PoolRecord& pool) override {
    return exec(sql::kPutPool,
                {p(pool.worker), p(pool.function), p(pool.replicas), p(pool.min_replicas),
                 p(pool.max_replicas), p(pool.backlog), p(pool.updated_at)},
                "put pool")
        .with_context("pool " + pool.function + " of " + pool.worker);
  }
  Result<std::vector<PoolRecord>> list_pools() override {
    return all<PoolRecord>(sql::kListPools, {}, "list pools", state_rows::pool<RowReader>);
  }
  Status remove_pools(const std::string& worker) override {
    return exec(sql::kRemovePools, {p(worker)}, "remove pools").with_context("pools of " + worker);
  }
  Result<bool> claim_shard(const std::string& task_id, int index, const std::string& owner,
                           Micros ttl) override;
  Status renew_shard(const std::string& task_id, int index, const std::string& owner,
                     Micros ttl) override;
  Status release_shard(const std::string& task_id, int index, const std::string& owner) override;

 private:
  static Param limit_param(int limit) { return limit < 0 ? Param() : p(limit); }
  static std::vector<Param> task_params(const TaskRecord& t) {
    return {p(t.id),           p(t.policy_name), p(t.state),         p(t.created_at),
            p(t.updated_at),   p(t.finished_at), p_json(t.policy),   p_json(t.predicate),
            p(t.shards_total), p(t.shards_done), p(t.shards_failed), p(t.rows),
            p(t.rows_purged),  p(t.bytes_in),    p(t.bytes_out),     p(t.error)};
  }

  // `sql_text` with {s} replaced by the schema, cached per statement.
  const std::string& text(const char* sql_text);

  Result<pg::PgResult> query(pg::Connection& conn, const char* sql_text,
                             const std::vector<Param>& params, std::string_view op);

  // Runs `fn` on a pooled connection. When the connection turns out dead (the server restarted
  // since it was pooled), `fn` runs once more on a fresh one: every caller is idempotent.
  template <typename T, typename Fn>
  Result<T> with_connection(Fn&& fn);

  Status exec(const char* sql_text, const std::vector<Param>& params, std::string_view op) {
    Result<bool> r = with_connection<bool>([&](pg::Connection& c) -> Result<bool> {
      STRATA_ASSIGN_OR_RETURN(pg::PgResult res, query(c, sql_text, params, op));
      return true;
    });
    return r.is_ok() ? Status::ok() : r.status();
  }
  // Rows read with `read`.
  template <typename Record, typename Reader>
  Result<std::vector<Record>> all(const char* sql_text, const std::vector<Param>& params,
                                  std::string_view op, Reader read) {
    return with_connection<std::vector<Record>>(
        [&](pg::Connection& c) -> Result<std::vector<Record>> {
          STRATA_ASSIGN_OR_RETURN(pg::PgResult res, query(c, sql_text, params, op));
          std::vector<Record> out;
          for (int i = 0; i < res.rows(); ++i) {
            RowReader r(res, i, store_);
            STRATA_ASSIGN_OR_RETURN(Record rec, read(r));
            out.push_back(std::move(rec));
          }
          return out;
        });
  }
  template <typename Record, typename Reader>
  Result<std::optional<Record>> one(const char* sql_text, const std::vector<Param>& params,
                                    std::string_view op, Reader read) {
    STRATA_ASSIGN_OR_RETURN(std::vector<Record> rows, all<Record>(sql_text, params, op, read));
    if (rows.empty()) return std::optional<Record>();
    return std::optional<Record>(std::move(rows.front()));
  }

  // One attempt of update_shard in its own transaction; false when a concurrent insert of the
  // same missing shard won and the update must start over.
  Result<bool> update_shard_once(pg::Connection& c, const std::string& task_id, int index,
                                 const ShardChange& change);

  std::shared_ptr<pg::ConnectionPool> pool_;
  const std::string schema_;
  const std::string store_;  // "postgres <redacted uri>" for messages
  std::mutex texts_mu_;
  std::unordered_map<const char*, std::string> texts_;
};

const std::string& PgStateStore::text(const char* sql_text) {
  std::lock_guard lock(texts_mu_);
  auto it = texts_.find(sql_text);
  if (it != texts_.end()) return it->second;
  std::string s = sql_text;
  const std::string quoted = "\"" + schema_ + "\"";
  for (size_t pos = s.find("{s}"); pos != std::string::npos; pos = s.find("{s}", pos)) {
    s.replace(pos, 3, quoted);
    pos += quoted.size();
  }
  return texts_.emplace(sql_text, std::move(s)).first->second;  // node-based: stays valid
}

Result<pg::PgResult> PgStateStore::query(pg::Connection& conn, const char* sql_text,
                                         const std::vector<Param>& params, std::string_view op) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& v : params) values.push_back(v ? v->c_str() : nullptr);
  const std::string& sql_string = text(sql_text);
  pg::PgResult r(params.empty()
                     ? PQexec(conn.get(), sql_string.c_str())
                     : PQexecParams(conn.get(), sql_string.c_str(), static_cast<int>(values.size()),
                                    nullptr, values.data(), nullptr, nullptr, 0));
  ExecStatusType st = r.get() != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return pg::status_of(conn.get(), r.get(), conn.where(), "state store: " + std::string(op));
  }
  return r;
}

template <typename T, typename Fn>
Result<T> PgStateStore::with_connection(Fn&& fn) {
  for (int attempt = 1;; ++attempt) {
    STRATA_ASSIGN_OR_RETURN(pg::ConnectionPool::Lease conn, pool_->acquire());
    Result<T> r = fn(*conn);
    if (r.is_ok()) return r;
    const bool dead = PQstatus(conn->get()) == CONNECTION_BAD;
    if (!dead || attempt == 2) return r;
    conn.discard();
    spdlog::info("{}: connection lost ({}); retrying on a new connection", store_,
                 r.status().message());
  }
}

Status PgStateStore::init() {
  Result<bool> r = with_connection<bool>([&](pg::Connection& c) -> Result<bool> {
    // "already exists, skipping" notices of the IF NOT EXISTS statements are noise.
    PQsetNoticeProcessor(
        c.get(), [](void*, const char*) {}, nullptr);
    STRATA_TRY(c.exec("BEGIN", "state store: begin schema transaction"));
    auto body = [&]() -> Status {
      STRATA_ASSIGN_OR_RETURN(
          pg::PgResult lock,
          query(c, sql::kSchemaLock, {p("strata.state_store." + schema_)}, "lock the schema"));
      STRATA_ASSIGN_OR_RETURN(pg::PgResult created,
                              query(c, sql::kCreateSchema, {}, "create schema " + schema_));
      STRATA_ASSIGN_OR_RETURN(pg::PgResult v, query(c, sql::kGetVersion, {}, "read version"));
      int64_t version = v.rows() > 0 && !v.is_null(0, 0) ? std::stoll(v.str(0, 0)) : 0;
      if (version > kSchemaVersion) {
        return Status::permanent(
            store_ + ": state store schema " + schema_ + " has version " + std::to_string(version) +
            ", newer than this strata binary supports (" + std::to_string(kSchemaVersion) +
            "): upgrade strata, or point it at another schema (?schema=)");
      }
      if (version == kSchemaVersion) return Status::ok();
      // Version 0: a new store (there has never been a PostgreSQL store at version 1).
      if (version != 0 && version != 2) {
        return Status::permanent(store_ + ": state store schema " + schema_ +
                                 " has unknown version " + std::to_string(version));
      }
      if (version == 0) {
        STRATA_ASSIGN_OR_RETURN(pg::PgResult t, query(c, sql::kCreateTables, {}, "create tables"));
      }
      STRATA_ASSIGN_OR_RETURN(pg::PgResult pools,
                              query(c, sql::kCreatePools, {}, "create the pools table"));
      STRATA_ASSIGN_OR_RETURN(pg::PgResult s,
                              query(c, sql::kSetVersion, {}, "write schema version"));
      return Status::ok();
    };
    Status s = body();
    if (!s.is_ok()) {
      (void)c.exec("ROLLBACK", "state store: rollback schema transaction");
      return s;
    }
    STRATA_TRY(c.exec("COMMIT", "state store: commit schema transaction"));
    return true;
  });
  return r.is_ok() ? Status::ok() : r.status();
}

Result<bool> PgStateStore::update_shard_once(pg::Connection& c, const std::string& task_id,
                                             int index, const ShardChange& change) {
  STRATA_TRY(c.exec("BEGIN", "state store: begin shard update"));
  auto body = [&]() -> Result<bool> {
    STRATA_ASSIGN_OR_RETURN(
        pg::PgResult res, query(c, sql::kGetShardForUpdate, {p(task_id), p(index)}, "lock shard"));
    std::optional<ShardRecord> shard;
    const bool existed = res.rows() > 0;
    if (existed) {
      RowReader r(res, 0, store_);
      STRATA_ASSIGN_OR_RETURN(shard, state_rows::shard(r));
    }
    if (!change(shard) || !shard) return true;
    shard->task_id = task_id;
    shard->index = index;
    if (existed) {
      STRATA_ASSIGN_OR_RETURN(pg::PgResult w,
                              query(c, sql::kPutShard, shard_params(*shard), "update shard"));
      return true;
    }
    STRATA_ASSIGN_OR_RETURN(
        pg::PgResult w, query(c, sql::kInsertShardIfMissing, shard_params(*shard), "insert shard"));
    return w.rows() > 0;
  };
  Result<bool> r = body();
  if (!r.is_ok() || !*r) {
    (void)c.exec("ROLLBACK", "state store: rollback shard update");
    return r;
  }
  STRATA_TRY(c.exec("COMMIT", "state store: commit shard update"));
  return true;
}

Status PgStateStore::update_shard(const std::string& task_id, int index,
                                  const ShardChange& change) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    Result<bool> r = with_connection<bool>(
        [&](pg::Connection& c) { return update_shard_once(c, task_id, index, change); });
    if (!r.is_ok()) return r.status().with_context(shard_name(task_id, index));
    if (*r) return Status::ok();
  }
  return Status::retryable(store_ + ": " + shard_name(task_id, index) +
                           ": update kept losing to concurrent inserts; will retry");
}

Status PgStateStore::update_task(const std::string& id, const TaskChange& change) {
  Result<bool> r = with_connection<bool>([&](pg::Connection& c) -> Result<bool> {
    STRATA_TRY(c.exec("BEGIN", "state store: begin task update"));
    auto body = [&]() -> Status {
      STRATA_ASSIGN_OR_RETURN(pg::PgResult res,
                              query(c, sql::kGetTaskForUpdate, {p(id)}, "lock task"));
      std::optional<TaskRecord> task;
      if (res.rows() > 0) {
        RowReader r(res, 0, store_);
        STRATA_ASSIGN_OR_RETURN(task, state_rows::task(r));
      }
      if (!change(task) || !task) return Status::ok();
      task->id = id;
      STRATA_ASSIGN_OR_RETURN(pg::PgResult w,
                              query(c, sql::kPutTask, task_params(*task), "put task"));
      return Status::ok();
    };
    Status s = body();
    if (!s.is_ok()) {
      (void)c.exec("ROLLBACK", "state store: rollback task update");
      return s;
    }
    STRATA_TRY(c.exec("COMMIT", "state store: commit task update"));
    return true;
  });
  return r.is_ok() ? Status::ok() : r.status().with_context("task " + id);
}

Result<bool> PgStateStore::claim_shard(const std::string& task_id, int index,
                                       const std::string& owner, Micros ttl) {
  if (owner.empty()) return Status::permanent(store_ + ": claim of a shard with no owner");
  Result<bool> r = with_connection<bool>([&](pg::Connection& c) -> Result<bool> {
    STRATA_ASSIGN_OR_RETURN(
        pg::PgResult res,
        query(c, sql::kClaimShard, {p(task_id), p(index), p(owner), p(int64_t{ttl.count()})},
              "claim shard"));
    return res.rows() > 0;
  });
  if (!r.is_ok()) return r.status().with_context(shard_name(task_id, index));
  return r;
}

Status PgStateStore::renew_shard(const std::string& task_id, int index, const std::string& owner,
                                 Micros ttl) {
  Result<bool> r = with_connection<bool>([&](pg::Connection& c) -> Result<bool> {
    STRATA_ASSIGN_OR_RETURN(
        pg::PgResult res,
        query(c, sql::kRenewShard, {p(task_id), p(index), p(owner), p(int64_t{ttl.count()})},
              "renew shard lease"));
    return res.rows() > 0;
  });
  if (!r.is_ok()) return r.status().with_context(shard_name(task_id, index));
  if (!*r) {
    return Status::permanent(store_ + ": " + shard_name(task_id, index) + ": the lease of " +
                             owner +
                             " was lost (another worker claimed the shard after the lease "
                             "expired, or it was released): stop working on this shard");
  }
  return Status::ok();
}

Status PgStateStore::release_shard(const std::string& task_id, int index,
                                   const std::string& owner) {
  return exec(sql::kReleaseShard, {p(task_id), p(index), p(owner)}, "release shard lease")
      .with_context(shard_name(task_id, index));
}

// A schema name used unquoted by people and quoted by us: letters, digits, underscores.
bool valid_schema_name(const std::string& s) {
  if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<StateStore>> open_postgres_state_store(const std::string& uri_text) {
  STRATA_ASSIGN_OR_RETURN(Uri uri, parse_uri(uri_text));
  const std::string where = "state store postgres " + uri.redacted();
  Status checked = pg::check_uri(uri, {"schema"});
  if (!checked.is_ok()) return checked.with_context("state store");
  std::string schema = "strata";
  if (auto it = uri.query.find("schema"); it != uri.query.end()) schema = it->second;
  if (!valid_schema_name(schema)) {
    return Status::permanent(where + ": schema '" + schema +
                             "' is not a plain lowercase name (use letters, digits and _)");
  }
  uri.query.erase("schema");  // not a libpq option
  STRATA_ASSIGN_OR_RETURN(pg::ConnectOptions options, pg::connect_options(uri));
  auto pool = std::make_shared<pg::ConnectionPool>(
      std::move(options), pg::ErrorContext{"postgres " + uri.redacted(), ""}, /*max_idle=*/8);
  auto store = std::make_unique<PgStateStore>(std::move(pool), schema);
  STRATA_TRY(store->init());
  spdlog::debug("state store postgres {} (schema {}) open, schema version {}", uri.redacted(),
                schema, kSchemaVersion);
  return std::unique_ptr<StateStore>(std::move(store));
}

}  // namespace strata

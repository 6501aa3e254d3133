// RAII wrappers over the SQLite C API for the sqlite source: an open database connection, a
// prepared statement, and a small pool of idle connections shared by concurrent shards.
//
// Errors name the database file, the table and the operation; SQLITE_BUSY and SQLITE_LOCKED are
// retryable (another writer holds the lock past busy_timeout), every other failure is permanent.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace strata::sqlite {

// Where an error happened: "sqlite <db>: <operation> table '<table>' failed: <reason>".
struct ErrorContext {
  std::string db;     // the database path, for messages
  std::string table;  // may be empty for database-wide operations
};

// A Status for SQLite result code `rc`, with `errmsg` from the connection (may be null).
Status sqlite_status(int rc, const char* errmsg, const ErrorContext& where,
                     std::string_view operation);

constexpr int kDefaultBusyTimeoutMs = 5000;

// One open connection. Not thread-safe: used by one thread at a time (the pool hands it out).
class Connection {
 public:
  // Opens an existing database read-write (never creates it); waits up to `busy_timeout_ms` for
  // locks held by other connections.
  static Result<std::unique_ptr<Connection>> open(const std::string& path,
                                                  const ErrorContext& where,
                                                  int busy_timeout_ms = kDefaultBusyTimeoutMs);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }
  // Runs SQL without results (BEGIN, COMMIT, ...).
  Status exec(const char* sql, const ErrorContext& where, std::string_view operation);
  // sqlite3_errmsg of the last call.
  const char* errmsg() const;

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A prepared statement bound to one Connection. Reset (not finalized) between uses.
class Statement {
 public:
  static Result<Statement> prepare(Connection& conn, const std::string& sql,
                                   const ErrorContext& where, std::string_view operation);
  Statement(Statement&& o) noexcept : stmt_(o.stmt_), conn_(o.conn_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  sqlite3_stmt* get() const { return stmt_; }
  // Binds `v` to parameter `index` (1-based). Text binds as a blob when `as_blob`.
  Status bind(int index, const Value& v, bool as_blob = false);
  Status bind_int(int index, int64_t v);
  // SQLITE_ROW -> true, SQLITE_DONE -> false, else the error (the caller adds context).
  Result<bool> step(const ErrorContext& where, std::string_view operation);
  // Ends the statement (releasing its read lock) and clears bindings.
  void reset();
  Connection& connection() const { return *conn_; }

  // The column's value as a Value by storage class (INTEGER, REAL, TEXT, BLOB as text).
  Value column_value(int col) const;

 private:
  Statement(sqlite3_stmt* stmt, Connection* conn) : stmt_(stmt), conn_(conn) {}
  sqlite3_stmt* stmt_;
  Connection* conn_;
};

class ConnectionPool;

// A connection borrowed from the pool; returned on destruction (dropped instead if `discard()`
// was called, e.g. after an error left it in an unknown state).
class PooledConnection {
 public:
  PooledConnection(std::shared_ptr<ConnectionPool> pool, std::unique_ptr<Connection> conn)
      : pool_(std::move(pool)), conn_(std::move(conn)) {}
  PooledConnection(PooledConnection&&) noexcept = default;
  PooledConnection& operator=(PooledConnection&&) = delete;
  ~PooledConnection();
  Connection& operator*() const { return *conn_; }
  Connection* operator->() const { return conn_.get(); }
  void discard() { conn_.reset(); }

 private:
  std::shared_ptr<ConnectionPool> pool_;  // keeps the pool alive while a reader is open
  std::unique_ptr<Connection> conn_;
};

// Idle connections to one database file, reused across calls. Thread-safe. Owned by a
// shared_ptr (borrowed connections keep it alive).
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  // `path` is opened lazily, at the first acquire().
  ConnectionPool(std::string path, ErrorContext where, int busy_timeout_ms, size_t max_idle = 4)
      : path_(std::move(path)),
        where_(std::move(where)),
        busy_timeout_ms_(busy_timeout_ms),
        max_idle_(max_idle) {}
  Result<PooledConnection> acquire();

 private:
  friend class PooledConnection;
  void release(std::unique_ptr<Connection> conn);

  const std::string path_;
  const ErrorContext where_;
  const int busy_timeout_ms_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// "name" with embedded quotes doubled: any identifier works, including keywords.
std::string quote_identifier(std::string_view name);
// A SQL literal for messages and dry runs: 42, 1.5, 'it''s', X'00ff', NULL.
std::string sql_literal(const Value& v, bool as_blob = false);

}  // namespace strata::sqlite

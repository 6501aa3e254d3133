// PostgreSQL connections for the postgres:// connector: the URI's options, one owned libpq
// connection with the session settings every Strata statement relies on, a small pool, results
// owned by RAII, the mapping of SQLSTATEs and connection failures to retryable or permanent
// Statuses, and the wire form of bound parameters.
//
// URI: postgres://user[:password]@host[:port]/db?sslmode=..&sslrootcert=..&sslcert=..&sslkey=..
//      &connect_timeout=10&lock_timeout=5s&statement_timeout=60s&application_name=strata
// (postgresql:// is the same). ${ENV} references are expanded at connect, never earlier; with no
// password in the URI libpq's PGPASSWORD / ~/.pgpass apply. TLS options go to libpq unchanged.
// Every connection runs: lock_timeout (default 5s), TimeZone UTC, DateStyle ISO,
// standard_conforming_strings on. statement_timeout (default 60s) bounds DELETE and INSERT
// transactions only (SET LOCAL): a shard's streaming read may legitimately run for minutes.
// Errors name the store by its redacted URI (never a password), the table and the operation.
// Thread-safety: a Connection is used by one thread at a time; the pool is thread-safe.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/sql/sql_text.h"
#include "core/duration.h"
#include "core/status.h"
#include "core/uri.h"

namespace strata::pg {

// Checks the URI's scheme and option names (unexpanded: no secret is needed for this).
// `extra_options` are accepted too ("table" for the cold-table target).
Status check_uri(const Uri& uri, const std::vector<std::string>& extra_options = {});

// What a connection needs, read from the URI (still unexpanded: see connect()).
struct ConnectOptions {
  Uri uri;
  Micros lock_timeout = std::chrono::seconds(5);
  Micros statement_timeout = std::chrono::seconds(60);
};
Result<ConnectOptions> connect_options(const Uri& uri);

// Where an operation ran, for messages: "postgres postgres://app@db:5432/shop: <op> table 'x': ..".
struct ErrorContext {
  std::string store;  // "postgres " + redacted URI
  std::string table;  // as the user wrote it; "" when none
};

// An owned PGresult.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept {
    if (this != &o) {
      PQclear(r_);
      r_ = o.r_;
      o.r_ = nullptr;
    }
    return *this;
  }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  PGresult* get() const { return r_; }
  int rows() const { return PQntuples(r_); }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string_view text(int row, int col) const {
    return std::string_view(PQgetvalue(r_, row, col),
                            static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  std::string str(int row, int col) const { return std::string(text(row, col)); }

 private:
  PGresult* r_ = nullptr;
};

// The Status for a failed statement (`res` may be null: the connection failed before a result).
// Retryable: connection loss, SQLSTATE class 08, 40001, 40P01, 55P03, 57014, 57P01-57P03, 53300.
// Permanent, with how to fix it: authentication (28xxx), missing table/column, permission, the
// rest.
Status status_of(PGconn* conn, const PGresult* res, const ErrorContext& where, std::string_view op);

// Bound parameters in libpq's form: text for every type (bytes as \x hex), unknown type OIDs so
// the server infers each from its context exactly as it does for the same value shown as a
// literal in a dry run (sql::literal), so a read and its purge select the same rows.
class BoundParams {
 public:
  explicit BoundParams(const std::vector<sql::Param>& params);
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<const char*> values_;
};
// The text a parameter is sent as.
std::string param_text(const sql::Param& p);

// One connection. Owns the PGconn.
class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Expands ${ENV}, connects and applies the session settings.
  static Result<std::unique_ptr<Connection>> open(const ConnectOptions& options,
                                                  const ErrorContext& where);

  PGconn* get() const { return conn_; }
  const ErrorContext& where() const { return where_; }
  // Runs `sql` (one or more statements, no parameters); ok when it returns no error.
  Status exec(const std::string& sql, std::string_view op);
  // Runs one statement with parameters; the result must be PGRES_TUPLES_OK or PGRES_COMMAND_OK.
  // `binary`: values come back in the binary form COPY uses (see pg_types.h decode_value).
  Result<PgResult> query(const std::string& sql, const std::vector<sql::Param>& params,
                         std::string_view op, bool binary = false);
  // Whether the connection can go back to a pool: healthy and outside any transaction or COPY.
  bool reusable() const;

 private:
  Connection(PGconn* conn, ErrorContext where) : conn_(conn), where_(std::move(where)) {}
  PGconn* conn_;
  ErrorContext where_;
};

// A few idle connections, reused by concurrent shards.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  ConnectionPool(ConnectOptions options, ErrorContext where, size_t max_idle = 4)
      : options_(std::move(options)), where_(std::move(where)), max_idle_(max_idle) {}

  class Lease {
   public:
    Lease() = default;
    Lease(std::shared_ptr<ConnectionPool> pool, std::unique_ptr<Connection> conn)
        : pool_(std::move(pool)), conn_(std::move(conn)) {}
    ~Lease() { release(); }
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&& o) noexcept {
      release();
      pool_ = std::move(o.pool_);
      conn_ = std::move(o.conn_);
      return *this;
    }
    Connection* operator->() const { return conn_.get(); }
    Connection& operator*() const { return *conn_; }
    // Closes the connection instead of returning it (after an interrupted COPY, say).
    void discard() { conn_.reset(); }

   private:
    void release();
    std::shared_ptr<ConnectionPool> pool_;
    std::unique_ptr<Connection> conn_;
  };

  Result<Lease> acquire();
  const ConnectOptions& options() const { return options_; }
  const ErrorContext& where() const { return where_; }

 private:
  void give_back(std::unique_ptr<Connection> conn);
  const ConnectOptions options_;
  const ErrorContext where_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// "12000ms" for SET lock_timeout / statement_timeout.
std::string pg_interval_ms(Micros d);

}  // namespace strata::pg

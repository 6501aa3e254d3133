// MySQL/MariaDB connections for the mysql:// connector: the URI's options, one owned connection
// (MariaDB Connector/C, text protocol) with the session settings every Strata statement relies on,
// a small pool, the mapping of server and client errors to retryable or permanent Statuses, and
// SQL literals for values (so statements run as plain text, one round trip each).
//
// URI: mysql://user[:password]@host[:port]/db?ssl_mode=..&ssl_ca=..&ssl_cert=..&ssl_key=..
//      &connect_timeout=10&lock_wait_timeout=5&statement_timeout=60&socket=PATH
//      &replicas=host:port,host:port   (mariadb:// is the same)
// ${ENV} references are expanded at connect; with no password in the URI, MYSQL_PWD applies.
// Every connection runs: time_zone '+00:00', utf8mb4, innodb_lock_wait_timeout = lock_wait_timeout.
// Errors name the store by its redacted URI (never a password), the table and the operation.
// Thread-safety: a Connection is used by one thread at a time; the pool is thread-safe.
#pragma once

#include <mysql.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/schema.h"
#include "core/status.h"
#include "core/uri.h"

namespace strata::mysql {

// The URI options the connector knows; anything else is a permanent error at open.
extern const char* const kKnownOptions[];

// Checks the URI's scheme and option names (unexpanded: no secret is needed for this).
// `extra_option` is accepted too ("table" for the cold-table target).
Status check_uri(const Uri& uri, std::string_view extra_option = "");

struct ConnectOptions {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string socket;
  std::string user;
  std::optional<std::string> password;  // nullopt: MYSQL_PWD or none
  std::string database;
  std::string ssl_mode;  // "", disabled, preferred, required, verify_ca, verify_identity
  std::string ssl_ca, ssl_cert, ssl_key;
  int connect_timeout_s = 10;
  int lock_wait_timeout_s = 5;
  int statement_timeout_s = 60;  // MariaDB max_statement_time for DELETEs and INSERTs
  std::vector<std::pair<std::string, int>> replicas;  // from replicas=host:port,...
};

// Expands ${ENV} in every part of `uri` and reads the options.
Result<ConnectOptions> resolve_options(const Uri& uri);

// Where an operation ran, for messages: "mysql mysql://app@db:3306/shop: <op> table 'orders': ..".
struct ErrorContext {
  std::string store;  // redacted URI
  std::string table;  // as the user wrote it; "" when none
};

// The Status for a client/server error number: retryable for connection loss, server shutdown,
// lock wait timeouts, deadlocks, statement timeouts, killed connections and too many connections;
// permanent (with how to fix it) otherwise.
Status map_error(unsigned err, std::string_view message, const ErrorContext& where,
                 std::string_view op);
bool is_retryable_error(unsigned err);

// One connection. Owns the MYSQL handle.
class Connection {
 public:
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects and applies the session settings.
  static Result<std::unique_ptr<Connection>> open(const ConnectOptions& options,
                                                  const ErrorContext& where);

  MYSQL* get() { return mysql_; }
  bool is_mariadb() const { return mariadb_; }
  const ErrorContext& where() const { return where_; }

  // Runs a statement that returns no rows (or whose rows are discarded).
  Status exec(std::string_view sql, std::string_view op);
  // Runs a statement and returns every row (small results only: metadata, plans).
  using Row = std::vector<std::optional<std::string>>;
  // `names`, when given, receives the column names.
  Result<std::vector<Row>> query(std::string_view sql, std::string_view op,
                                 std::vector<std::string>* names = nullptr);
  // The Status of the connection's last error.
  Status last_error(std::string_view op) const;
  // Rows changed by the last exec().
  uint64_t affected_rows() const { return affected_; }
  // False once a connection-level error was seen: the pool then drops the connection.
  bool healthy() const { return healthy_; }
  void mark_broken() { healthy_ = false; }

 private:
  Connection(MYSQL* mysql, ErrorContext where) : mysql_(mysql), where_(std::move(where)) {}
  MYSQL* mysql_;
  ErrorContext where_;
  bool mariadb_ = false;
  bool healthy_ = true;
  uint64_t affected_ = 0;
};

// A small pool of idle connections. acquire() reuses one or opens a new one.
class ConnectionPool;

class PooledConnection {
 public:
  PooledConnection() = default;
  PooledConnection(std::shared_ptr<ConnectionPool> pool, std::unique_ptr<Connection> conn)
      : pool_(std::move(pool)), conn_(std::move(conn)) {}
  PooledConnection(PooledConnection&&) = default;
  PooledConnection& operator=(PooledConnection&& other);
  ~PooledConnection();
  Connection* operator->() { return conn_.get(); }
  Connection& operator*() { return *conn_; }

 private:
  void release();
  std::shared_ptr<ConnectionPool> pool_;
  std::unique_ptr<Connection> conn_;
};

class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
 public:
  ConnectionPool(ConnectOptions options, ErrorContext where)
      : options_(std::move(options)), where_(std::move(where)) {}
  Result<PooledConnection> acquire();
  void give_back(std::unique_ptr<Connection> conn);
  const ConnectOptions& options() const { return options_; }
  const ErrorContext& where() const { return where_; }

 private:
  static constexpr size_t kMaxIdle = 8;
  const ConnectOptions options_;
  const ErrorContext where_;
  std::mutex mu_;
  std::vector<std::pair<std::unique_ptr<Connection>, std::chrono::steady_clock::time_point>> idle_;
};

// Every statement Strata sends starts with this comment, so that its sessions can be told from
// the production load in PROCESSLIST (Source::foreign_activity); `marked` prefixes it.
inline constexpr char kStrataMarker[] = "/* strata */ ";
std::string marked(std::string_view sql);

// `name` quoted with backticks (a backtick inside is doubled).
std::string quote_ident(std::string_view name);

// Appends `v` (of Strata type `type`) as a SQL literal that means the same value whatever the
// session's sql_mode: integers and decimals unquoted (checked to be numbers), doubles in their
// shortest exact form, text as _utf8mb4 X'hex' (the column's collation applies), bytes as X'hex',
// timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) and dates as 'YYYY-MM-DD'.
Status append_literal(std::string& out, const Value& v, Type type);
// The same for row `row` of a column (no Value built on the way).
Status append_column_literal(std::string& out, const ColumnVector& col, size_t row);

// Replaces each `?` placeholder of `sql` (outside quotes and comments) with the literal of the
// matching parameter.
struct LiteralParam {
  const Value* value;
  Type type;
};
Result<std::string> bind_literals(std::string_view sql, const std::vector<LiteralParam>& params);

// Text as the server prints DATETIME/TIMESTAMP/DATE: "2026-01-02 03:04:05.123456" (fraction
// omitted when zero) and "2026-01-02".
void append_datetime_text(std::string& out, int64_t micros);
void append_date_text(std::string& out, int64_t days);
// Parses what the server prints for DATETIME/TIMESTAMP ("2026-01-02 03:04:05[.ffffff]") and DATE.
// False for zero or malformed dates.
bool parse_datetime_text(std::string_view text, int64_t& micros);
bool parse_date_text(std::string_view text, int64_t& days);

}  // namespace strata::mysql

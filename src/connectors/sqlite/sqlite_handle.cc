// RAII wrappers over sqlite3* / sqlite3_stmt* and the connection pool.
#include "connectors/sqlite/sqlite_handle.h"

#include <sqlite3.h>

#include "core/checksum.h"
#include "core/fs.h"

namespace strata::sqlite {

Status sqlite_status(int rc, const char* errmsg, const ErrorContext& where,
                     std::string_view operation) {
  std::string msg = "sqlite " + where.db + ": " + std::string(operation);
  if (!where.table.empty()) msg += " table '" + where.table + "'";
  msg += " failed: ";
  msg += errmsg != nullptr && *errmsg != '\0' ? errmsg : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Status::retryable(msg + " (the database is locked by another connection; will retry)");
  }
  return Status::permanent(msg);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path,
                                                     const ErrorContext& where,
                                                     int busy_timeout_ms) {
  if (!path_exists(path)) {
    return Status::permanent(
        "sqlite " + where.db + ": database file does not exist (opening it for table '" +
        where.table + "'; check the source URI: strata never creates a source database)");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = sqlite_status(rc, db != nullptr ? sqlite3_errmsg(db) : nullptr, where,
                             "opening the database for");
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return conn;
}

Connection::~Connection() { sqlite3_close_v2(db_); }

Status Connection::exec(const char* sql, const ErrorContext& where, std::string_view operation) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::ok();
  Status s = sqlite_status(rc, err, where, operation);
  sqlite3_free(err);
  return s;
}

const char* Connection::errmsg() const { return sqlite3_errmsg(db_); }

Result<Statement> Statement::prepare(Connection& conn, const std::string& sql,
                                     const ErrorContext& where, std::string_view operation) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(conn.get(), sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    Status s = sqlite_status(rc, conn.errmsg(), where, operation);
    sqlite3_finalize(stmt);
    return s;
  }
  return Statement(stmt, &conn);
}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    stmt_ = o.stmt_;
    conn_ = o.conn_;
    o.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Status Statement::bind(int index, const Value& v, bool as_blob) {
  int rc;
  if (v.is_null()) {
    rc = sqlite3_bind_null(stmt_, index);
  } else if (v.is_int()) {
    rc = sqlite3_bind_int64(stmt_, index, v.as_int());
  } else if (v.is_double()) {
    rc = sqlite3_bind_double(stmt_, index, v.as_double());
  } else if (as_blob) {
    rc =
        sqlite3_bind_blob64(stmt_, index, v.as_text().data(), v.as_text().size(), SQLITE_TRANSIENT);
  } else {
    rc = sqlite3_bind_text64(stmt_, index, v.as_text().data(), v.as_text().size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8);
  }
  if (rc != SQLITE_OK) {
    return Status::permanent("sqlite: cannot bind parameter " + std::to_string(index) + ": " +
                             sqlite3_errstr(rc));
  }
  return Status::ok();
}

Status Statement::bind_int(int index, int64_t v) { return bind(index, Value::of_int(v)); }

Result<bool> Statement::step(const ErrorContext& where, std::string_view operation) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = sqlite_status(rc, conn_->errmsg(), where, operation);
  sqlite3_reset(stmt_);
  return s;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Value Statement::column_value(int col) const {
  switch (sqlite3_column_type(stmt_, col)) {
    case SQLITE_INTEGER:
      return Value::of_int(sqlite3_column_int64(stmt_, col));
    case SQLITE_FLOAT:
      return Value::of_double(sqlite3_column_double(stmt_, col));
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
      return Value::of_text(std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
      size_t n = static_cast<size_t>(sqlite3_column_bytes(stmt_, col));
      return Value::of_text(n == 0 ? std::string() : std::string(p, n));
    }
    default:
      return Value::null();
  }
}

PooledConnection::~PooledConnection() {
  if (conn_ && pool_) pool_->release(std::move(conn_));
}

Result<PooledConnection> ConnectionPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return PooledConnection(shared_from_this(), std::move(conn));
    }
  }
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                          Connection::open(path_, where_, busy_timeout_ms_));
  return PooledConnection(shared_from_this(), std::move(conn));
}

void ConnectionPool::release(std::unique_ptr<Connection> conn) {
  // A connection left inside a transaction (an error path that could not roll back) is dropped.
  if (!sqlite3_get_autocommit(conn->get())) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
}

std::string quote_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('"');
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string sql_literal(const Value& v, bool as_blob) {
  if (as_blob && v.is_text()) {
    const std::string& s = v.as_text();
    return "X'" + to_hex(reinterpret_cast<const unsigned char*>(s.data()), s.size()) + "'";
  }
  return v.to_string();
}

}  // namespace strata::sqlite

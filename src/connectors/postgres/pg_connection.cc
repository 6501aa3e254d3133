// PostgreSQL connections: URI options, session settings, error mapping, the pool.
#include "connectors/postgres/pg_connection.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "connectors/sql/idle_session.h"
#include "core/env.h"
#include "core/schema.h"

namespace strata::pg {

namespace {

// Passed to libpq unchanged.
constexpr const char* kLibpqOptions[] = {"sslmode",
                                         "sslrootcert",
                                         "sslcert",
                                         "sslkey",
                                         "sslcrl",
                                         "sslcompression",
                                         "sslsni",
                                         "sslpassword",
                                         "channel_binding",
                                         "gssencmode",
                                         "connect_timeout",
                                         "application_name",
                                         "target_session_attrs",
                                         "keepalives",
                                         "keepalives_idle",
                                         "keepalives_interval",
                                         "keepalives_count",
                                         "tcp_user_timeout",
                                         "passfile",
                                         "host",
                                         "hostaddr",
                                         "options"};
// Read by Strata.
constexpr const char* kStrataOptions[] = {"lock_timeout", "statement_timeout"};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// libpq reports connection failures as text only.
Status connect_failure(const std::string& message, const ErrorContext& where) {
  std::string msg = where.store + ": connecting";
  if (!where.table.empty()) msg += " for table '" + where.table + "'";
  msg += " failed: " + trim(message);
  if (contains(message, "password authentication failed") ||
      contains(message, "no password supplied") || contains(message, "authentication failed") ||
      contains(message, "no pg_hba.conf entry")) {
    return Status::permanent(msg +
                             " (check the user and password: put ${VAR} in the URI and export "
                             "it, or use PGPASSWORD / ~/.pgpass)");
  }
  if (contains(message, "database \"") && contains(message, "does not exist")) {
    return Status::permanent(msg + " (check the database name in the URI)");
  }
  if (contains(message, "role \"") && contains(message, "does not exist")) {
    return Status::permanent(msg + " (check the user name in the URI)");
  }
  if (contains(message, "SSL") || contains(message, "certificate") ||
      contains(message, "invalid connection option") || contains(message, "invalid sslmode")) {
    return Status::permanent(msg + " (check the URI's TLS options: sslmode, sslrootcert, ...)");
  }
  // Refused, reset, timed out, starting up, shutting down, too many clients: transient.
  return Status::retryable(msg + " (will retry)");
}

}  // namespace

Status check_uri(const Uri& uri, const std::vector<std::string>& extra_options) {
  if (uri.scheme != "postgres" && uri.scheme != "postgresql") {
    return Status::permanent("URI scheme '" + uri.scheme +
                             "' is not postgres (expected postgres://user@host:port/db)");
  }
  for (const auto& [key, value] : uri.query) {
    bool known = std::find(extra_options.begin(), extra_options.end(), key) != extra_options.end();
    for (const char* k : kLibpqOptions) known = known || key == k;
    for (const char* k : kStrataOptions) known = known || key == k;
    if (!known) {
      std::string list;
      for (const char* k : kStrataOptions) list += std::string(list.empty() ? "" : ", ") + k;
      for (const char* k : kLibpqOptions) list += std::string(", ") + k;
      for (const std::string& k : extra_options) list += ", " + k;
      return Status::permanent("postgres " + uri.redacted() + ": unknown URI option '" + key +
                               "' (known: " + list + ")");
    }
  }
  if (uri.path.size() <= 1) {
    return Status::permanent("postgres " + uri.redacted() +
                             ": no database named (expected postgres://user@host:port/DATABASE)");
  }
  return Status::ok();
}

Result<ConnectOptions> connect_options(const Uri& uri) {
  ConnectOptions o;
  o.uri = uri;
  for (const char* key : kStrataOptions) {
    auto it = uri.query.find(key);
    if (it == uri.query.end()) continue;
    Result<Micros> d = parse_duration(it->second);
    if (!d.is_ok() || d->count() < 0) {
      return Status::permanent("postgres " + uri.redacted() + ": " + key +
                               " must be a duration like 5s or 500ms, got '" + it->second + "'");
    }
    (std::string_view(key) == "lock_timeout" ? o.lock_timeout : o.statement_timeout) = *d;
  }
  return o;
}

std::string pg_interval_ms(Micros d) {
  int64_t ms = (d.count() + 999) / 1000;
  return std::to_string(ms) + "ms";
}

Status status_of(PGconn* conn, const PGresult* res, const ErrorContext& where,
                 std::string_view op) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  std::string primary;
  if (res != nullptr) {
    const char* p = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    primary = p != nullptr ? p : trim(PQresultErrorMessage(res));
    if (const char* d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL); d != nullptr) {
      primary += std::string(" (") + d + ")";
    }
  }
  if (primary.empty() && conn != nullptr) primary = trim(PQerrorMessage(conn));
  if (primary.empty()) primary = "unknown error";

  std::string msg = where.store + ": " + std::string(op);
  if (!where.table.empty()) msg += " table '" + where.table + "'";
  msg += " failed: " + primary;
  if (!sqlstate.empty()) msg += " [SQLSTATE " + sqlstate + "]";

  const bool lost = conn == nullptr || PQstatus(conn) == CONNECTION_BAD;
  if (sqlstate.empty()) {
    if (lost) return Status::retryable(msg + " (the connection was lost; will retry)");
    return Status::permanent(msg);
  }
  if (starts_with(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
      sqlstate == "57P03") {
    return Status::retryable(msg +
                             " (the server closed the connection or is restarting; will "
                             "retry)");
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return Status::retryable(msg + " (a conflict with another transaction; will retry)");
  }
  if (sqlstate == "55P03") {
    return Status::retryable(msg +
                             " (another session holds a lock on these rows; will retry; raise "
                             "the URI's lock_timeout to wait longer)");
  }
  if (sqlstate == "57014") {
    return Status::retryable(msg +
                             " (the statement timed out or was cancelled; will retry; raise the "
                             "URI's statement_timeout or lower purge.batch_rows)");
  }
  if (sqlstate == "53300") {
    return Status::retryable(msg + " (the server has too many connections; will retry)");
  }
  if (lost) return Status::retryable(msg + " (the connection was lost; will retry)");
  if (starts_with(sqlstate, "28")) {
    return Status::permanent(msg + " (check the user and password in the URI, or PGPASSWORD)");
  }
  if (sqlstate == "42P01") {
    return Status::permanent(msg +
                             " (check the table name; schema-qualify it if it is not on the "
                             "search_path)");
  }
  if (sqlstate == "42703") {
    return Status::permanent(msg + " (check the column names and the policy's where)");
  }
  if (sqlstate == "42501") {
    return Status::permanent(msg +
                             " (grant the user SELECT on the table, and DELETE for move mode)");
  }
  if (starts_with(sqlstate, "42") || starts_with(sqlstate, "22")) {
    return Status::permanent(msg + " (check the policy's where and the table's columns)");
  }
  return Status::permanent(msg);
}

std::string param_text(const sql::Param& p) {
  const Value& v = p.value;
  if (v.is_null()) return "";
  switch (p.type) {
    case Type::kTimestamp:
      if (v.is_int()) {
        std::string t = format_timestamp(v.as_int());  // 2026-01-02T03:04:05.123456Z
        t[10] = ' ';
        t.pop_back();
        return t + "+00";
      }
      break;
    case Type::kDate:
      if (v.is_int()) return format_date(v.as_int());
      break;
    case Type::kBool:
      if (v.is_int()) return v.as_int() != 0 ? "true" : "false";
      break;
    case Type::kBytes:
      if (v.is_text()) {
        static const char* digits = "0123456789abcdef";
        std::string out = "\\x";
        for (unsigned char c : v.as_text()) {
          out += digits[c >> 4];
          out += digits[c & 15];
        }
        return out;
      }
      break;
    default:
      break;
  }
  if (v.is_int()) return std::to_string(v.as_int());
  if (v.is_double()) {
    std::string s;
    append_double(s, v.as_double());
    return s;
  }
  return v.as_text();
}

BoundParams::BoundParams(const std::vector<sql::Param>& params) {
  storage_.reserve(params.size());
  for (const sql::Param& p : params) storage_.push_back(param_text(p));
  values_.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values_.push_back(params[i].value.is_null() ? nullptr : storage_[i].c_str());
  }
}

Connection::~Connection() { PQfinish(conn_); }

Result<std::unique_ptr<Connection>> Connection::open(const ConnectOptions& options,
                                                     const ErrorContext& where) {
  const Uri& uri = options.uri;
  std::vector<std::string> keys, values;
  auto add = [&](const std::string& key, const std::string& text) -> Status {
    STRATA_ASSIGN_OR_RETURN(std::string expanded, expand_env(text));
    keys.push_back(key);
    values.push_back(std::move(expanded));
    return Status::ok();
  };
  if (!uri.host.empty()) STRATA_TRY(add("host", uri.host));
  if (uri.port != 0) STRATA_TRY(add("port", std::to_string(uri.port)));
  if (!uri.user.empty()) STRATA_TRY(add("user", uri.user));
  if (!uri.password.empty()) STRATA_TRY(add("password", uri.password));
  STRATA_TRY(add("dbname", uri.path.substr(1)));
  std::set<std::string> given;
  for (const auto& [key, value] : uri.query) {
    bool libpq = false;
    for (const char* k : kLibpqOptions) libpq = libpq || key == k;
    if (!libpq) continue;
    given.insert(key);
    STRATA_TRY(add(key, value));
  }
  // Defaults the URI may override. The TCP ones bound how long a call waits on a link that died
  // without a reset (a cut network, a host gone): about a minute instead of the kernel's two
  // hours; the call then fails retryably and the work goes on elsewhere or later.
  for (auto [key, value] : {std::pair<const char*, const char*>{"connect_timeout", "10"},
                            {"application_name", "strata"},
                            {"keepalives", "1"},
                            {"keepalives_idle", "30"},
                            {"keepalives_interval", "10"},
                            {"keepalives_count", "3"},
                            {"tcp_user_timeout", "60000"}}) {
    if (!given.count(key)) STRATA_TRY(add(key, value));
  }
  STRATA_TRY(add("client_encoding", "UTF8"));
  std::vector<const char*> k, v;
  for (size_t i = 0; i < keys.size(); ++i) {
    k.push_back(keys[i].c_str());
    v.push_back(values[i].c_str());
  }
  k.push_back(nullptr);
  v.push_back(nullptr);
  PGconn* raw = PQconnectdbParams(k.data(), v.data(), 0);
  // Best effort: the expanded password should not linger in freed memory.
  for (std::string& s : values) std::fill(s.begin(), s.end(), '\0');
  if (raw == nullptr) return Status::retryable(where.store + ": out of memory connecting");
  std::unique_ptr<Connection> conn(new Connection(raw, where));
  if (PQstatus(raw) != CONNECTION_OK) return connect_failure(PQerrorMessage(raw), where);
  STRATA_TRY(conn->exec("SET lock_timeout = '" + pg_interval_ms(options.lock_timeout) +
                            "'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = "
                            "'iso_8601'; SET standard_conforming_strings = on",
                        "setting up the session for"));
  return conn;
}

Status Connection::exec(const std::string& sql, std::string_view op) {
  PgResult r(PQexec(conn_, sql.c_str()));
  ExecStatusType st = r.get() != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return status_of(conn_, r.get(), where_, op);
  return Status::ok();
}

Result<PgResult> Connection::query(const std::string& sql, const std::vector<sql::Param>& params,
                                   std::string_view op, bool binary) {
  BoundParams bound(params);
  PgResult r(PQexecParams(conn_, sql.c_str(), bound.size(), nullptr, bound.values(), nullptr,
                          nullptr, binary ? 1 : 0));
  ExecStatusType st = r.get() != nullptr ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return status_of(conn_, r.get(), where_, op);
  return r;
}

bool Connection::reusable() const {
  return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

void ConnectionPool::Lease::release() {
  if (pool_ && conn_ && conn_->reusable()) pool_->give_back(std::move(conn_));
  conn_.reset();
  pool_.reset();
}

Result<ConnectionPool::Lease> ConnectionPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      if (c->reusable() && !sql::idle_session_ended(PQsocket(c->get()))) {
        return Lease(shared_from_this(), std::move(c));
      }
    }
  }
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::open(options_, where_));
  return Lease(shared_from_this(), std::move(c));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
}

}  // namespace strata::pg

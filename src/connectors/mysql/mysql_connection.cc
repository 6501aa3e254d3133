// MySQL/MariaDB connections: options, session settings, error mapping, pool and SQL literals.
#include "connectors/mysql/mysql_connection.h"

#include <errmsg.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "connectors/sql/idle_session.h"
#include "core/env.h"

namespace strata::mysql {

const char* const kKnownOptions[] = {
    "ssl_mode",          "ssl_ca", "ssl_cert", "ssl_key", "connect_timeout", "lock_wait_timeout",
    "statement_timeout", "socket", "replicas", nullptr};

namespace {

std::once_flag g_library_once;

void init_library() {
  std::call_once(g_library_once, [] { mysql_library_init(0, nullptr, nullptr); });
  // Connector/C keeps no per-thread state that needs mysql_thread_end(); the call is kept for
  // client libraries that do (libmysqlclient).
  mysql_thread_init();
}

std::string known_options_text() {
  std::string out;
  for (const char* const* o = kKnownOptions; *o != nullptr; ++o) {
    if (!out.empty()) out += ", ";
    out += *o;
  }
  return out;
}

Result<int> parse_seconds(const Uri& uri, const char* key, int fallback, int max) {
  auto it = uri.query.find(key);
  if (it == uri.query.end()) return fallback;
  int v = 0;
  std::string_view s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1 || v > max) {
    return Status::permanent("mysql " + uri.redacted() + ": option " + key +
                             " must be a number of seconds from 1 to " + std::to_string(max) +
                             ", got '" + it->second + "'");
  }
  return v;
}

constexpr char kHex[] = "0123456789ABCDEF";

void append_hex(std::string& out, std::string_view bytes) {
  size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out[at++] = kHex[c >> 4];
    out[at++] = kHex[c & 15];
  }
}

bool is_number_text(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

void append_2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

bool digits(std::string_view s, size_t at, size_t n, unsigned& out) {
  if (at + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = at; i < at + n; ++i) {
    unsigned d = static_cast<unsigned char>(s[i]) - '0';
    if (d > 9) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

constexpr int64_t kMicrosPerDay = 86400000000LL;

}  // namespace

Status check_uri(const Uri& uri, std::string_view extra_option) {
  if (uri.scheme != "mysql" && uri.scheme != "mariadb") {
    return Status::permanent("URI scheme '" + uri.scheme +
                             "' is not mysql (expected mysql://user@host:port/db)");
  }
  for (const auto& [key, value] : uri.query) {
    bool known = key == extra_option;
    for (const char* const* o = kKnownOptions; *o != nullptr && !known; ++o) known = key == *o;
    if (!known) {
      return Status::permanent("mysql " + uri.redacted() + ": unknown URI option '" + key +
                               "' (known: " + known_options_text() +
                               (extra_option.empty() ? "" : ", " + std::string(extra_option)) +
                               ")");
    }
  }
  std::string db = uri.path.empty() ? "" : uri.path.substr(1);
  if (db.empty() || db.find('/') != std::string::npos) {
    return Status::permanent("mysql " + uri.redacted() +
                             ": the URI names no database (write mysql://user@host:port/DATABASE)");
  }
  if (uri.host.empty() && uri.query.count("socket") == 0) {
    return Status::permanent("mysql " + uri.redacted() +
                             ": the URI names no host (write mysql://user@host:port/db)");
  }
  return Status::ok();
}

Result<ConnectOptions> resolve_options(const Uri& raw) {
  STRATA_TRY(check_uri(raw, raw.query.count("table") ? "table" : ""));
  Uri uri = raw;
  const std::string where = "mysql " + raw.redacted();
  auto expand = [&](std::string& s) -> Status {
    Result<std::string> e = expand_env(s);
    if (!e.is_ok()) return e.status().with_context(where);
    s = std::move(e).value();
    return Status::ok();
  };
  STRATA_TRY(expand(uri.user));
  STRATA_TRY(expand(uri.password));
  STRATA_TRY(expand(uri.host));
  STRATA_TRY(expand(uri.path));
  for (auto& [k, v] : uri.query) STRATA_TRY(expand(v));

  ConnectOptions o;
  if (!uri.host.empty()) o.host = uri.host;
  if (uri.port != 0) o.port = uri.port;
  o.user = uri.user;
  if (!raw.password.empty()) o.password = uri.password;
  o.database = uri.path.substr(1);
  if (auto it = uri.query.find("socket"); it != uri.query.end()) o.socket = it->second;
  if (auto it = uri.query.find("ssl_mode"); it != uri.query.end()) {
    std::string m = it->second;
    std::transform(m.begin(), m.end(), m.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (m != "disabled" && m != "preferred" && m != "required" && m != "verify_ca" &&
        m != "verify_identity") {
      return Status::permanent(where + ": ssl_mode '" + it->second +
                               "' is not one of disabled, preferred, required, verify_ca, "
                               "verify_identity");
    }
    o.ssl_mode = m;
  }
  if (auto it = uri.query.find("ssl_ca"); it != uri.query.end()) o.ssl_ca = it->second;
  if (auto it = uri.query.find("ssl_cert"); it != uri.query.end()) o.ssl_cert = it->second;
  if (auto it = uri.query.find("ssl_key"); it != uri.query.end()) o.ssl_key = it->second;
  STRATA_ASSIGN_OR_RETURN(o.connect_timeout_s, parse_seconds(uri, "connect_timeout", 10, 3600));
  STRATA_ASSIGN_OR_RETURN(o.lock_wait_timeout_s, parse_seconds(uri, "lock_wait_timeout", 5, 3600));
  STRATA_ASSIGN_OR_RETURN(o.statement_timeout_s,
                          parse_seconds(uri, "statement_timeout", 60, 86400));
  if (auto it = uri.query.find("replicas"); it != uri.query.end()) {
    std::string_view list = it->second;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (item.empty()) continue;
      size_t colon = item.rfind(':');
      std::string host(item.substr(0, colon));
      int port = 3306;
      if (colon != std::string_view::npos) {
        std::string_view p = item.substr(colon + 1);
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        if (ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535) {
          return Status::permanent(where + ": replicas entry '" + std::string(item) +
                                   "' is not host:port");
        }
      }
      if (host.empty()) {
        return Status::permanent(where + ": replicas entry '" + std::string(item) +
                                 "' has no host (write replicas=host:port,host:port)");
      }
      o.replicas.emplace_back(std::move(host), port);
    }
  }
  return o;
}

bool is_retryable_error(unsigned err) {
  switch (err) {
    case CR_CONNECTION_ERROR:      // 2002
    case CR_CONN_HOST_ERROR:       // 2003
    case CR_SERVER_GONE_ERROR:     // 2006
    case CR_SERVER_LOST:           // 2013
    case CR_SERVER_LOST_EXTENDED:  // 2055
    case 1040:                     // ER_CON_COUNT_ERROR: too many connections
    case 1053:                     // ER_SERVER_SHUTDOWN
    case 1158:                     // ER_NET_READ_ERROR
    case 1159:                     // ER_NET_READ_INTERRUPTED
    case 1160:                     // ER_NET_ERROR_ON_WRITE
    case 1161:                     // ER_NET_WRITE_INTERRUPTED
    case 1205:                     // ER_LOCK_WAIT_TIMEOUT
    case 1213:                     // ER_LOCK_DEADLOCK
    case 1317:                     // ER_QUERY_INTERRUPTED (KILL QUERY)
    case 1927:                     // ER_CONNECTION_KILLED
    case 1969:                     // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    case 3024:                     // MySQL: max_execution_time exceeded
    case 4031:                     // MySQL: disconnected by the server (idle timeout)
      return true;
    default:
      return false;
  }
}

Status map_error(unsigned err, std::string_view message, const ErrorContext& where,
                 std::string_view op) {
  std::string text = "mysql " + where.store + ": " + std::string(op);
  if (!where.table.empty()) text += " table '" + where.table + "'";
  if (err == 0) {
    // The client library failed without an error code: in practice a connection that went away
    // in the middle of a result (a server restart). Retrying is safe; the shard starts clean.
    return Status::retryable(text +
                             ": the read ended without an error code (the connection was "
                             "probably lost); retried");
  }
  text += ": " + std::string(message) + " (error " + std::to_string(err) + ")";
  if (is_retryable_error(err)) {
    switch (err) {
      case 1205:
        text +=
            "; another session holds a lock on these rows (innodb_lock_wait_timeout, "
            "lock_wait_timeout= in the URI); the batch is retried";
        break;
      case 1213:
        text += "; deadlock with another transaction; the batch is retried";
        break;
      case 1040:
        text += "; the server has no free connection (max_connections); retried after a pause";
        break;
      case 1969:
      case 3024:
        text += "; the statement ran past statement_timeout= in the URI; retried";
        break;
      default:
        text += "; the connection was lost or the server is restarting; retried";
    }
    return Status::retryable(text);
  }
  switch (err) {
    case 1045:
      text += "; check the user and password (in the URI as ${ENV} or in MYSQL_PWD)";
      break;
    case 1044:
    case 1142:
    case 1143:
    case 1227:
    case 1370:
      text += "; grant the user what Strata needs, e.g. GRANT SELECT, DELETE ON db.table TO user";
      break;
    case 1049:
      text += "; check the database name in the URI path";
      break;
    case 1146:
      text += "; check the table name (db.table or table in the URI's database)";
      break;
    case 1054:
      text += "; check the column names in the source's key, time, exclude and where";
      break;
    case 1064:
    case 1149:
      text += "; check the source's where clause (it is SQL AND-ed into every statement)";
      break;
    case 2026:
      text += "; check ssl_mode, ssl_ca, ssl_cert and ssl_key in the URI";
      break;
    case 2005:
      text += "; check the host name in the URI";
      break;
    default:
      break;
  }
  return Status::permanent(text);
}

Connection::~Connection() {
  if (mysql_ != nullptr) mysql_close(mysql_);
}

Result<std::unique_ptr<Connection>> Connection::open(const ConnectOptions& o,
                                                     const ErrorContext& where) {
  init_library();
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::retryable("mysql " + where.store + ": out of memory connecting");
  std::unique_ptr<Connection> conn(new Connection(m, where));
  unsigned timeout = static_cast<unsigned>(o.connect_timeout_s);
  unsigned io_timeout = 3600;  // a dead peer without a reset fails the call instead of hanging
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!o.ssl_ca.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CA, o.ssl_ca.c_str());
  if (!o.ssl_cert.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CERT, o.ssl_cert.c_str());
  if (!o.ssl_key.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_KEY, o.ssl_key.c_str());
  if (o.ssl_mode == "required" || o.ssl_mode == "verify_ca" || o.ssl_mode == "verify_identity") {
    my_bool on = 1;
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    my_bool verify = o.ssl_mode == "required" ? 0 : 1;
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  }
  std::string password;
  const char* pw = nullptr;
  if (o.password) {
    pw = o.password->c_str();
  } else if (const char* env = std::getenv("MYSQL_PWD"); env != nullptr) {
    password = env;
    pw = password.c_str();
  }
  if (mysql_real_connect(m, o.socket.empty() ? o.host.c_str() : nullptr, o.user.c_str(), pw,
                         o.database.c_str(), static_cast<unsigned>(o.port),
                         o.socket.empty() ? nullptr : o.socket.c_str(), 0) == nullptr) {
    return map_error(mysql_errno(m), mysql_error(m), ErrorContext{where.store, ""}, "connecting");
  }
  const char* info = mysql_get_server_info(m);
  conn->mariadb_ = info != nullptr && std::strstr(info, "MariaDB") != nullptr;
  std::string session = "SET time_zone = '+00:00', innodb_lock_wait_timeout = " +
                        std::to_string(o.lock_wait_timeout_s);
  STRATA_TRY(conn->exec(session, "setting up the session on"));
  return conn;
}

Status Connection::last_error(std::string_view op) const {
  unsigned err = mysql_errno(mysql_);
  return map_error(err, mysql_error(mysql_), where_, op);
}

std::string marked(std::string_view sql) {
  std::string out;
  out.reserve(sizeof(kStrataMarker) + sql.size());
  out.append(kStrataMarker).append(sql);
  return out;
}

Status Connection::exec(std::string_view statement, std::string_view op) {
  affected_ = 0;
  const std::string sql = marked(statement);
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    Status s = last_error(op);
    if (s.is_retryable()) healthy_ = false;
    return s;
  }
  if (mysql_field_count(mysql_) == 0) {
    affected_ = mysql_affected_rows(mysql_);
    return Status::ok();
  }
  MYSQL_RES* res = mysql_store_result(mysql_);  // rows nobody asked for
  if (res != nullptr) mysql_free_result(res);
  if (mysql_errno(mysql_) != 0) {
    Status s = last_error(op);
    if (s.is_retryable()) healthy_ = false;
    return s;
  }
  return Status::ok();
}

Result<std::vector<Connection::Row>> Connection::query(std::string_view statement,
                                                       std::string_view op,
                                                       std::vector<std::string>* names) {
  const std::string sql = marked(statement);
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    Status s = last_error(op);
    if (s.is_retryable()) healthy_ = false;
    return s;
  }
  MYSQL_RES* res = mysql_store_result(mysql_);
  std::vector<Row> rows;
  if (res == nullptr) {
    if (mysql_errno(mysql_) != 0) {
      Status s = last_error(op);
      if (s.is_retryable()) healthy_ = false;
      return s;
    }
    return rows;
  }
  unsigned n = mysql_num_fields(res);
  if (names != nullptr) {
    MYSQL_FIELD* fields = mysql_fetch_fields(res);
    names->clear();
    for (unsigned i = 0; i < n; ++i) names->emplace_back(fields[i].name, fields[i].name_length);
  }
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    Row r;
    r.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
      if (row[i] == nullptr) {
        r.emplace_back(std::nullopt);
      } else {
        r.emplace_back(std::string(row[i], lengths[i]));
      }
    }
    rows.push_back(std::move(r));
  }
  mysql_free_result(res);
  return rows;
}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) {
  if (this != &other) {
    release();
    pool_ = std::move(other.pool_);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

PooledConnection::~PooledConnection() { release(); }

void PooledConnection::release() {
  if (pool_ && conn_) pool_->give_back(std::move(conn_));
  conn_.reset();
  pool_.reset();
}

Result<PooledConnection> ConnectionPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      auto [c, since] = std::move(idle_.back());
      idle_.pop_back();
      // One the server closed while idle (KILL, a restart) is found out here, not mid-batch.
      // After a long wait (wait_timeout) a ping makes sure.
      if (sql::idle_session_ended(static_cast<int>(mysql_get_socket(c->get())))) continue;
      if (std::chrono::steady_clock::now() - since > std::chrono::seconds(30) &&
          mysql_ping(c->get()) != 0) {
        continue;
      }
      return PooledConnection(shared_from_this(), std::move(c));
    }
  }
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::open(options_, where_));
  return PooledConnection(shared_from_this(), std::move(c));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) {
  if (!conn->healthy()) return;  // closed by its destructor
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < kMaxIdle)
    idle_.emplace_back(std::move(conn), std::chrono::steady_clock::now());
}

std::string quote_ident(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

void append_date_text(std::string& out, int64_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  append_2(out, static_cast<unsigned>(y / 100));
  append_2(out, static_cast<unsigned>(y % 100));
  out.push_back('-');
  append_2(out, m);
  out.push_back('-');
  append_2(out, d);
}

void append_datetime_text(std::string& out, int64_t micros) {
  int64_t days = micros / kMicrosPerDay;
  int64_t rest = micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  append_date_text(out, days);
  int64_t secs = rest / 1000000;
  int64_t frac = rest % 1000000;
  out.push_back(' ');
  append_2(out, static_cast<unsigned>(secs / 3600));
  out.push_back(':');
  append_2(out, static_cast<unsigned>(secs / 60 % 60));
  out.push_back(':');
  append_2(out, static_cast<unsigned>(secs % 60));
  if (frac != 0) {
    out.push_back('.');
    char buf[7];
    for (int i = 5; i >= 0; --i) {
      buf[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    out.append(buf, 6);
  }
}

bool parse_date_text(std::string_view s, int64_t& days) {
  unsigned y, m, d;
  if (s.size() < 10 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, m) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return false;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  days = days_from_civil(y, m, d);
  return true;
}

bool parse_datetime_text(std::string_view s, int64_t& micros) {
  int64_t days;
  if (!parse_date_text(s, days)) return false;
  if (s.size() == 10) {
    micros = days * kMicrosPerDay;
    return true;
  }
  unsigned hh, mm, ss;
  if (s.size() < 19 || s[10] != ' ' || !digits(s, 11, 2, hh) || s[13] != ':' ||
      !digits(s, 14, 2, mm) || s[16] != ':' || !digits(s, 17, 2, ss) || hh > 23 || mm > 59 ||
      ss > 59) {
    return false;
  }
  int64_t frac = 0;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() > 26 || s.size() == 20) return false;
    int64_t scale = 100000;
    for (size_t i = 20; i < s.size(); ++i, scale /= 10) {
      unsigned dgt = static_cast<unsigned char>(s[i]) - '0';
      if (dgt > 9) return false;
      frac += dgt * scale;
    }
  }
  micros = days * kMicrosPerDay + (hh * 3600LL + mm * 60LL + ss) * 1000000LL + frac;
  return true;
}

namespace {

Status literal_error(const Value& v, Type type) {
  return Status::permanent("cannot write " + v.to_string() + " as a " + type_name(type) +
                           " SQL literal");
}

Status append_text_literal(std::string& out, std::string_view text, Type type) {
  switch (type) {
    case Type::kBytes:
      out += "X'";
      append_hex(out, text);
      out.push_back('\'');
      return Status::ok();
    case Type::kDecimal:
    case Type::kInt64:
    case Type::kDouble:
      if (!is_number_text(text)) {
        return Status::permanent("'" + std::string(text) + "' is not a number (" + type_name(type) +
                                 ")");
      }
      out += text;
      return Status::ok();
    case Type::kTimestamp: {
      Result<int64_t> us = parse_timestamp(text);
      if (!us.is_ok()) return us.status();
      out.push_back('\'');
      append_datetime_text(out, *us);
      out.push_back('\'');
      return Status::ok();
    }
    case Type::kDate: {
      Result<int64_t> d = parse_date(text);
      if (!d.is_ok()) return d.status();
      out.push_back('\'');
      append_date_text(out, *d);
      out.push_back('\'');
      return Status::ok();
    }
    default:
      out += "_utf8mb4 X'";
      append_hex(out, text);
      out.push_back('\'');
      return Status::ok();
  }
}

Status append_int_literal(std::string& out, int64_t x, Type type) {
  switch (type) {
    case Type::kTimestamp:
      out.push_back('\'');
      append_datetime_text(out, x);
      out.push_back('\'');
      return Status::ok();
    case Type::kDate:
      out.push_back('\'');
      append_date_text(out, x);
      out.push_back('\'');
      return Status::ok();
    case Type::kBool:
      out.push_back(x != 0 ? '1' : '0');
      return Status::ok();
    default:
      append_int(out, x);
      return Status::ok();
  }
}

Status append_double_literal(std::string& out, double x) {
  if (!std::isfinite(x)) {
    return Status::permanent("MySQL cannot store the double " + Value::of_double(x).to_string());
  }
  size_t at = out.size();
  append_double(out, x);
  // append_double writes e.g. "1e+300": valid SQL. Integral doubles print without a point, which
  // MySQL reads as an exact number; both compare equal to the stored double.
  (void)at;
  return Status::ok();
}

}  // namespace

Status append_literal(std::string& out, const Value& v, Type type) {
  if (v.is_null()) {
    out += "NULL";
    return Status::ok();
  }
  if (v.is_int()) return append_int_literal(out, v.as_int(), type);
  if (v.is_double()) {
    if (type == Type::kInt64 || type == Type::kDecimal || type == Type::kDouble) {
      return append_double_literal(out, v.as_double());
    }
    return literal_error(v, type);
  }
  return append_text_literal(out, v.as_text(), type);
}

Status append_column_literal(std::string& out, const ColumnVector& col, size_t row) {
  if (col.is_null(row)) {
    out += "NULL";
    return Status::ok();
  }
  switch (col.storage()) {
    case Storage::kInt:
      return append_int_literal(out, col.int_at(row), col.type());
    case Storage::kDouble:
      return append_double_literal(out, col.double_at(row));
    case Storage::kText:
      return append_text_literal(out, col.text_at(row), col.type());
  }
  return Status::ok();
}

Result<std::string> bind_literals(std::string_view sql, const std::vector<LiteralParam>& params) {
  std::string out;
  out.reserve(sql.size() + params.size() * 24);
  size_t next = 0;
  size_t i = 0;
  auto copy_until = [&](char close) {  // a quoted string or identifier, `close` doubled inside
    out.push_back(sql[i++]);
    while (i < sql.size()) {
      char c = sql[i];
      out.push_back(c);
      ++i;
      if (c == '\\' && close != '`' && i < sql.size()) {
        out.push_back(sql[i++]);
      } else if (c == close) {
        if (i < sql.size() && sql[i] == close) {
          out.push_back(sql[i++]);
        } else {
          return;
        }
      }
    }
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      copy_until(c);
    } else if (c == '-' && sql.substr(i, 3) == "-- ") {
      size_t eol = sql.find('\n', i);
      eol = eol == std::string_view::npos ? sql.size() : eol;
      out.append(sql.substr(i, eol - i));
      i = eol;
    } else if (c == '#') {
      size_t eol = sql.find('\n', i);
      eol = eol == std::string_view::npos ? sql.size() : eol;
      out.append(sql.substr(i, eol - i));
      i = eol;
    } else if (c == '/' && sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      end = end == std::string_view::npos ? sql.size() : end + 2;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '?') {
      if (next >= params.size()) {
        return Status::permanent("statement has more placeholders than parameters: " +
                                 std::string(sql.substr(0, 200)));
      }
      STRATA_TRY(append_literal(out, *params[next].value, params[next].type));
      ++next;
      ++i;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  if (next != params.size()) {
    return Status::permanent("statement has fewer placeholders than parameters: " +
                             std::string(sql.substr(0, 200)));
  }
  return out;
}

}  // namespace strata::mysql

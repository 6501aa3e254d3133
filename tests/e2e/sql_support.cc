#include "tests/e2e/sql_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "core/uri.h"
#include "tests/support/duckdb.h"

namespace strata::e2e {

using testing_support::duckdb_query;
using testing_support::run_command;
using testing_support::sql_quote;

std::string shq(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string env_or_fail(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    ADD_FAILURE() << name
                  << " is not set: run the tests through `make test` or scripts/run-tests, "
                     "which start the database servers";
    return "";
  }
  return v;
}

std::string server_uri(const std::string& kind) {
  return env_or_fail(kind == "pg" ? "STRATA_TEST_PG_URI" : "STRATA_TEST_MYSQL_URI");
}

Store::Store(std::string kind, const std::string& server_uri, std::string db)
    : kind_(std::move(kind)), db_(std::move(db)) {
  auto u = parse_uri(server_uri);
  if (!u.is_ok()) {
    ADD_FAILURE() << "bad server URI in the environment";
    return;
  }
  host_ = u->host;
  port_ = u->port;
  user_ = u->user;
  password_ = u->password;
  admin_db_ = u->path.empty() ? "" : u->path.substr(u->path.front() == '/' ? 1 : 0);
}

std::string Store::strata_uri(const std::string& query) const {
  ::setenv("E2E_SQL_PASSWORD", password_.c_str(), 1);
  return std::string(pg() ? "postgres" : "mysql") + "://" + user_ + ":${E2E_SQL_PASSWORD}@" +
         host_ + ":" + std::to_string(port_) + "/" + db_ + query;
}

std::vector<std::string> Store::query(const std::string& sql, bool in_admin_db) const {
  std::string db = in_admin_db ? admin_db_ : db_;
  std::string cmd;
  if (pg()) {
    cmd = "PGPASSWORD=" + shq(password_) +
          " PGCLIENTENCODING=UTF8 psql -X -q -At -F '|' -v ON_ERROR_STOP=1 -h " + host_ + " -p " +
          std::to_string(port_) + " -U " + user_ + " -d " + db + " --pset=null=NULL -c " +
          shq(sql) + " 2>&1";
  } else {
    cmd = "MYSQL_PWD=" + shq(password_) +
          " mariadb --no-defaults --default-character-set=utf8mb4 -N -B -h " + host_ + " -P " +
          std::to_string(port_) + " -u " + user_ + (db.empty() ? "" : " -D " + db) + " -e " +
          shq("SET time_zone = '+00:00'; " + sql) + " 2>&1";
  }
  auto [rc, out] = run_command(cmd);
  EXPECT_EQ(rc, 0) << kind_ << ": " << sql.substr(0, 2000) << "\n" << out.substr(0, 2000);
  std::vector<std::string> rows;
  size_t start = 0;
  while (start < out.size()) {
    size_t nl = out.find('\n', start);
    if (nl == std::string::npos) nl = out.size();
    std::string line = out.substr(start, nl - start);
    if (!pg()) std::replace(line.begin(), line.end(), '\t', '|');
    rows.push_back(line);
    start = nl + 1;
  }
  return rows;
}

int64_t Store::count(const std::string& table, const std::string& where) const {
  auto r = query("SELECT count(*) FROM " + table + (where.empty() ? "" : " WHERE " + where));
  return r.empty() ? -1 : std::stoll(r[0]);
}

void Store::create_database() const {
  query("DROP DATABASE IF EXISTS " + db_, true);
  query("CREATE DATABASE " + db_, true);
}

void Store::drop_database() const { query("DROP DATABASE IF EXISTS " + db_, true); }

void Store::create_telemetry(const std::string& table, int rows) const {
  if (pg()) {
    query("CREATE TABLE " + table +
          " (id bigint PRIMARY KEY, vehicle int NOT NULL, ts timestamp(6) NOT NULL, speed "
          "double precision, status varchar(16), amount numeric(10,2))");
    query("INSERT INTO " + table +
          " SELECT g, g % 50, date_trunc('second', now() AT TIME ZONE 'UTC') - (g % 90) * "
          "interval '1 day' - interval '12 hours' - (g % 1000) * interval '1 second', (g % 1000) "
          "/ 10.0, CASE WHEN "
          "g % 7 = 0 THEN NULL ELSE 'ok-' || (g % 5) END, (g % 10000) / 100.0 FROM "
          "generate_series(1, " +
          std::to_string(rows) + ") g");
  } else {
    query("CREATE TABLE " + table +
          " (id bigint PRIMARY KEY, vehicle int NOT NULL, ts datetime(6) NOT NULL, speed "
          "double, status varchar(16), amount decimal(10,2))");
    query("INSERT INTO " + table +
          " SELECT seq, seq % 50, TIMESTAMP(DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d "
          "%H:%i:%s')) - INTERVAL (seq % 90) DAY - INTERVAL 12 HOUR - INTERVAL (seq % 1000) "
          "SECOND, (seq % "
          "1000) / 10.0, CASE WHEN seq % 7 = 0 THEN NULL ELSE CONCAT('ok-', seq % 5) END, "
          "(seq % 10000) / 100.0 FROM seq_1_to_" +
          std::to_string(rows));
  }
}

std::string Store::older_than_30d() const {
  return pg() ? "ts < (now() AT TIME ZONE 'UTC') - interval '30 days'"
              : "ts < UTC_TIMESTAMP() - INTERVAL 30 DAY";
}

std::vector<std::string> Store::rows(const std::string& table, const std::string& where) const {
  std::string ts_us = pg() ? "(extract(epoch from ts) * 1000000)::bigint"
                           : "CAST(UNIX_TIMESTAMP(ts) * 1000000 AS SIGNED)";
  return query("SELECT id, vehicle, COALESCE(status, 'NULL'), amount, " + ts_us + " FROM " + table +
               (where.empty() ? "" : " WHERE " + where) + " ORDER BY id");
}

int Store::kill_connections() const {
  if (pg()) {
    auto r =
        query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" +
                  db_ + "' AND pid <> pg_backend_pid()",
              true);
    return r.empty() ? 0 : std::stoi(r[0]);
  }
  auto ids = query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '" + db_ +
                   "' AND ID <> CONNECTION_ID()");
  int n = 0;
  for (const std::string& id : ids) {
    if (id.empty()) continue;
    run_command("MYSQL_PWD=" + shq(password_) + " mariadb --no-defaults -h " + host_ + " -P " +
                std::to_string(port_) + " -u " + user_ + " -e 'KILL " + id + "' 2>/dev/null");
    ++n;
  }
  return n;
}

std::vector<std::string> duckdb_rows(const std::string& dir, const std::vector<std::string>& exprs,
                                     const std::string& tail) {
  // Aliases that sort in select-list order: the JSON objects come back with sorted keys.
  auto alias = [](size_t i) {
    std::string n = std::to_string(i);
    return "c" + std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n;
  };
  std::string sql = "SELECT ";
  for (size_t i = 0; i < exprs.size(); ++i) {
    sql += (i ? ", " : "") + exprs[i] + " AS " + alias(i);
  }
  sql += " FROM read_parquet(" + sql_quote(dir + "/**/*.parquet") + ") " + tail;
  auto j = duckdb_query({sql});
  EXPECT_TRUE(j.is_ok()) << sql << "\n" << j.status().to_string();
  std::vector<std::string> out;
  if (!j.is_ok()) return out;
  for (const auto& row : *j) {
    std::string line;
    for (size_t i = 0; i < exprs.size(); ++i) {
      const nlohmann::json& v = row[alias(i)];
      line += (i ? "|" : "") + (v.is_null()     ? "NULL"
                                : v.is_string() ? v.get<std::string>()
                                                : v.dump());
    }
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> archived_rows(const std::string& dir) {
  return duckdb_rows(
      dir, {"id", "vehicle", "COALESCE(status, 'NULL')", "CAST(amount AS VARCHAR)", "epoch_us(ts)"},
      "ORDER BY id");
}

}  // namespace strata::e2e

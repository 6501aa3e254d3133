// Support for the PostgreSQL and MariaDB end-to-end tests: a database seen through the server's
// own command-line client (psql, mariadb), and the archive as DuckDB reads it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata::e2e {

// Single-quoted for the shell.
std::string shq(const std::string& s);

// The environment variable's value; a test failure (naming how to start the servers) when unset.
std::string env_or_fail(const char* name);

// STRATA_TEST_PG_URI or STRATA_TEST_MYSQL_URI, for kind "pg" or "mysql".
std::string server_uri(const std::string& kind);

// One server and one database of it, seen through its command-line client.
class Store {
 public:
  // kind: "pg" or "mysql"; server_uri: STRATA_TEST_*_URI (with the password).
  Store(std::string kind, const std::string& server_uri, std::string db);

  const std::string& kind() const { return kind_; }
  bool pg() const { return kind_ == "pg"; }
  const std::string& db() const { return db_; }

  // The URI strata gets: the password through ${E2E_SQL_PASSWORD}, never literally.
  std::string strata_uri(const std::string& query = "") const;

  // Runs SQL in this database (or the server's default one); rows as "a|b|c", NULL as "NULL".
  // A failing statement is a test failure.
  std::vector<std::string> query(const std::string& sql, bool in_admin_db = false) const;
  int64_t count(const std::string& table, const std::string& where = "") const;

  void create_database() const;
  void drop_database() const;

  // The telemetry table: ids 1..rows, ts spread over 90 days (about 2/3 older than 30 days),
  // none within 12 hours of the 30-day cutoff, so a test and strata agree on what is old.
  void create_telemetry(const std::string& table, int rows) const;
  std::string older_than_30d() const;
  // "id|vehicle|status|amount|ts_us" of every row, the way the archive is compared.
  std::vector<std::string> rows(const std::string& table, const std::string& where = "") const;
  // Ends this database's other connections (strata's), as a DBA or a failover would.
  int kill_connections() const;

 private:
  std::string kind_, db_, host_, user_, password_, admin_db_;
  int port_ = 0;
};

// Rows of a DuckDB query over the Parquet files under `dir` (`FROM
// read_parquet(<dir>/**/*.parquet)` is appended to the select list): each row's values as "a|b|c"
// in the order of `exprs`, NULL as "NULL", numbers and strings as DuckDB prints them. `tail`
// follows the FROM (WHERE, ORDER BY).
std::vector<std::string> duckdb_rows(const std::string& dir, const std::vector<std::string>& exprs,
                                     const std::string& tail);

// The telemetry archive as DuckDB reads it: "id|vehicle|status|amount|ts_us", sorted by id.
std::vector<std::string> archived_rows(const std::string& dir);

}  // namespace strata::e2e

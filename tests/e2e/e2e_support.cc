#include "tests/e2e/e2e_support.h"

#include <fcntl.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/schema.h"

extern char** environ;

namespace strata::e2e {

namespace {
long g_peak_rss_kib = 0;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string strata_binary() { return std::string(STRATA_BINARY_DIR) + "/strata"; }

pid_t spawn_strata(const std::vector<std::string>& args, const std::string& cwd) {
  std::string bin = strata_binary();
  std::vector<std::string> argv_s = {bin};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (cwd + "/.stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&fa, 2, (cwd + "/.stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) < 0) return -1;
  g_peak_rss_kib = ru.ru_maxrss;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

long last_peak_rss_kib() { return g_peak_rss_kib; }

CommandResult run_strata(const std::vector<std::string>& args, const std::string& cwd) {
  CommandResult r;
  pid_t pid = spawn_strata(args, cwd);
  if (pid < 0) return r;
  r.exit_code = wait_for(pid);
  r.out = slurp(cwd + "/.stdout");
  r.err = slurp(cwd + "/.stderr");
  return r;
}

namespace {
struct Db {
  sqlite3* db = nullptr;
  explicit Db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("open " + path);
    sqlite3_busy_timeout(db, 5000);
  }
  ~Db() { sqlite3_close_v2(db); }
};
}  // namespace

void sqlite_exec(const std::string& path, const std::string& sql) {
  Db d(path);
  char* err = nullptr;
  if (sqlite3_exec(d.db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error("sqlite " + path + ": " + msg + " in " + sql);
  }
}

std::vector<std::vector<std::optional<std::string>>> sqlite_rows(const std::string& path,
                                                                 const std::string& sql) {
  Db d(path);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(d.db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(d.db));
  }
  std::vector<std::vector<std::optional<std::string>>> rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::optional<std::string>> row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        row.push_back(std::nullopt);
      } else if (sqlite3_column_type(st, i) == SQLITE_FLOAT) {
        std::string s;
        append_double(s, sqlite3_column_double(st, i));
        row.push_back(s);
      } else {
        row.push_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                                  static_cast<size_t>(sqlite3_column_bytes(st, i))));
      }
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  return rows;
}

int64_t sqlite_count(const std::string& db, const std::string& table, const std::string& where) {
  auto rows =
      sqlite_rows(db, "SELECT count(*) FROM " + table + (where.empty() ? "" : " WHERE " + where));
  return std::stoll(*rows.at(0).at(0));
}

namespace {
std::string canon_ts(const std::string& text) {
  auto us = parse_timestamp(text);
  if (!us.is_ok()) return "BAD(" + text + ")";
  return std::to_string(*us);
}

std::string canon_json(const nlohmann::json& v, bool is_double) {
  if (v.is_null()) return "\\N";
  if (is_double) {
    double d = v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>();
    std::string s;
    append_double(s, d);
    return s;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}
}  // namespace

std::vector<std::string> source_telemetry_rows(const std::string& db) {
  std::vector<std::string> out;
  for (const auto& r : sqlite_rows(db,
                                   "SELECT id, vehicle_id, ts, speed, lat, lon, status, payload "
                                   "FROM telemetry ORDER BY id")) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i) line += "|";
      if (!r[i])
        line += "\\N";
      else if (i == 2)
        line += canon_ts(*r[i]);
      else
        line += *r[i];
    }
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> archive_telemetry_rows(const std::string& archive_dir,
                                                const std::string& format) {
  std::string from;
  if (format == "ndjson") {
    from = "read_json(" + testing_support::sql_quote(archive_dir + "/**/*.ndjson*") +
           ", format='newline_delimited', hive_partitioning=false, columns={id:'BIGINT', "
           "vehicle_id:'BIGINT', ts:'VARCHAR', speed:'DOUBLE', lat:'DOUBLE', lon:'DOUBLE', "
           "status:'VARCHAR', payload:'VARCHAR'})";
  } else if (format == "csv") {
    from = "read_csv(" + testing_support::sql_quote(archive_dir + "/**/*.csv*") +
           ", header=true, hive_partitioning=false, allow_quoted_nulls=false, "
           "columns={id:'BIGINT', vehicle_id:'BIGINT', "
           "ts:'VARCHAR', speed:'DOUBLE', lat:'DOUBLE', lon:'DOUBLE', status:'VARCHAR', "
           "payload:'VARCHAR'})";
  } else {
    from = "read_parquet(" + testing_support::sql_quote(archive_dir + "/**/*.parquet") +
           ", hive_partitioning=false)";
  }
  std::string ts = format == "parquet" ? "epoch_us(ts)::VARCHAR" : "ts";
  auto rows = testing_support::duckdb_query(
      {"SELECT id::VARCHAR AS id, vehicle_id::VARCHAR AS vehicle_id, " + ts +
       " AS ts, speed, lat, lon, status, payload FROM " + from + " ORDER BY 1"});
  if (!rows.is_ok()) throw std::runtime_error(rows.status().message());
  std::vector<std::string> out;
  for (const auto& r : *rows) {
    std::string line = canon_json(r["id"], false) + "|" + canon_json(r["vehicle_id"], false) + "|" +
                       (r["ts"].is_null()     ? "\\N"
                        : format == "parquet" ? r["ts"].get<std::string>()
                                              : canon_ts(r["ts"].get<std::string>())) +
                       "|" + canon_json(r["speed"], true) + "|" + canon_json(r["lat"], true) + "|" +
                       canon_json(r["lon"], true) + "|" + canon_json(r["status"], false) + "|" +
                       canon_json(r["payload"], false);
    out.push_back(line);
  }
  return out;
}

std::string write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  return path;
}

std::string read_text(const std::string& path) { return slurp(path); }

}  // namespace strata::e2e

// Read and delete throughput of the MySQL source over a telemetry-like table, and a bare read
// over the binary protocol (server-side prepared statements, unbuffered mysql_stmt_fetch) decoded
// into the same Batch (the floor for read()). read() first used the text protocol
// (mysql_use_result, std::from_chars): 0.27M rows/s here against 0.74M for this binary loop, the
// server's number and date formatting being the cost; it now uses the binary protocol.
// Not a test: run by hand against a server.
//
//   mysql_read_bench [--rows N] [--batch N] [--deletes N]   (URI from STRATA_TEST_MYSQL_URI)
#include <mysql.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "connectors/mysql/mysql_connection.h"
#include "connectors/mysql/mysql_source.h"

namespace strata {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void die(const std::string& what) {
  std::fprintf(stderr, "mysql_read_bench: %s\n", what.c_str());
  std::exit(1);
}

void run(mysql::Connection& c, const std::string& sql) {
  Status s = c.exec(sql, "bench");
  if (!s.is_ok()) die(s.to_string());
}

// Fills `table` with `rows` telemetry rows unless it has them already.
void ensure_table(mysql::Connection& c, const std::string& table, int64_t rows) {
  auto n = c.query("SELECT count(*) FROM " + table, "bench");
  if (n.is_ok() && !n->empty() && std::stoll(*(*n)[0][0]) == rows) return;
  run(c, "DROP TABLE IF EXISTS " + table);
  run(c, "CREATE TABLE " + table +
             " (id bigint PRIMARY KEY AUTO_INCREMENT, vehicle_id int NOT NULL, ts datetime(6) NOT "
             "NULL, lat double, lon double, speed float, status varchar(16), payload text) "
             "CHARACTER SET utf8mb4");
  for (int64_t done = 0; done < rows; done += 200000) {
    int64_t n = std::min<int64_t>(200000, rows - done);
    run(c, "INSERT INTO " + table +
               " (vehicle_id, ts, lat, lon, speed, status, payload) SELECT seq % 5000, "
               "'2026-01-01' - INTERVAL seq SECOND + INTERVAL seq % 1000 MICROSECOND, "
               "48 + (seq % 100000) / 100000.0 + 0.0123456789, 2 + (seq % 77777) / 77777.0, "
               "(seq % 1300) / 10.0, ELT(1 + seq % 4, 'ok', 'idle', 'moving', 'charging'), "
               "CONCAT('{\"odo\":', seq, ',\"fw\":\"v1.2.', seq % 9, '\"}') FROM seq_1_to_" +
               std::to_string(n));
  }
}

// The connector's read(): text protocol, keyset pages streamed with mysql_use_result.
double bench_text(const std::string& uri, const std::string& table, size_t batch_rows,
                  int64_t& rows) {
  SourceSpec spec;
  spec.uri = uri;
  spec.table = table;
  spec.key_columns = {"id"};
  spec.time_column = "ts";
  auto src = open_mysql_source(spec);
  if (!src.is_ok()) die(src.status().to_string());
  auto schema = (*src)->describe();
  if (!schema.is_ok()) die(schema.status().to_string());
  Batch batch(std::make_shared<const Schema>(*schema));
  auto start = std::chrono::steady_clock::now();
  auto reader = (*src)->read(Predicate{}, Shard{0, KeyRange{}, 0}, batch_rows);
  if (!reader.is_ok()) die(reader.status().to_string());
  rows = 0;
  for (;;) {
    auto more = (*reader)->next(batch);
    if (!more.is_ok()) die(more.status().to_string());
    if (!*more) break;
    rows += static_cast<int64_t>(batch.num_rows());
  }
  return seconds_since(start);
}

// The binary protocol: a prepared keyset statement, unbuffered fetch into bound buffers, decoded
// into the same Batch.
double bench_binary(mysql::Connection& c, const std::string& table, size_t batch_rows,
                    int64_t& rows) {
  auto schema = std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64},
                                                                   {"vehicle_id", Type::kInt64},
                                                                   {"ts", Type::kTimestamp},
                                                                   {"lat", Type::kDouble},
                                                                   {"lon", Type::kDouble},
                                                                   {"speed", Type::kDouble},
                                                                   {"status", Type::kString},
                                                                   {"payload", Type::kString}});
  Batch batch(schema);
  MYSQL_STMT* st = mysql_stmt_init(c.get());
  std::string sql = "SELECT id, vehicle_id, ts, lat, lon, speed, status, payload FROM " + table +
                    " WHERE id > ? ORDER BY id LIMIT " + std::to_string(batch_rows);
  if (mysql_stmt_prepare(st, sql.data(), sql.size()) != 0) die(mysql_stmt_error(st));
  int64_t after = 0;
  MYSQL_BIND param{};
  param.buffer_type = MYSQL_TYPE_LONGLONG;
  param.buffer = &after;
  mysql_stmt_bind_param(st, &param);

  int64_t id = 0, vehicle = 0;
  MYSQL_TIME ts{};
  double lat = 0, lon = 0;
  float speed = 0;
  char status[64], payload[4096];
  unsigned long status_len = 0, payload_len = 0;
  my_bool nulls[8] = {}, errors[8] = {};
  MYSQL_BIND out[8]{};
  out[0].buffer_type = MYSQL_TYPE_LONGLONG, out[0].buffer = &id;
  out[1].buffer_type = MYSQL_TYPE_LONGLONG, out[1].buffer = &vehicle;
  out[2].buffer_type = MYSQL_TYPE_DATETIME, out[2].buffer = &ts;
  out[3].buffer_type = MYSQL_TYPE_DOUBLE, out[3].buffer = &lat;
  out[4].buffer_type = MYSQL_TYPE_DOUBLE, out[4].buffer = &lon;
  out[5].buffer_type = MYSQL_TYPE_FLOAT, out[5].buffer = &speed;
  out[6].buffer_type = MYSQL_TYPE_STRING, out[6].buffer = status;
  out[6].buffer_length = sizeof status, out[6].length = &status_len;
  out[7].buffer_type = MYSQL_TYPE_STRING, out[7].buffer = payload;
  out[7].buffer_length = sizeof payload, out[7].length = &payload_len;
  for (int i = 0; i < 8; ++i) out[i].is_null = &nulls[i], out[i].error = &errors[i];
  mysql_stmt_bind_result(st, out);

  auto start = std::chrono::steady_clock::now();
  rows = 0;
  for (;;) {
    batch.clear();
    if (mysql_stmt_execute(st) != 0) die(mysql_stmt_error(st));
    size_t n = 0;
    int rc;
    while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
      batch.column(0).append_int(id);
      batch.column(1).append_int(vehicle);
      int64_t days = days_from_civil(ts.year, ts.month, ts.day);
      batch.column(2).append_int(days * 86400000000LL +
                                 (ts.hour * 3600LL + ts.minute * 60 + ts.second) * 1000000LL +
                                 ts.second_part);
      batch.column(3).append_double(lat);
      batch.column(4).append_double(lon);
      batch.column(5).append_double(speed);
      batch.column(6).append_text(std::string_view(status, status_len));
      batch.column(7).append_text(std::string_view(payload, payload_len));
      ++n;
    }
    if (rc != MYSQL_NO_DATA) die(mysql_stmt_error(st));
    rows += static_cast<int64_t>(n);
    if (n < batch_rows) break;
    after = batch.column(0).int_at(n - 1);
  }
  double secs = seconds_since(start);
  mysql_stmt_close(st);
  return secs;
}

// delete_keys over the first `count` rows of `table`, in contiguous runs of 1000 keys.
double bench_delete(const std::string& uri, const std::string& table, int64_t count) {
  SourceSpec spec;
  spec.uri = uri;
  spec.table = table;
  spec.key_columns = {"id"};
  spec.time_column = "ts";
  auto src = std::move(open_mysql_source(spec)).value();
  if (!src->describe().is_ok()) die("describe");
  auto schema = std::make_shared<const Schema>(std::vector<Column>{{"id", Type::kInt64}});
  Batch keys(schema);
  Predicate p;
  p.time_before = *parse_timestamp("2026-01-02T00:00:00Z");
  auto start = std::chrono::steady_clock::now();
  uint64_t deleted = 0;
  for (int64_t first = 1; first <= count; first += 1000) {
    keys.clear();
    for (int64_t k = first; k < first + 1000 && k <= count; ++k) keys.column(0).append_int(k);
    auto n = src->delete_keys(p, Shard{0, KeyRange{}, 0}, keys);
    if (!n.is_ok()) die(n.status().to_string());
    deleted += *n;
  }
  double secs = seconds_since(start);
  if (deleted != static_cast<uint64_t>(count)) die("deleted " + std::to_string(deleted));
  return secs;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  using namespace strata;
  int64_t rows = 1000000, deletes = 200000;
  size_t batch = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--rows") rows = std::stoll(argv[i + 1]);
    if (a == "--batch") batch = std::stoul(argv[i + 1]);
    if (a == "--deletes") deletes = std::stoll(argv[i + 1]);
  }
  const char* uri_env = std::getenv("STRATA_TEST_MYSQL_URI");
  if (uri_env == nullptr) die("set STRATA_TEST_MYSQL_URI (scripts/test-servers start DIR)");
  std::string uri = uri_env;
  auto parsed = parse_uri(uri);
  auto options = mysql::resolve_options(*parsed);
  if (!options.is_ok()) die(options.status().to_string());
  auto conn = mysql::Connection::open(*options, mysql::ErrorContext{parsed->redacted(), ""});
  if (!conn.is_ok()) die(conn.status().to_string());
  ensure_table(**conn, "bench_telemetry", rows);

  for (int round = 0; round < 2; ++round) {
    int64_t n = 0;
    double t = bench_text(uri, "bench_telemetry", batch, n);
    std::printf("read() (connector):     %lld rows in %.2fs = %.0f rows/s\n",
                static_cast<long long>(n), t, n / t);
    t = bench_binary(**conn, "bench_telemetry", batch, n);
    std::printf("binary protocol (stmt): %lld rows in %.2fs = %.0f rows/s\n",
                static_cast<long long>(n), t, n / t);
  }
  if (deletes > 0) {
    run(**conn, "DROP TABLE IF EXISTS bench_delete");
    run(**conn, "CREATE TABLE bench_delete LIKE bench_telemetry");
    run(**conn, "INSERT INTO bench_delete SELECT * FROM bench_telemetry WHERE id <= " +
                    std::to_string(deletes));
    double t = bench_delete(uri, "bench_delete", deletes);
    std::printf("delete_keys, 1000-key runs: %lld rows in %.2fs = %.0f rows/s\n",
                static_cast<long long>(deletes), t, deletes / t);
    run(**conn, "DROP TABLE bench_delete");
  }
  return 0;
}

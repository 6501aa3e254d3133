// The PostgreSQL source: catalog-driven describe, sampled plans, binary COPY reads, key deletes.
#include "connectors/postgres/postgres_source.h"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>

#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/pg_types.h"
#include "connectors/sql/sql_text.h"
#include "core/schema.h"

namespace strata {

namespace {

using pg::ConnectionPool;
using pg::Decode;
using pg::ErrorContext;
using pg::PgResult;
using sql::Dialect;

constexpr int64_t kDefaultExactRows = 250000;
constexpr size_t kDeleteParams = 20000;  // bound parameters per DELETE statement
constexpr const char* kProbeTimeout = "2s";
constexpr int kProbeSlices = 64;  // plan(): the selection's ends probed in this many key slices
constexpr size_t kMaxListedNames = 30;
constexpr char kCopySignature[] = "PGCOPY\n\377\r\n";  // + '\0': 11 bytes

std::string quote(std::string_view name) { return sql::quote_ident(Dialect::kPostgres, name); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxListedNames; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > kMaxListedNames) out += ", ...";
  if (names.empty()) out = "none";
  return out;
}

inline int16_t be16s(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return static_cast<int16_t>(__builtin_bswap16(v));
}
inline int32_t be32s(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return static_cast<int32_t>(__builtin_bswap32(v));
}
// A big-endian integer cell of a binary result (int8, or shorter).
inline int64_t be_int(std::string_view cell) {
  int64_t v = 0;
  for (char c : cell) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

// What describe() found, shared read-only by every call afterwards.
struct TableInfo {
  std::string schema_name;
  std::string table_name;
  int64_t oid = 0;
  bool partitioned = false;  // a partitioned table (its leaves hold the rows)
  std::shared_ptr<const Schema> schema;
  std::vector<Decode> decodes;     // per schema column
  std::vector<std::string> exprs;  // per schema column: the COPY select expression
  std::string select_list;
  sql::TableRef ref;
  std::vector<int> key_index;  // schema index of each key column
  int time_index = -1;

  Decode first_key_decode() const { return decodes[static_cast<size_t>(key_index[0])]; }
  Type first_key_type() const { return ref.key_types[0]; }
  const std::string& first_key_expr() const { return exprs[static_cast<size_t>(key_index[0])]; }
  // An integer first key: shards end just below the next shard's first value.
  bool integer_key() const {
    return storage_of(first_key_type()) == Storage::kInt && first_key_type() != Type::kBool;
  }
};

// One tuple of a binary COPY stream: `fields` fields starting at `p`.
struct Tuple {
  const char* p = nullptr;
  const char* end = nullptr;
  int fields = 0;
};

// Walks the fields of a tuple. Returns false when the tuple is malformed.
class FieldCursor {
 public:
  explicit FieldCursor(const Tuple& t) : p_(t.p), end_(t.end) {}
  // data = nullptr for NULL.
  bool next(const char*& data, size_t& len) {
    if (end_ - p_ < 4) return false;
    int32_t n = be32s(p_);
    p_ += 4;
    if (n < 0) {
      data = nullptr;
      len = 0;
      return true;
    }
    if (end_ - p_ < n) return false;
    data = p_;
    len = static_cast<size_t>(n);
    p_ += n;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

// A running `COPY (...) TO STDOUT (FORMAT binary)`: one tuple per CopyData message (as the
// server sends them), read with async PQgetCopyData and poll(), so libpq holds one row at a time
// and the server blocks on a full socket while the caller is busy.
class CopyStream {
 public:
  CopyStream() = default;
  ~CopyStream() { PQfreemem(buf_); }
  CopyStream(const CopyStream&) = delete;
  CopyStream& operator=(const CopyStream&) = delete;

  Status start(pg::Connection& conn, const std::string& select, std::string_view op) {
    conn_ = &conn;
    op_ = op;
    std::string sql = "COPY (" + select + ") TO STDOUT (FORMAT binary)";
    if (PQsendQuery(conn.get(), sql.c_str()) != 1) {
      return pg::status_of(conn.get(), nullptr, conn.where(), op_);
    }
    PgResult r(PQgetResult(conn.get()));
    if (r.get() == nullptr || PQresultStatus(r.get()) != PGRES_COPY_OUT) {
      Status s = pg::status_of(conn.get(), r.get(), conn.where(), op_);
      drain();
      return s;
    }
    return Status::ok();
  }

  // The next tuple; false at the end of the stream (after checking the COPY succeeded).
  Result<bool> next(Tuple& t) {
    for (;;) {
      if (done_) return false;
      PQfreemem(buf_);
      buf_ = nullptr;
      int n = PQgetCopyData(conn_->get(), &buf_, 1);
      if (n == 0) {
        STRATA_TRY(wait_readable());
        continue;
      }
      if (n == -1) {  // COPY finished: its final result says whether it succeeded
        done_ = true;
        PgResult r(PQgetResult(conn_->get()));
        Status s = r.get() != nullptr && PQresultStatus(r.get()) == PGRES_COMMAND_OK
                       ? Status::ok()
                       : pg::status_of(conn_->get(), r.get(), conn_->where(), op_);
        drain();
        if (!s.is_ok()) return s;
        if (!saw_trailer_) return malformed("the stream ended without its trailer");
        return false;
      }
      if (n < 0) {
        done_ = true;
        return pg::status_of(conn_->get(), nullptr, conn_->where(), op_);
      }
      const char* p = buf_;
      const char* end = buf_ + n;
      if (!saw_header_) {
        if (n < 19 || std::memcmp(p, kCopySignature, 11) != 0) {
          return malformed("no binary COPY signature");
        }
        int32_t ext = be32s(p + 15);
        if (ext < 0 || end - (p + 19) < ext) return malformed("a bad header extension");
        p += 19 + ext;
        saw_header_ = true;
        if (p == end) continue;
      }
      if (end - p < 2) return malformed("a truncated tuple");
      int16_t fields = be16s(p);
      p += 2;
      if (fields == -1) {
        saw_trailer_ = true;
        continue;
      }
      t.p = p;
      t.end = end;
      t.fields = fields;
      return true;
    }
  }

 private:
  Status wait_readable() {
    pollfd fd{PQsocket(conn_->get()), POLLIN, 0};
    int rc = poll(&fd, 1, -1);
    if (rc < 0 && errno != EINTR) {
      return Status::retryable(conn_->where().store + ": " + std::string(op_) + " table '" +
                               conn_->where().table + "' failed: poll: " + std::strerror(errno));
    }
    if (PQconsumeInput(conn_->get()) != 1) {
      done_ = true;
      return pg::status_of(conn_->get(), nullptr, conn_->where(), op_);
    }
    return Status::ok();
  }

  void drain() {
    while (PGresult* r = PQgetResult(conn_->get())) PQclear(r);
  }

  Status malformed(const std::string& what) {
    done_ = true;
    return Status::permanent(conn_->where().store + ": " + std::string(op_) + " table '" +
                             conn_->where().table + "': unexpected binary COPY data (" + what +
                             ")");
  }

  pg::Connection* conn_ = nullptr;
  std::string_view op_;
  char* buf_ = nullptr;
  bool saw_header_ = false;
  bool saw_trailer_ = false;
  bool done_ = false;
};

// The key tuple of a COPY row, for messages: "42" or "(7, 'a')".
std::string key_text(const TableInfo& info, const Tuple& t) {
  std::vector<std::string> parts(info.key_index.size(), "?");
  FieldCursor cur(t);
  std::string scratch;
  for (int c = 0; c < t.fields; ++c) {
    const char* data;
    size_t len;
    if (!cur.next(data, len)) break;
    for (size_t k = 0; k < info.key_index.size(); ++k) {
      if (info.key_index[k] != c) continue;
      ColumnVector v((*info.schema)[static_cast<size_t>(c)].type);
      if (data == nullptr) {
        parts[k] = "NULL";
      } else if (pg::decode_value(info.decodes[static_cast<size_t>(c)], data, len, v, scratch)
                     .empty()) {
        parts[k] = v.value_at(0).to_string();
      }
    }
  }
  if (parts.size() == 1) return parts[0];
  std::string out = "(";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + ")";
}

class PostgresBatchReader final : public BatchReader {
 public:
  PostgresBatchReader(std::shared_ptr<const TableInfo> info, const ErrorContext& where,
                      ConnectionPool::Lease conn, size_t batch_rows)
      : info_(std::move(info)),
        prefix_(where.store + ": reading table '" + where.table + "': "),
        conn_(std::move(conn)),
        batch_rows_(batch_rows) {}

  ~PostgresBatchReader() override {
    if (!finished_) conn_.discard();  // mid-COPY: closing the socket ends the server's side
  }

  Status start(const std::string& select) { return stream_.start(*conn_, select, "reading"); }

  void set_batch_rows(size_t rows) override {
    batch_rows_.store(std::max<size_t>(rows, 1), std::memory_order_relaxed);
  }

  Result<bool> next(Batch& batch) override {
    batch.clear();
    if (finished_) return false;
    const size_t ncols = info_->decodes.size();
    size_t rows = 0;
    Tuple t;
    const size_t limit = batch_rows_.load(std::memory_order_relaxed);
    while (rows < limit) {
      Result<bool> more = stream_.next(t);
      if (!more.is_ok()) {
        conn_.discard();
        finished_ = true;
        return more.status();
      }
      if (!*more) {
        finished_ = true;
        break;
      }
      if (static_cast<size_t>(t.fields) != ncols) {
        return fail("a row with " + std::to_string(t.fields) + " fields, expected " +
                    std::to_string(ncols));
      }
      FieldCursor cur(t);
      for (size_t c = 0; c < ncols; ++c) {
        const char* data;
        size_t len;
        if (!cur.next(data, len)) return fail("a truncated row");
        ColumnVector& out = batch.column(c);
        if (data == nullptr) {
          out.append_null();
          continue;
        }
        std::string err = pg::decode_value(info_->decodes[c], data, len, out, scratch_);
        if (!err.empty()) return bad_value(t, c, err);
      }
      ++rows;
    }
    return rows > 0;
  }

 private:
  Status fail(const std::string& what) {
    conn_.discard();
    finished_ = true;
    return Status::permanent(prefix_ + "unexpected binary COPY data (" + what + ")");
  }

  Status bad_value(const Tuple& t, size_t c, const std::string& what) {
    const Column& col = (*info_->schema)[c];
    std::string msg = prefix_ + "column '" + col.name + "' (" + col.source_type + ") at key " +
                      key_text(*info_, t) + " holds " + what +
                      ", which Strata cannot archive: fix the row, narrow the selection with "
                      "where, or add the column to the source's exclude list";
    conn_.discard();
    finished_ = true;
    return Status::permanent(msg);
  }

  std::shared_ptr<const TableInfo> info_;
  const std::string prefix_;  // "postgres URI: reading table 't': "
  ConnectionPool::Lease conn_;
  CopyStream stream_;
  std::atomic<size_t> batch_rows_;
  std::string scratch_;
  bool finished_ = false;
};

class PostgresSource final : public Source {
 public:
  PostgresSource(SourceSpec spec, pg::ConnectOptions options, int64_t exact_rows)
      : spec_(std::move(spec)),
        where_{"postgres " + options.uri.redacted(), spec_.table},
        options_(std::move(options)),
        exact_rows_(exact_rows) {}

  Result<Schema> describe() override {
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    return *info->schema;
  }

  Result<std::vector<Shard>> plan(const Predicate& predicate,
                                  const SplitOptions& options) override {
    if (options.shard_rows < 1) return error("shard_rows must be at least 1");
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, connect());
    const char* op = "planning shards of";
    const TableInfo& ti = *info;
    // Two sessions may pause at once (below): one pause at a time.
    std::mutex pace_mu;
    SplitOptions split = options;
    if (options.pace) {
      split.pace = [&](std::chrono::steady_clock::duration took) {
        std::lock_guard<std::mutex> lock(pace_mu);
        options.pace(took);
      };
    }

    // The first key's extent within the predicate's key window, from the index's ends.
    Value lo, hi;
    {
      sql::Builder b(Dialect::kPostgres);
      b.sql("SELECT " + agg_expr(ti, "min") + ", " + agg_expr(ti, "max") + " FROM " +
            ti.ref.qualified);
      Predicate keys_only;
      keys_only.key_from = predicate.key_from;
      keys_only.key_below = predicate.key_below;
      sql::TableRef bare = ti.ref;
      bare.where.clear();
      sql::add_predicate(b, bare, keys_only);
      STRATA_ASSIGN_OR_RETURN(PgResult r, conn->query(b.text(), b.params(), op, true));
      STRATA_ASSIGN_OR_RETURN(lo, decode_cell(ti, r, 0, 0));
      STRATA_ASSIGN_OR_RETURN(hi, decode_cell(ti, r, 0, 1));
    }
    if (lo.is_null()) return std::vector<Shard>{};

    // Tighten to the selected rows when that is quick (old rows usually sit at one end).
    const bool filtered = predicate.time_before || predicate.time_from ||
                          !predicate.where.empty() || !ti.ref.where.empty();
    const bool integer_key = ti.integer_key();
    auto probe = [&](pg::Connection& c, const Value& from, const Value& to, bool desc) {
      return sql::probe_in_slices(
          from, to, integer_key, desc, kProbeSlices, split,
          [&](const Value& a, const Value& b) { return probe_end(c, ti, predicate, a, b, desc); });
    };
    if (filtered) {
      STRATA_ASSIGN_OR_RETURN(sql::ProbeResult first, probe(*conn, lo, hi, false));
      if (first && first->is_null()) return std::vector<Shard>{};  // nothing is selected
      if (first) lo = *first;
    }
    STRATA_ASSIGN_OR_RETURN(double estimate, estimate_rows(*conn, ti));
    const bool exact = estimate <= static_cast<double>(exact_rows_);

    // The selection's last key, probed down from the top: that walks through every newer row
    // when the old ones are selected. A sample reads pages from the whole table whatever the key
    // bounds, so with a second session at hand (split.parallel) the probe runs beside it, and the
    // cuts wait for both.
    std::optional<ConnectionPool::Lease> second;
    std::future<Result<sql::ProbeResult>> last;  // destroyed (waited for) before `second`
    if (filtered && !exact && split.parallel > 1) {
      STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease c, connect());
      second.emplace(std::move(c));
      last = std::async(std::launch::async,
                        [&, from = lo, to = hi] { return probe(**second, from, to, true); });
    } else if (filtered) {
      STRATA_ASSIGN_OR_RETURN(sql::ProbeResult r, probe(*conn, lo, hi, true));
      if (r && !r->is_null()) hi = *r;
    }
    auto last_key = [&]() -> Result<Value> {
      if (!last.valid()) return hi;
      STRATA_ASSIGN_OR_RETURN(sql::ProbeResult r, last.get());
      return r && !r->is_null() ? *r : hi;
    };

    std::vector<Shard> shards;
    const auto started = std::chrono::steady_clock::now();
    if (exact) {
      STRATA_TRY(plan_exact(*conn, ti, predicate, lo, hi, split.shard_rows, shards));
    } else {
      STRATA_TRY(plan_sampled(*conn, ti, predicate, lo, hi, last_key, split.shard_rows,
                              split.parallel, estimate, shards));
    }
    if (split.pace) split.pace(std::chrono::steady_clock::now() - started);
    return shards;
  }

  Result<std::unique_ptr<BatchReader>> read(const Predicate& predicate, const Shard& shard,
                                            size_t batch_rows) override {
    if (batch_rows == 0) return error("batch_rows must be at least 1");
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, connect());
    sql::Builder b(Dialect::kPostgres);
    sql::build_read(b, info->ref, info->select_list, predicate, shard, nullptr, 0);
    auto reader = std::make_unique<PostgresBatchReader>(info, where_, std::move(conn), batch_rows);
    // COPY takes no parameters: the statement runs with its values as literals (the same text
    // a dry run shows).
    STRATA_TRY(reader->start(b.shown()));
    return std::unique_ptr<BatchReader>(std::move(reader));
  }

  Result<uint64_t> delete_keys(const Predicate& predicate, const Shard& shard,
                               const Batch& keys) override {
    const size_t n = keys.num_rows();
    if (n == 0) return uint64_t{0};
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    if (keys.num_columns() != info->ref.key.size()) {
      return error("delete_keys got " + std::to_string(keys.num_columns()) +
                   " key columns, the key has " + std::to_string(info->ref.key.size()));
    }
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, connect());
    const char* op = "purging from";
    STRATA_TRY(conn->exec("BEGIN; SET LOCAL statement_timeout = '" +
                              pg::pg_interval_ms(options_.statement_timeout) + "'",
                          op));
    uint64_t deleted = 0;
    Status s;
    const size_t chunk = std::max<size_t>(1, kDeleteParams / keys.num_columns());
    if (sql::is_contiguous_run(keys, 0, n)) {
      s = delete_range(*conn, *info, predicate, shard, keys, 0, n, deleted);
    } else {
      for (size_t begin = 0; begin < n && s.is_ok(); begin += chunk) {
        s = delete_range(*conn, *info, predicate, shard, keys, begin, std::min(n, begin + chunk),
                         deleted);
      }
    }
    if (s.is_ok()) s = conn->exec("COMMIT", op);
    if (!s.is_ok()) {
      if (PQstatus(conn->get()) == CONNECTION_OK) (void)conn->exec("ROLLBACK", op);
      return s;
    }
    return deleted;
  }

  ShardStatements statements(const Predicate& predicate, const Shard& shard,
                             size_t batch_rows) override {
    (void)batch_rows;  // one COPY streams the whole shard
    Result<std::shared_ptr<const TableInfo>> info = table_info();
    if (!info.is_ok()) {
      std::string err = "-- " + info.status().message();
      return ShardStatements{err, err};
    }
    sql::Builder b(Dialect::kPostgres);
    sql::build_read(b, (*info)->ref, (*info)->select_list, predicate, shard, nullptr, 0);
    ShardStatements out;
    out.read = "COPY (" + b.shown() + ") TO STDOUT (FORMAT binary)";
    out.purge = sql::shown_delete(Dialect::kPostgres, (*info)->ref, predicate, shard);
    return out;
  }

  // Client backends of other applications (Strata's connections share one application_name)
  // running a statement or inside a transaction (a busy OLTP session spends much of its time
  // "idle in transaction" between its statements). Sessions of other roles count only with
  // pg_read_all_stats (without it PostgreSQL hides their state).
  Result<double> foreign_activity() override {
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, connect());
    STRATA_ASSIGN_OR_RETURN(
        PgResult r,
        conn->query("SELECT count(*)::float8 FROM pg_stat_activity WHERE (state = 'active' OR "
                    "state LIKE 'idle in transaction%') AND backend_type = 'client backend' AND "
                    "pid <> pg_backend_pid() AND "
                    "application_name <> current_setting('application_name')",
                    {}, "checking the load of"));
    Result<double> n = parse_double(r.text(0, 0));
    if (!n.is_ok()) return error("active session count '" + r.str(0, 0) + "' is not a number");
    return *n;
  }

  Result<Micros> replication_lag() override {
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, connect());
    STRATA_ASSIGN_OR_RETURN(
        PgResult r,
        conn->query("SELECT coalesce(max(extract(epoch FROM replay_lag)), 0)::float8 FROM "
                    "pg_stat_replication",
                    {}, "checking replication lag for"));
    Result<double> seconds = parse_double(r.text(0, 0));
    if (!seconds.is_ok()) return error("replication lag '" + r.str(0, 0) + "' is not a number");
    return Micros(static_cast<int64_t>(std::llround(*seconds * 1e6)));
  }

 private:
  Status error(const std::string& message) const {
    return Status::permanent(where_.store + ": " + message);
  }
  Status table_error(const std::string& message) const {
    return error("table '" + spec_.table + "' " + message);
  }

  Result<std::shared_ptr<ConnectionPool>> pool() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pool_) pool_ = std::make_shared<ConnectionPool>(options_, where_);
    return pool_;
  }

  Result<ConnectionPool::Lease> connect() {
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<ConnectionPool> p, pool());
    return p->acquire();
  }

  Result<std::shared_ptr<const TableInfo>> table_info() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (info_) return info_;
    }
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, load_table_info());
    std::lock_guard<std::mutex> lock(mu_);
    if (!info_) info_ = std::move(info);
    return info_;
  }

  // ---- describe ----

  Result<std::shared_ptr<const TableInfo>> load_table_info() {
    STRATA_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, connect());
    const char* op = "describing";
    auto info = std::make_shared<TableInfo>();

    // "schema.table" names that schema's table if it exists; otherwise the whole name is a table
    // on the search_path.
    std::vector<sql::Param> names(3);
    const std::string& t = spec_.table;
    if (size_t dot = t.find('.'); dot != std::string::npos) {
      names[0] = sql::Param{Value::of_text(t.substr(0, dot)), Type::kString};
      names[1] = sql::Param{Value::of_text(t.substr(dot + 1)), Type::kString};
    } else {
      names[0] = sql::Param{Value::null(), Type::kString};
      names[1] = sql::Param{Value::null(), Type::kString};
    }
    names[2] = sql::Param{Value::of_text(t), Type::kString};
    STRATA_ASSIGN_OR_RETURN(
        PgResult found,
        conn->query(
            "SELECT c.oid::int8, n.nspname, c.relname, c.relkind FROM pg_class c JOIN "
            "pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', "
            "'f') AND ((n.nspname = $1::name AND c.relname = $2::name) OR (c.relname = $3::name "
            "AND n.nspname = ANY (current_schemas(false)))) ORDER BY CASE WHEN n.nspname = "
            "$1::name AND c.relname = $2::name THEN 0 ELSE 1 + array_position(current_schemas("
            "false), n.nspname) END LIMIT 1",
            names, op));
    if (found.rows() == 0) return missing_table(*conn, names);
    const std::string relkind = found.str(0, 3);
    if (relkind != "r" && relkind != "p") {
      const char* what = relkind == "v"   ? "a view"
                         : relkind == "m" ? "a materialized view"
                                          : "a foreign table";
      return table_error("is " + std::string(what) +
                         "; archive from a table (rows are deleted after archiving)");
    }
    info->oid = std::stoll(found.str(0, 0));
    info->partitioned = relkind == "p";
    info->schema_name = found.str(0, 1);
    info->table_name = found.str(0, 2);
    info->ref.qualified = quote(info->schema_name) + "." + quote(info->table_name);
    info->ref.where = spec_.where;

    // Columns, domains resolved to their base types.
    std::vector<sql::Param> oid{sql::Param{Value::of_int(info->oid), Type::kInt64}};
    STRATA_ASSIGN_OR_RETURN(
        PgResult cols,
        conn->query(
            "SELECT a.attname, a.attnotnull, format_type(a.atttypid, a.atttypmod), "
            "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, bt.typname, "
            "bt.typtype, bt.typcategory = 'A' AND bt.typelem <> 0, et.typname, et.typtype "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE "
            "t.oid END LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A' "
            "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY "
            "a.attnum",
            oid, op));
    std::vector<std::string> all_names;
    for (int r = 0; r < cols.rows(); ++r) all_names.push_back(cols.str(r, 0));
    STRATA_TRY(check_named_columns(all_names));

    std::vector<Column> columns;
    for (int r = 0; r < cols.rows(); ++r) {
      const std::string name = cols.str(r, 0);
      if (std::find(spec_.exclude_columns.begin(), spec_.exclude_columns.end(), name) !=
          spec_.exclude_columns.end()) {
        continue;
      }
      pg::CatalogType ct;
      ct.name = cols.str(r, 4);
      ct.typtype = cols.text(r, 5).empty() ? 'b' : cols.text(r, 5)[0];
      ct.is_array = cols.text(r, 6) == "t";
      ct.element = cols.is_null(r, 7) ? "" : cols.str(r, 7);
      ct.element_typtype = cols.is_null(r, 8) || cols.text(r, 8).empty() ? 'b' : cols.text(r, 8)[0];
      ct.typmod = std::stoi(cols.str(r, 3));
      const std::string formatted = cols.str(r, 2);
      pg::ColumnMapping m = pg::map_type(ct);
      if (!m.supported) {
        return table_error("column '" + name + "' has type '" + formatted +
                           "', which Strata cannot archive: add it to the source's exclude list "
                           "(exclude: " +
                           name + ") to leave it out of the archive");
      }
      Column c;
      c.name = name;
      c.type = m.type;
      c.nullable = cols.text(r, 1) != "t";
      c.precision = m.precision;
      c.scale = m.scale;
      c.source_type = formatted;
      info->decodes.push_back(m.decode);
      std::string q = quote(name);
      info->exprs.push_back(m.cast == "text"   ? q + "::text"
                            : m.cast == "json" ? "to_json(" + q + ")"
                                               : q);
      columns.push_back(std::move(c));
    }
    auto find = [&](const std::string& name) {
      for (size_t i = 0; i < columns.size(); ++i) {
        if (columns[i].name == name) return static_cast<int>(i);
      }
      return -1;
    };

    // The key: the primary key's or a unique index's columns, in index order.
    for (const std::string& key : spec_.key_columns) {
      int i = find(key);
      if (i < 0)
        return error("key column '" + key + "' is excluded in table '" + spec_.table + "'");
      const Column& c = columns[static_cast<size_t>(i)];
      if (c.type == Type::kJson) {
        return table_error("key column '" + key + "' is " + c.source_type +
                           ", which cannot be compared by range; choose another key");
      }
      info->key_index.push_back(i);
      info->ref.key.push_back(quote(c.name));
      info->ref.key_types.push_back(c.type);
    }
    STRATA_TRY(check_unique(*conn, info->oid));

    // The time column: a date or a timestamp.
    if (!spec_.time_column.empty()) {
      info->time_index = find(spec_.time_column);
      if (info->time_index < 0) {
        return error("time column '" + spec_.time_column + "' is excluded in table '" +
                     spec_.table + "'");
      }
      const Column& c = columns[static_cast<size_t>(info->time_index)];
      if (c.type != Type::kTimestamp && c.type != Type::kDate) {
        return table_error("time column '" + c.name + "' is " + c.source_type +
                           "; it must be a date, timestamp or timestamptz column");
      }
      info->ref.time = quote(c.name);
    }

    for (size_t i = 0; i < columns.size(); ++i) {
      if (i > 0) info->select_list += ", ";
      info->select_list += info->exprs[i];
    }
    info->schema = std::make_shared<const Schema>(std::move(columns));
    return std::shared_ptr<const TableInfo>(std::move(info));
  }

  Status missing_table(pg::Connection& conn, const std::vector<sql::Param>& names) {
    // A table whose name differs only in case, else the tables that do exist.
    STRATA_ASSIGN_OR_RETURN(
        PgResult similar,
        conn.query("SELECT n.nspname, c.relname, n.nspname = ANY (current_schemas(false)) FROM "
                   "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN "
                   "('r', 'p') AND (lower(c.relname) = lower($3) OR (lower(n.nspname) = "
                   "lower($1) AND lower(c.relname) = lower($2))) ORDER BY 1, 2 LIMIT 1",
                   names, "describing"));
    if (similar.rows() > 0) {
      std::string guess = similar.text(0, 2) == "t" && spec_.table.find('.') == std::string::npos
                              ? similar.str(0, 1)
                              : similar.str(0, 0) + "." + similar.str(0, 1);
      return table_error("does not exist (did you mean '" + guess + "'? names are case-sensitive)");
    }
    std::vector<sql::Param> schema{names[0]};
    STRATA_ASSIGN_OR_RETURN(
        PgResult list,
        conn.query("SELECT CASE WHEN n.nspname = ANY (current_schemas(false)) THEN c.relname "
                   "ELSE n.nspname || '.' || c.relname END FROM pg_class c JOIN pg_namespace n "
                   "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT "
                   "c.relispartition AND (n.nspname = ANY (current_schemas(false)) OR n.nspname "
                   "= $1::name) ORDER BY 1",
                   schema, "describing"));
    std::vector<std::string> tables;
    for (int r = 0; r < list.rows(); ++r) tables.push_back(list.str(r, 0));
    return table_error("does not exist (tables: " + join_names(tables) +
                       "; schema-qualify a table outside the search_path)");
  }

  // Key, time and excluded columns exist (names are case-sensitive: a near miss gets a hint).
  Status check_named_columns(const std::vector<std::string>& names) {
    auto check = [&](const std::string& name, const std::string& role) -> Status {
      if (std::find(names.begin(), names.end(), name) != names.end()) return Status::ok();
      for (const std::string& n : names) {
        if (iequals(n, name)) {
          return error(role + " column '" + name + "' does not exist in table '" + spec_.table +
                       "' (did you mean '" + n + "'? names are case-sensitive)");
        }
      }
      return error(role + " column '" + name + "' does not exist in table '" + spec_.table +
                   "' (columns: " + join_names(names) + ")");
    };
    if (spec_.key_columns.empty())
      return error("no key column given for table '" + spec_.table + "'");
    for (const std::string& k : spec_.key_columns) STRATA_TRY(check(k, "key"));
    if (!spec_.time_column.empty()) STRATA_TRY(check(spec_.time_column, "time"));
    for (const std::string& x : spec_.exclude_columns) {
      STRATA_TRY(check(x, "excluded"));
      if (x == spec_.time_column || std::find(spec_.key_columns.begin(), spec_.key_columns.end(),
                                              x) != spec_.key_columns.end()) {
        return table_error("column '" + x + "' is a key or time column and cannot be excluded");
      }
    }
    return Status::ok();
  }

  // The key columns are exactly the primary key's or a valid, non-partial unique index's, in
  // index order.
  Status check_unique(pg::Connection& conn, int64_t oid) {
    std::vector<sql::Param> params{sql::Param{Value::of_int(oid), Type::kInt64}};
    STRATA_ASSIGN_OR_RETURN(
        PgResult r,
        conn.query("SELECT ic.relname, i.indisprimary, a.attname FROM pg_index i JOIN pg_class "
                   "ic ON ic.oid = i.indexrelid CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH "
                   "ORDINALITY AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid "
                   "AND a.attnum = k.attnum WHERE i.indrelid = $1::oid AND i.indisunique AND "
                   "i.indisvalid AND i.indpred IS NULL AND k.ord <= i.indnkeyatts ORDER BY "
                   "i.indisprimary DESC, ic.relname, k.ord",
                   params, "describing the indexes of"));
    // Expression indexes have attnum 0 and so drop out of the join; catch them by count.
    struct Index {
      std::string name;
      bool primary = false;
      std::vector<std::string> columns;
    };
    std::vector<Index> indexes;
    for (int i = 0; i < r.rows(); ++i) {
      if (indexes.empty() || indexes.back().name != r.str(i, 0)) {
        indexes.push_back(Index{r.str(i, 0), r.text(i, 1) == "t", {}});
      }
      indexes.back().columns.push_back(r.str(i, 2));
    }
    std::vector<std::string> described;
    for (const Index& ix : indexes) {
      if (ix.columns == spec_.key_columns) return Status::ok();
      std::string cols = "(";
      for (size_t i = 0; i < ix.columns.size(); ++i) cols += (i ? ", " : "") + ix.columns[i];
      cols += ")";
      described.push_back(cols +
                          (ix.primary ? " [primary key]" : " [unique index " + ix.name + "]"));
    }
    std::string key = "(";
    for (size_t i = 0; i < spec_.key_columns.size(); ++i) {
      key += (i ? ", " : "") + spec_.key_columns[i];
    }
    key += ")";
    for (size_t i = 0; i < indexes.size(); ++i) {
      std::vector<std::string> a = indexes[i].columns, b = spec_.key_columns;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      if (a == b) {
        return table_error("key " + key + " lists the columns of " + described[i] +
                           " in another order: list them in the index's order");
      }
    }
    return table_error(
        "key " + key + " is not the primary key or a unique index's columns (unique keys: " +
        join_names(described) + "): choose one of them, or add a primary key or unique index");
  }

  // ---- plan ----

  // min(k)/max(k) in the form reads produce (casts applied after the aggregate).
  static std::string agg_expr(const TableInfo& ti, const char* fn) {
    const std::string& k = ti.ref.key[0];
    const std::string& e = ti.first_key_expr();
    std::string call = std::string(fn) + "(" + k + ")";
    if (e == k) return call;
    return e.substr(0, e.find(k)) + call + e.substr(e.find(k) + k.size());
  }

  Result<Value> decode_cell(const TableInfo& ti, const PgResult& r, int row, int col) const {
    if (r.is_null(row, col)) return Value::null();
    ColumnVector v(ti.first_key_type());
    std::string scratch;
    std::string_view cell = r.text(row, col);
    std::string err = pg::decode_value(ti.first_key_decode(), cell.data(), cell.size(), v, scratch);
    if (!err.empty()) return table_error("key column holds " + err + "; choose another key");
    return v.value_at(0);
  }

  // The first (or, desc, last) selected key in [lo, hi], if the server finds it within
  // kProbeTimeout.
  Result<sql::ProbeResult> probe_end(pg::Connection& conn, const TableInfo& ti, const Predicate& p,
                                     const Value& lo, const Value& hi, bool desc) {
    sql::Builder b(Dialect::kPostgres);
    b.sql("SELECT " + ti.first_key_expr() + " FROM " + ti.ref.qualified);
    Shard range{0, KeyRange{lo, hi}, 0};
    sql::add_shard_bounds(b, ti.ref, range);
    sql::add_predicate(b, ti.ref, p);
    b.sql(" ORDER BY " + ti.ref.key[0] + (desc ? " DESC" : " ASC") + " LIMIT 1");
    const char* op = "planning shards of";
    STRATA_TRY(
        conn.exec(std::string("BEGIN; SET LOCAL statement_timeout = '") + kProbeTimeout + "'", op));
    Result<PgResult> r = conn.query(b.text(), b.params(), op, true);
    if (!r.is_ok()) {
      bool timed_out = r.status().message().find("SQLSTATE 57014") != std::string::npos;
      if (PQstatus(conn.get()) == CONNECTION_OK) (void)conn.exec("ROLLBACK", op);
      if (timed_out) return sql::ProbeResult();
      return r.status();
    }
    STRATA_TRY(conn.exec("COMMIT", op));
    if (r->rows() == 0) return sql::ProbeResult(Value::null());
    STRATA_ASSIGN_OR_RETURN(Value v, decode_cell(ti, *r, 0, 0));
    return sql::ProbeResult(std::move(v));
  }

  // Rows in the table now: pg_class's density scaled to the current size (as the planner does),
  // so stale statistics on a grown table still estimate it well.
  Result<double> estimate_rows(pg::Connection& conn, const TableInfo& ti) {
    std::vector<sql::Param> params{sql::Param{Value::of_int(ti.oid), Type::kInt64}};
    STRATA_ASSIGN_OR_RETURN(
        PgResult r,
        conn.query("SELECT coalesce(sum(c.reltuples) FILTER (WHERE c.reltuples >= 0), -1)::float8, "
                   "coalesce(sum(c.relpages) FILTER (WHERE c.reltuples >= 0), 0)::float8, "
                   "coalesce(sum(pg_relation_size(c.oid)), 0)::float8 / "
                   "current_setting('block_size')::float8 FROM pg_class c WHERE c.oid IN (SELECT "
                   "relid FROM pg_partition_tree($1::oid::regclass) WHERE isleaf) OR (c.oid = "
                   "$1::oid AND c.relkind <> 'p')",
                   params, "estimating the size of"));
    double tuples = std::stod(r.str(0, 0));
    double pages = std::stod(r.str(0, 1));
    double current = std::stod(r.str(0, 2));
    double density = tuples > 0 && pages > 0 ? tuples / pages : 100.0;
    return density * current;
  }

  // Exact: walk the selected first-key values in order, cutting every shard_rows rows (only
  // where the value changes, so a composite key's leading value stays in one shard).
  Status plan_exact(pg::Connection& conn, const TableInfo& ti, const Predicate& p, const Value& lo,
                    const Value& hi, int64_t shard_rows, std::vector<Shard>& shards) {
    sql::Builder b(Dialect::kPostgres);
    b.sql("SELECT " + ti.first_key_expr() + " FROM " + ti.ref.qualified);
    sql::add_shard_bounds(b, ti.ref, Shard{0, KeyRange{lo, hi}, 0});
    sql::add_predicate(b, ti.ref, p);
    b.sql(" ORDER BY " + ti.ref.key[0]);
    CopyStream stream;
    STRATA_TRY(stream.start(conn, b.shown(), "planning shards of"));
    std::string prev, scratch;
    bool have_prev = false;
    int64_t count = 0;
    Value shard_lo;
    auto decode = [&](const std::string& raw) -> Result<Value> {
      ColumnVector v(ti.first_key_type());
      std::string err = pg::decode_value(ti.first_key_decode(), raw.data(), raw.size(), v, scratch);
      if (!err.empty()) return table_error("key column holds " + err);
      return v.value_at(0);
    };
    Tuple t;
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(bool more, stream.next(t));
      if (!more) break;
      FieldCursor cur(t);
      const char* data;
      size_t len;
      if (t.fields != 1 || !cur.next(data, len) || data == nullptr) continue;  // NULL keys
      std::string_view key(data, len);
      if (!have_prev) {
        STRATA_ASSIGN_OR_RETURN(shard_lo, decode(std::string(key)));
      } else if (count >= shard_rows && key != std::string_view(prev)) {
        STRATA_ASSIGN_OR_RETURN(Value shard_hi, decode(prev));
        shards.push_back(
            Shard{static_cast<int>(shards.size()), KeyRange{shard_lo, shard_hi}, count});
        STRATA_ASSIGN_OR_RETURN(shard_lo, decode(std::string(key)));
        count = 0;
      }
      prev.assign(key.data(), key.size());
      have_prev = true;
      ++count;
    }
    if (have_prev) {
      STRATA_ASSIGN_OR_RETURN(Value shard_hi, decode(prev));
      // The last shard ends at the extent's max: a key the walk missed (inserted meanwhile) is
      // still covered.
      if (hi.compare(shard_hi) > 0) shard_hi = hi;
      shards.push_back(Shard{static_cast<int>(shards.size()), KeyRange{shard_lo, shard_hi}, count});
    }
    return Status::ok();
  }

  // One page of a TABLESAMPLE SYSTEM sample: its block, how many of its rows are selected, the
  // smallest selected key, and whether all its selected keys lie below the next such page's
  // (-1: no next page, or no selected row).
  struct SampledPage {
    int64_t block = 0;
    int64_t selected = 0;
    Value first;
    int ordered = -1;
  };

  // `blocks`: the table's size in pages now.
  Status sample_pages(pg::Connection& conn, const TableInfo& ti, const Predicate& p,
                      const Value& lo, const Value& hi, const std::string& pct_text,
                      std::vector<SampledPage>& pages, int64_t& blocks) {
    sql::Builder b(Dialect::kPostgres);
    const std::string& key = ti.ref.key[0];
    b.sql("SELECT _strata_blk, _strata_n, _strata_ordered, " + ti.first_key_expr() +
          ", pg_relation_size(" + std::to_string(ti.oid) +
          "::oid) / current_setting('block_size')::int8 FROM (SELECT _strata_blk, _strata_n, " +
          key + ", _strata_kmax < lead(" + key +
          ") OVER (PARTITION BY _strata_n > 0 ORDER BY _strata_blk) AS _strata_ordered"
          " FROM (SELECT _strata_blk, count(*) FILTER (WHERE _strata_sel) AS _strata_n,"
          " min(_strata_k) FILTER (WHERE _strata_sel) AS " +
          key +
          ", max(_strata_k) FILTER (WHERE _strata_sel) AS _strata_kmax"
          " FROM (SELECT (ctid::text::point)[0]::int8 AS _strata_blk, " +
          key + " AS _strata_k, (TRUE");
    b.continue_conditions();
    sql::add_shard_bounds(b, ti.ref, Shard{0, KeyRange{lo, hi}, 0});
    sql::add_predicate(b, ti.ref, p);
    b.end_conditions();
    b.sql(") AS _strata_sel FROM " + ti.ref.qualified + " TABLESAMPLE SYSTEM (" + pct_text +
          ") REPEATABLE (20261126)) s GROUP BY _strata_blk) g) h ORDER BY _strata_blk");
    STRATA_ASSIGN_OR_RETURN(PgResult r,
                            conn.query(b.text(), b.params(), "planning shards of", true));
    pages.clear();
    pages.reserve(static_cast<size_t>(r.rows()));
    blocks = 0;
    for (int i = 0; i < r.rows(); ++i) {
      SampledPage page;
      page.block = be_int(r.text(i, 0));
      page.selected = be_int(r.text(i, 1));
      blocks = be_int(r.text(i, 4));
      if (!r.is_null(i, 2)) page.ordered = r.text(i, 2) == std::string_view("\1", 1) ? 1 : 0;
      if (page.selected > 0) {
        STRATA_ASSIGN_OR_RETURN(page.first, decode_cell(ti, r, i, 3));
      }
      pages.push_back(std::move(page));
    }
    return Status::ok();
  }

  // Whether the sampled pages hold the key in the table's physical order (an append-only table
  // keyed by a sequence or a time): every page's selected keys below the next page's, but for a
  // few rows moved by updates. Then a key range's rows are the pages it spans.
  static bool follows_page_order(const std::vector<SampledPage>& pages) {
    size_t with_rows = 0, out_of_order = 0;
    for (const SampledPage& page : pages) {
      if (page.selected == 0) continue;
      ++with_rows;
      out_of_order += page.ordered == 0;
    }
    return with_rows >= 8 && out_of_order * 50 <= with_rows;
  }

  // Sampled: TABLESAMPLE SYSTEM pages (about 1,000 sampled rows per shard, at least 50,000),
  // grouped by page on the server. A sample far smaller than the statistics promised is retried
  // larger; one that shows a small selection falls back to the exact walk.
  //
  // The sample takes whole pages, each page at random, so the number of sampled pages that fall
  // in a key range varies by about 1/sqrt(n) for n expected: with ~15 pages per shard, quantiles
  // of the sampled keys cut shards a third too big or too small. When the key follows the pages'
  // order, shards are cut by blocks instead: the selected rows between two sampled pages are
  // interpolated from both (a smooth density, as in an append-only table), and cuts fall at the
  // sampled pages' first keys nearest even shares of the rows (cut_by_pages). Otherwise (random
  // keys: every page holds keys from everywhere, so the sample is as good as one of rows) the
  // keys' quantiles are picked on the server, aiming at 85% of shard_rows.
  //
  // The sample covers [lo, sample_hi]; the shards end at last_key(), the selection's last key,
  // which may still be being probed on another session meanwhile.
  Status plan_sampled(pg::Connection& conn, const TableInfo& ti, const Predicate& p,
                      const Value& lo, const Value& sample_hi,
                      const std::function<Result<Value>()>& last_key, int64_t shard_rows,
                      int parallel, double estimate, std::vector<Shard>& shards) {
    const double shards_wanted = std::max(1.0, estimate / static_cast<double>(shard_rows));
    const double target = std::clamp(shards_wanted * 1000.0, 50000.0, 4000000.0);
    double pct = std::clamp(100.0 * target / std::max(estimate, 1.0), 0.0001, 100.0);
    std::vector<SampledPage> pages;
    int64_t blocks = 0;
    int64_t total = 0;  // selected rows in the sample
    double rows_per_sample = 1;
    char pct_text[32];
    for (;;) {
      rows_per_sample = 100.0 / pct;
      std::snprintf(pct_text, sizeof pct_text, "%.6f", pct);
      STRATA_TRY(sample_pages(conn, ti, p, lo, sample_hi, pct_text, pages, blocks));
      total = 0;
      for (const SampledPage& page : pages) total += page.selected;
      // Statistics far off (a small table claiming a billion rows) leave the sample nearly
      // empty: sample more, up to the whole table.
      if (pct >= 100.0 || static_cast<double>(total) >= target / 4) break;
      pct = std::min(
          100.0, pct * (total > 0 ? std::max(4.0, target / static_cast<double>(total)) : 100.0));
    }
    STRATA_ASSIGN_OR_RETURN(const Value hi, last_key());
    // The sample says the selection is small after all: walk it exactly.
    if (static_cast<double>(total) * rows_per_sample <= static_cast<double>(exact_rows_)) {
      return plan_exact(conn, ti, p, lo, hi, shard_rows, shards);
    }
    // A partitioned table's pages are its leaves', numbered from 0 in each, and its own size is
    // 0: no single order, no tail to estimate. (Interleaved leaves also fail the order check.)
    // Keys that do not follow the pages are sampled a second time for their quantiles, at the
    // same percentage: the same pages, by now in shared buffers.
    if (!ti.partitioned && follows_page_order(pages)) {
      return cut_by_pages(conn, ti, lo, hi, shard_rows, parallel, pages, blocks, shards);
    }
    return cut_by_quantiles(conn, ti, p, lo, hi, shard_rows, pct_text, rows_per_sample, shards);
  }

  // Cuts at sampled pages' first keys, by the selected rows interpolated between sampled pages.
  Status cut_by_pages(pg::Connection& conn, const TableInfo& ti, const Value& lo, const Value& hi,
                      int64_t shard_rows, int parallel, const std::vector<SampledPage>& pages,
                      int64_t blocks, std::vector<Shard>& shards) {
    // at[i]: the selected rows estimated before page i (the pages before the first sampled one
    // as dense as it); at[n]: all of them, the pages after the last sampled one as dense as it.
    std::vector<double> at(pages.size() + 1, 0.0);
    for (size_t i = 0; i < pages.size(); ++i) {
      const double here = static_cast<double>(pages[i].selected);
      if (i == 0) at[0] = here * static_cast<double>(pages[0].block);
      if (i + 1 < pages.size()) {
        const double next = static_cast<double>(pages[i + 1].selected);
        const double between = static_cast<double>(pages[i + 1].block - pages[i].block - 1);
        at[i + 1] = at[i] + here + between * (here + next) / 2;
      } else {
        const double after = static_cast<double>(std::max<int64_t>(0, blocks - 1 - pages[i].block));
        at[i + 1] = at[i] + here + after * here;
      }
    }
    const double limit = static_cast<double>(shard_rows);
    // Shard k ends near (k + 1) / n of the rows, n a multiple of `parallel`: the workers finish
    // together, none left archiving a last, short shard alone.
    const int64_t n = balanced_shards(at.back(), shard_rows, parallel);
    const double per = at.back() / static_cast<double>(n);
    const size_t first = shards.size();
    Value shard_lo = lo;
    double shard_from = 0;  // estimated rows before the current shard
    size_t candidate = 0;   // the last page that may start the next shard; 0: none yet
    auto cut_at = [&](size_t i) -> Result<bool> {
      const auto rows = std::llround(at[i] - shard_from);
      STRATA_ASSIGN_OR_RETURN(
          bool cut, end_shard_before(conn, ti, pages[i].first, hi, rows, shard_lo, shards));
      if (cut) shard_from = at[i];
      return cut;
    };
    for (size_t i = 1; i < pages.size(); ++i) {
      if (pages[i].selected == 0) continue;
      // Page i passes the current shard's goal (or would make it too big): end the shard before
      // it or before the last page that did not, whichever is nearer the goal and within
      // shard_rows; again while the pages lie further apart than shards.
      for (;;) {
        const auto made = static_cast<int64_t>(shards.size() - first);
        const double goal = per * static_cast<double>(made + 1);
        const bool too_big = at[i] - shard_from > limit;
        if (!too_big && (made + 1 >= n || at[i] <= goal)) break;
        const bool has_candidate = candidate > 0 && at[candidate] > shard_from;
        if (has_candidate && (too_big || goal - at[candidate] < at[i] - goal)) {
          STRATA_ASSIGN_OR_RETURN(bool cut, cut_at(candidate));
          candidate = 0;
          if (!cut) break;
          continue;
        }
        STRATA_ASSIGN_OR_RETURN(bool cut, cut_at(i));
        (void)cut;  // cut before page i (or not possible there): nothing more to do at it
        break;
      }
      if (at[i] > shard_from) candidate = i;
    }
    // The rows after the last sampled page go to the last shard: end the one before earlier
    // if they would not fit.
    if (at.back() - shard_from > limit && candidate > 0 && at[candidate] > shard_from) {
      STRATA_TRY(cut_at(candidate).status());
    }
    const auto rest = std::max<int64_t>(1, std::llround(at.back() - shard_from));
    shards.push_back(Shard{static_cast<int>(shards.size()), KeyRange{shard_lo, hi}, rest});
    return Status::ok();
  }

  // Cuts at every step-th sampled key, picked on the server, aiming at 85% of shard_rows: a
  // sample's quantiles err by several percent either way.
  Status cut_by_quantiles(pg::Connection& conn, const TableInfo& ti, const Predicate& p,
                          const Value& lo, const Value& hi, int64_t shard_rows,
                          const char* pct_text, double rows_per_sample,
                          std::vector<Shard>& shards) {
    const int64_t step = std::max<int64_t>(
        1, std::llround(0.85 * static_cast<double>(shard_rows) / rows_per_sample));
    sql::Builder b(Dialect::kPostgres);
    b.sql("SELECT " + ti.first_key_expr() + ", rn, total FROM (SELECT " + ti.ref.key[0] +
          ", row_number() OVER (ORDER BY " + ti.ref.key[0] +
          ") AS rn, count(*) OVER () AS total FROM " + ti.ref.qualified + " TABLESAMPLE SYSTEM (" +
          pct_text + ") REPEATABLE (20261126)");
    sql::add_shard_bounds(b, ti.ref, Shard{0, KeyRange{lo, hi}, 0});
    sql::add_predicate(b, ti.ref, p);
    // The last sampled row too: it carries the total even when no row falls on a step.
    b.sql(") s WHERE rn % " + std::to_string(step) + " = 0 OR rn = total ORDER BY rn");
    STRATA_ASSIGN_OR_RETURN(PgResult r,
                            conn.query(b.text(), b.params(), "planning shards of", true));
    const int64_t total = r.rows() > 0 ? be_int(r.text(r.rows() - 1, 2)) : 0;

    const int64_t per_shard = static_cast<int64_t>(static_cast<double>(step) * rows_per_sample);
    Value shard_lo = lo;
    for (int i = 0; i < r.rows(); ++i) {
      if (be_int(r.text(i, 1)) % step != 0) continue;  // the last row, there for its total
      STRATA_ASSIGN_OR_RETURN(Value cut, decode_cell(ti, r, i, 0));
      if (cut.is_null()) continue;
      STRATA_TRY(end_shard_before(conn, ti, cut, hi, per_shard, shard_lo, shards).status());
    }
    int64_t rest = static_cast<int64_t>(
        std::max(0.0, static_cast<double>(total) * rows_per_sample -
                          static_cast<double>(per_shard) * static_cast<double>(shards.size())));
    shards.push_back(
        Shard{static_cast<int>(shards.size()), KeyRange{shard_lo, hi}, std::max<int64_t>(rest, 1)});
    return Status::ok();
  }

  // Ends the current shard, [shard_lo, ...], just below `cut`, where the next shard starts, with
  // `rows` estimated. false (nothing changes) when `cut` is not in (shard_lo, hi], or when no
  // key lies between shard_lo and it.
  Result<bool> end_shard_before(pg::Connection& conn, const TableInfo& ti, const Value& cut,
                                const Value& hi, int64_t rows, Value& shard_lo,
                                std::vector<Shard>& shards) {
    if (cut.compare(shard_lo) <= 0 || cut.compare(hi) > 0) return false;
    Value shard_hi;
    if (ti.integer_key()) {
      shard_hi = Value::of_int(cut.as_int() - 1);
    } else {
      STRATA_ASSIGN_OR_RETURN(shard_hi, key_before(conn, ti, cut));
      if (shard_hi.is_null() || shard_hi.compare(shard_lo) < 0) return false;
    }
    shards.push_back(Shard{static_cast<int>(shards.size()), KeyRange{shard_lo, shard_hi},
                           std::max<int64_t>(rows, 1)});
    shard_lo = cut;
    return true;
  }

  // The largest key below `cut` (an index probe).
  Result<Value> key_before(pg::Connection& conn, const TableInfo& ti, const Value& cut) {
    sql::Builder b(Dialect::kPostgres);
    b.sql("SELECT " + ti.first_key_expr() + " FROM " + ti.ref.qualified + " WHERE " +
          ti.ref.key[0] + " < ")
        .param(cut, ti.first_key_type())
        .sql(" ORDER BY " + ti.ref.key[0] + " DESC LIMIT 1");
    STRATA_ASSIGN_OR_RETURN(PgResult r,
                            conn.query(b.text(), b.params(), "planning shards of", true));
    if (r.rows() == 0) return Value::null();
    return decode_cell(ti, r, 0, 0);
  }

  // ---- delete ----

  Status delete_range(pg::Connection& conn, const TableInfo& ti, const Predicate& p,
                      const Shard& shard, const Batch& keys, size_t begin, size_t end,
                      uint64_t& deleted) {
    sql::Builder b(Dialect::kPostgres);
    sql::build_delete(b, ti.ref, p, shard, keys, begin, end);
    STRATA_ASSIGN_OR_RETURN(PgResult r, conn.query(b.text(), b.params(), "purging from"));
    const char* n = PQcmdTuples(r.get());
    deleted += n != nullptr && *n != '\0' ? std::stoull(n) : 0;
    return Status::ok();
  }

  const SourceSpec spec_;
  const ErrorContext where_;
  const pg::ConnectOptions options_;
  const int64_t exact_rows_;
  std::mutex mu_;
  std::shared_ptr<ConnectionPool> pool_;
  std::shared_ptr<const TableInfo> info_;
};

}  // namespace

namespace pg {

Result<std::unique_ptr<Source>> open_source_at(const Uri& uri, const SourceSpec& spec) {
  STRATA_TRY(check_uri(uri, {"plan_exact_rows", "table"}));
  const std::string store = "postgres " + uri.redacted();
  if (spec.table.empty()) {
    return Status::permanent(store + ": no table given (set the source's table)");
  }
  if (spec.key_columns.empty() || spec.key_columns[0].empty()) {
    return Status::permanent(store + ": no key column given for table '" + spec.table +
                             "' (set the source's key)");
  }
  STRATA_ASSIGN_OR_RETURN(ConnectOptions options, connect_options(uri));
  int64_t exact_rows = kDefaultExactRows;
  if (auto it = uri.query.find("plan_exact_rows"); it != uri.query.end()) {
    Result<int64_t> n = parse_int(it->second);
    if (!n.is_ok() || *n < 0) {
      return Status::permanent(store + ": plan_exact_rows must be a row count, got '" + it->second +
                               "'");
    }
    exact_rows = *n;
  }
  // The table target's own option is not a connection option.
  options.uri.query.erase("table");
  return std::unique_ptr<Source>(std::make_unique<PostgresSource>(spec, options, exact_rows));
}

}  // namespace pg

Result<std::unique_ptr<Source>> open_postgres_source(const SourceSpec& spec) {
  // Parsed unexpanded: ${ENV} references stay unexpanded in every message.
  STRATA_ASSIGN_OR_RETURN(Uri uri, parse_uri(spec.uri));
  if (uri.query.count("table") > 0) {
    return Status::permanent("postgres " + uri.redacted() +
                             ": a source names its table in the policy (source.table), not with "
                             "?table= in the URI");
  }
  return pg::open_source_at(uri, spec);
}

}  // namespace strata

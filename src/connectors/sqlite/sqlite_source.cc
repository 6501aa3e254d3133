// The SQLite source: describe, plan, keyset reads and transactional purges.
#include "connectors/sqlite/sqlite_source.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <optional>

#include "connectors/sqlite/sqlite_handle.h"
#include "connectors/sqlite/sqlite_types.h"
#include "core/env.h"
#include "core/fs.h"
#include "core/uri.h"

namespace strata {

namespace {

using sqlite::ConnectionPool;
using sqlite::ErrorContext;
using sqlite::PooledConnection;
using sqlite::quote_identifier;
using sqlite::sql_literal;
using sqlite::Statement;
using sqlite::TimeEncoding;

constexpr size_t kDeleteChunk = 500;  // keys per DELETE statement (bound parameters)
constexpr size_t kMaxListedNames = 30;

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

// How one column's values are converted into its ColumnVector.
enum class ReadKind { kInt, kDouble, kBool, kText, kBytes, kTimestamp, kDate, kDecimal };

ReadKind read_kind(Type type) {
  switch (type) {
    case Type::kInt64:
      return ReadKind::kInt;
    case Type::kDouble:
      return ReadKind::kDouble;
    case Type::kBool:
      return ReadKind::kBool;
    case Type::kString:
    case Type::kJson:
      return ReadKind::kText;
    case Type::kBytes:
      return ReadKind::kBytes;
    case Type::kTimestamp:
      return ReadKind::kTimestamp;
    case Type::kDate:
      return ReadKind::kDate;
    case Type::kDecimal:
      return ReadKind::kDecimal;
  }
  return ReadKind::kText;
}

// What describe() found, shared read-only by every call afterwards.
struct TableInfo {
  std::string qualified;  // quoted, schema-qualified when a schema was named
  std::string schema_name;
  std::string table_name;
  std::shared_ptr<const Schema> schema;
  std::string select_list;  // quoted columns in schema order
  int key_index = -1;
  std::string key;  // quoted
  bool key_is_blob = false;
  int time_index = -1;
  std::string time;  // quoted
  TimeEncoding time_encoding;
};

struct BoundParam {
  Value value;
  bool blob = false;
};

// Builds a statement's SQL and, alongside, the same text with parameters shown as literals.
class SqlBuilder {
 public:
  SqlBuilder& sql(std::string_view s) {
    sql_ += s;
    shown_ += s;
    return *this;
  }
  SqlBuilder& param(Value v, bool blob = false) {
    sql_ += '?';
    shown_ += sql_literal(v, blob);
    params_.push_back(BoundParam{std::move(v), blob});
    return *this;
  }
  // " WHERE " before the first condition, " AND " before the others.
  SqlBuilder& cond() { return sql(has_cond_ ? " AND " : (has_cond_ = true, " WHERE ")); }
  // Shows `shown` in the dry-run text where the SQL has `sql`.
  SqlBuilder& placeholder(std::string_view sql, std::string_view shown) {
    sql_ += sql;
    shown_ += shown;
    return *this;
  }

  const std::string& text() const { return sql_; }
  const std::string& shown() const { return shown_; }
  const std::vector<BoundParam>& params() const { return params_; }

 private:
  std::string sql_;
  std::string shown_;
  std::vector<BoundParam> params_;
  bool has_cond_ = false;
};

class SqliteSource;

class SqliteBatchReader final : public BatchReader {
 public:
  SqliteBatchReader(std::shared_ptr<const TableInfo> info, ErrorContext where,
                    PooledConnection conn, Statement first, Statement next, size_t params,
                    size_t batch_rows)
      : info_(std::move(info)),
        where_(std::move(where)),
        conn_(std::move(conn)),
        first_(std::move(first)),
        next_(std::move(next)),
        static_params_(params),
        batch_rows_(batch_rows) {
    kinds_.reserve(info_->schema->size());
    for (const Column& c : info_->schema->columns()) kinds_.push_back(read_kind(c.type));
  }

  void bind_static(const std::vector<BoundParam>& params) { params_ = params; }

  Result<bool> next(Batch& batch) override {
    batch.clear();
    if (done_) return false;
    Statement& stmt = started_ ? next_ : first_;
    for (size_t i = 0; i < params_.size(); ++i) {
      STRATA_TRY(stmt.bind(static_cast<int>(i + 1), params_[i].value, params_[i].blob));
    }
    if (started_) {
      STRATA_TRY(stmt.bind(static_cast<int>(static_params_ + 1), last_key_, info_->key_is_blob));
    }
    started_ = true;
    size_t rows = 0;
    for (;;) {
      Result<bool> row = stmt.step(where_, "reading");
      if (!row.is_ok()) {
        stmt.reset();
        return row.status();
      }
      if (!*row) break;
      Status s = append_row(stmt.get(), batch);
      if (!s.is_ok()) {
        stmt.reset();
        return s;
      }
      ++rows;
    }
    stmt.reset();  // ends the statement's read transaction
    if (rows < batch_rows_) done_ = true;
    if (rows == 0) return false;
    last_key_ = batch.column(static_cast<size_t>(info_->key_index)).value_at(rows - 1);
    return true;
  }

 private:
  Status bad_value(sqlite3_stmt* st, int col, const char* what) const {
    const Column& c = (*info_->schema)[static_cast<size_t>(col)];
    Value key = column_as_value(st, info_->key_index);
    const char* text = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
    return Status::permanent("sqlite " + where_.db + ": table '" + where_.table + "' column '" +
                             c.name + "' at key " + key.to_string() + ": cannot read '" +
                             (text != nullptr ? text : "") + "' as " + what + " (declared type '" +
                             c.source_type + "')");
  }

  static Value column_as_value(sqlite3_stmt* st, int col) {
    switch (sqlite3_column_type(st, col)) {
      case SQLITE_INTEGER:
        return Value::of_int(sqlite3_column_int64(st, col));
      case SQLITE_FLOAT:
        return Value::of_double(sqlite3_column_double(st, col));
      case SQLITE_NULL:
        return Value::null();
      default: {
        const char* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
        return Value::of_text(std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))));
      }
    }
  }

  static std::string_view column_text(sqlite3_stmt* st, int col) {
    const char* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
    size_t n = static_cast<size_t>(sqlite3_column_bytes(st, col));
    return p == nullptr ? std::string_view() : std::string_view(p, n);
  }

  Status append_row(sqlite3_stmt* st, Batch& batch) {
    const int ncols = static_cast<int>(kinds_.size());
    for (int c = 0; c < ncols; ++c) {
      ColumnVector& out = batch.column(static_cast<size_t>(c));
      const int type = sqlite3_column_type(st, c);
      if (type == SQLITE_NULL) {
        out.append_null();
        continue;
      }
      switch (kinds_[static_cast<size_t>(c)]) {
        case ReadKind::kInt:
          if (type == SQLITE_INTEGER) {
            out.append_int(sqlite3_column_int64(st, c));
          } else if (type == SQLITE_FLOAT) {
            double d = sqlite3_column_double(st, c);
            if (d != std::trunc(d) || !(std::fabs(d) < 9.2e18)) return bad_value(st, c, "int64");
            out.append_int(static_cast<int64_t>(d));
          } else {
            Result<int64_t> v = type == SQLITE_TEXT ? parse_int(column_text(st, c))
                                                    : Result<int64_t>(Status::permanent(""));
            if (!v.is_ok()) return bad_value(st, c, "int64");
            out.append_int(*v);
          }
          break;
        case ReadKind::kDouble:
          if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
            out.append_double(sqlite3_column_double(st, c));
          } else {
            Result<double> v = type == SQLITE_TEXT ? parse_double(column_text(st, c))
                                                   : Result<double>(Status::permanent(""));
            if (!v.is_ok()) return bad_value(st, c, "double");
            out.append_double(*v);
          }
          break;
        case ReadKind::kBool:
          if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
            out.append_bool(sqlite3_column_double(st, c) != 0);
          } else {
            std::string_view t = type == SQLITE_TEXT ? column_text(st, c) : std::string_view();
            if (iequals(t, "true") || iequals(t, "t") || iequals(t, "yes") || t == "1") {
              out.append_bool(true);
            } else if (iequals(t, "false") || iequals(t, "f") || iequals(t, "no") || t == "0") {
              out.append_bool(false);
            } else {
              return bad_value(st, c, "bool");
            }
          }
          break;
        case ReadKind::kText:
          out.append_text(column_text(st, c));
          break;
        case ReadKind::kBytes: {
          const void* p = sqlite3_column_blob(st, c);
          size_t n = static_cast<size_t>(sqlite3_column_bytes(st, c));
          out.append_text(n == 0 ? std::string_view()
                                 : std::string_view(static_cast<const char*>(p), n));
          break;
        }
        case ReadKind::kTimestamp: {
          bool is_time = c == info_->time_index;
          if (type == SQLITE_INTEGER) {
            int64_t v = sqlite3_column_int64(st, c);
            int64_t unit =
                is_time ? info_->time_encoding.unit_micros
                        : sqlite::epoch_unit_for_magnitude(std::fabs(static_cast<double>(v)));
            if (std::fabs(static_cast<double>(v) * static_cast<double>(unit)) > 9.2e18) {
              return bad_value(st, c, "timestamp");
            }
            out.append_int(v * unit);
          } else if (type == SQLITE_FLOAT) {
            double v = sqlite3_column_double(st, c);
            int64_t unit = is_time ? info_->time_encoding.unit_micros
                                   : sqlite::epoch_unit_for_magnitude(std::fabs(v));
            double us = v * static_cast<double>(unit);
            if (!(std::fabs(us) < 9.2e18)) return bad_value(st, c, "timestamp");
            out.append_int(std::llround(us));
          } else {
            Result<int64_t> v = type == SQLITE_TEXT ? parse_timestamp(column_text(st, c))
                                                    : Result<int64_t>(Status::permanent(""));
            if (!v.is_ok()) return bad_value(st, c, "timestamp");
            out.append_int(*v);
          }
          break;
        }
        case ReadKind::kDate:
          if (type == SQLITE_INTEGER) {
            out.append_int(sqlite3_column_int64(st, c));
          } else if (type == SQLITE_TEXT) {
            std::string_view t = column_text(st, c);
            Result<int64_t> days = parse_date(t);
            if (!days.is_ok()) {
              Result<int64_t> micros = parse_timestamp(t);
              if (!micros.is_ok()) return bad_value(st, c, "date");
              int64_t us = *micros;
              days = us / 86400000000LL - (us % 86400000000LL < 0 ? 1 : 0);
            }
            out.append_int(*days);
          } else {
            return bad_value(st, c, "date");
          }
          break;
        case ReadKind::kDecimal: {
          if (type == SQLITE_BLOB) return bad_value(st, c, "decimal");
          int scale = (*info_->schema)[static_cast<size_t>(c)].scale;
          if (!sqlite::normalize_decimal(column_text(st, c), scale, scratch_).is_ok()) {
            return bad_value(st, c, "decimal");
          }
          out.append_text(scratch_);
          break;
        }
      }
    }
    return Status::ok();
  }

  std::shared_ptr<const TableInfo> info_;
  ErrorContext where_;
  PooledConnection conn_;  // declared before the statements: outlives them
  Statement first_;
  Statement next_;
  size_t static_params_;
  size_t batch_rows_;
  std::vector<BoundParam> params_;
  std::vector<ReadKind> kinds_;
  Value last_key_;
  std::string scratch_;
  bool started_ = false;
  bool done_ = false;
};

class SqliteSource final : public Source {
 public:
  explicit SqliteSource(SourceSpec spec, std::string display_path)
      : spec_(std::move(spec)), where_{std::move(display_path), spec_.table} {}

  Result<Schema> describe() override {
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    return *info->schema;
  }

  Result<std::vector<Shard>> plan(const Predicate& predicate, const SplitOptions& split) override {
    if (split.shard_rows < 1) {
      return Status::permanent("sqlite " + where_.db + ": shard_rows must be at least 1");
    }
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, connect());

    SqlBuilder count;
    count.sql("SELECT min(" + info->key + "), max(" + info->key + "), count(" + info->key +
              ") FROM " + info->qualified);
    STRATA_TRY(add_predicate(count, *info, predicate));
    STRATA_ASSIGN_OR_RETURN(Statement count_stmt,
                            Statement::prepare(*conn, count.text(), where_, "planning shards of"));
    STRATA_TRY(bind_all(count_stmt, count.params(), 1));
    STRATA_ASSIGN_OR_RETURN(bool has_row, count_stmt.step(where_, "planning shards of"));
    if (!has_row) return std::vector<Shard>{};
    Value min_key = count_stmt.column_value(0);
    Value max_key = count_stmt.column_value(1);
    int64_t total = sqlite3_column_int64(count_stmt.get(), 2);
    count_stmt.reset();
    std::vector<Shard> shards;
    if (total == 0 || min_key.is_null()) return shards;

    // The shard_rows-th selected key from `lo` ends a shard; the key after it starts the next.
    SqlBuilder walk;
    walk.sql("SELECT " + info->key + " FROM " + info->qualified);
    walk.cond().sql(info->key + " >= ?");
    STRATA_TRY(add_predicate(walk, *info, predicate));
    walk.sql(" ORDER BY " + info->key + " LIMIT 2 OFFSET " + std::to_string(split.shard_rows - 1));
    STRATA_ASSIGN_OR_RETURN(Statement walk_stmt,
                            Statement::prepare(*conn, walk.text(), where_, "planning shards of"));

    Value lo = min_key;
    int64_t remaining = total;
    for (;;) {
      STRATA_TRY(walk_stmt.bind(1, lo, info->key_is_blob));
      STRATA_TRY(bind_all(walk_stmt, walk.params(), 2));
      STRATA_ASSIGN_OR_RETURN(bool has_hi, walk_stmt.step(where_, "planning shards of"));
      Shard shard;
      shard.index = static_cast<int>(shards.size());
      if (!has_hi) {
        walk_stmt.reset();
        // (A key after `max_key` here was inserted after the count; the shard still holds it.)
        shard.range = KeyRange{lo, lo.compare(max_key) > 0 ? lo : max_key};
        shard.estimated_rows = std::max<int64_t>(remaining, 1);
        shards.push_back(std::move(shard));
        break;
      }
      Value hi = walk_stmt.column_value(0);
      STRATA_ASSIGN_OR_RETURN(bool has_next, walk_stmt.step(where_, "planning shards of"));
      Value next = has_next ? walk_stmt.column_value(0) : Value::null();
      walk_stmt.reset();
      shard.range = KeyRange{lo, hi};
      shard.estimated_rows = split.shard_rows;
      remaining = std::max<int64_t>(remaining - split.shard_rows, 0);
      shards.push_back(std::move(shard));
      if (!has_next) break;
      lo = std::move(next);
    }
    return shards;
  }

  Result<std::unique_ptr<BatchReader>> read(const Predicate& predicate, const Shard& shard,
                                            size_t batch_rows) override {
    if (batch_rows == 0) {
      return Status::permanent("sqlite " + where_.db + ": batch_rows must be at least 1");
    }
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    SqlBuilder first, next;
    STRATA_TRY(build_read(first, *info, predicate, shard, batch_rows, false));
    STRATA_TRY(build_read(next, *info, predicate, shard, batch_rows, true));
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, connect());
    STRATA_ASSIGN_OR_RETURN(Statement first_stmt,
                            Statement::prepare(*conn, first.text(), where_, "reading"));
    STRATA_ASSIGN_OR_RETURN(Statement next_stmt,
                            Statement::prepare(*conn, next.text(), where_, "reading"));
    auto reader = std::make_unique<SqliteBatchReader>(info, where_, std::move(conn),
                                                      std::move(first_stmt), std::move(next_stmt),
                                                      first.params().size(), batch_rows);
    reader->bind_static(first.params());
    return std::unique_ptr<BatchReader>(std::move(reader));
  }

  Result<uint64_t> delete_keys(const Predicate& predicate, const Shard& shard,
                               const Batch& key_batch) override {
    if (key_batch.num_rows() == 0) return uint64_t{0};
    const ColumnVector& keys = key_batch.column(0);
    STRATA_ASSIGN_OR_RETURN(std::shared_ptr<const TableInfo> info, table_info());
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, connect());

    STRATA_TRY(conn->exec("BEGIN IMMEDIATE", where_, "purging (begin) from"));
    uint64_t deleted = 0;
    Status s = is_contiguous_run(keys)
                   ? delete_run(*conn, *info, predicate, shard, keys, deleted)
                   : delete_in_chunks(*conn, *info, predicate, shard, keys, deleted);
    if (s.is_ok()) s = conn->exec("COMMIT", where_, "purging (commit) from");
    if (!s.is_ok()) {
      if (!sqlite3_get_autocommit(conn->get())) {
        (void)conn->exec("ROLLBACK", where_, "purging (rollback) from");
      }
      return s;
    }
    return deleted;
  }

  ShardStatements statements(const Predicate& predicate, const Shard& shard,
                             size_t batch_rows) override {
    Result<std::shared_ptr<const TableInfo>> info = table_info();
    if (!info.is_ok()) {
      std::string err = "-- " + info.status().message();
      return ShardStatements{err, err};
    }
    ShardStatements out;
    SqlBuilder read;
    Status s = build_read(read, **info, predicate, shard, std::max<size_t>(batch_rows, 1), false);
    out.read = s.is_ok() ? read.shown() : "-- " + s.message();
    SqlBuilder purge;
    s = build_delete(purge, **info, predicate, shard, 0, "(<archived keys>)");
    out.purge = s.is_ok() ? purge.shown() : "-- " + s.message();
    return out;
  }

 private:
  // The connection pool, created at the first connect (when ${ENV} references are expanded).
  Result<std::shared_ptr<ConnectionPool>> pool() {
    std::lock_guard<std::mutex> lock(mu_);
    if (pool_) return pool_;
    STRATA_ASSIGN_OR_RETURN(std::string uri, expand_env(spec_.uri));
    STRATA_ASSIGN_OR_RETURN(Uri parsed, parse_uri(uri));
    int busy_timeout_ms = sqlite::kDefaultBusyTimeoutMs;
    if (auto it = parsed.query.find("busy_timeout_ms"); it != parsed.query.end()) {
      Result<int64_t> ms = parse_int(it->second);
      if (!ms.is_ok() || *ms < 0 || *ms > 3600000) {
        return error("busy_timeout_ms must be a number of milliseconds, got '" + it->second + "'");
      }
      busy_timeout_ms = static_cast<int>(*ms);
    }
    pool_ = std::make_shared<ConnectionPool>(resolve_path(spec_.base_dir, parsed.path), where_,
                                             busy_timeout_ms);
    return pool_;
  }

  Result<PooledConnection> connect() {
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

  Status error(const std::string& message) const {
    return Status::permanent("sqlite " + where_.db + ": " + message);
  }

  Result<std::shared_ptr<const TableInfo>> load_table_info() {
    STRATA_ASSIGN_OR_RETURN(PooledConnection conn, connect());
    auto info = std::make_shared<TableInfo>();
    const char* op = "describing";

    // "schema.table" names an attached schema only if that schema exists.
    info->table_name = spec_.table;
    if (size_t dot = spec_.table.find('.'); dot != std::string::npos) {
      STRATA_ASSIGN_OR_RETURN(
          Statement st, Statement::prepare(*conn,
                                           "SELECT name FROM pragma_database_list WHERE name = ? "
                                           "COLLATE NOCASE",
                                           where_, op));
      STRATA_TRY(st.bind(1, Value::of_text(spec_.table.substr(0, dot))));
      STRATA_ASSIGN_OR_RETURN(bool found, st.step(where_, op));
      if (found) {
        info->schema_name = st.column_value(0).as_text();
        info->table_name = spec_.table.substr(dot + 1);
      }
    }
    std::string schema_arg = info->schema_name.empty() ? "main" : info->schema_name;
    info->qualified = info->schema_name.empty() ? quote_identifier(info->table_name)
                                                : quote_identifier(info->schema_name) + "." +
                                                      quote_identifier(info->table_name);

    // The table exists (and is a table, not a view).
    {
      std::string master = quote_identifier(schema_arg) + ".sqlite_schema";
      STRATA_ASSIGN_OR_RETURN(Statement st,
                              Statement::prepare(*conn,
                                                 "SELECT type, name FROM " + master +
                                                     " WHERE name = ? COLLATE NOCASE AND type IN "
                                                     "('table', 'view')",
                                                 where_, op));
      STRATA_TRY(st.bind(1, Value::of_text(info->table_name)));
      STRATA_ASSIGN_OR_RETURN(bool found, st.step(where_, op));
      if (!found) {
        STRATA_ASSIGN_OR_RETURN(Statement list,
                                Statement::prepare(*conn,
                                                   "SELECT name FROM " + master +
                                                       " WHERE type = 'table' AND name NOT LIKE "
                                                       "'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                                                   where_, op));
        std::vector<std::string> names;
        for (;;) {
          STRATA_ASSIGN_OR_RETURN(bool row, list.step(where_, op));
          if (!row) break;
          names.push_back(list.column_value(0).as_text());
        }
        return error("table '" + spec_.table + "' does not exist (tables: " + join_names(names) +
                     ")");
      }
      if (st.column_value(0).as_text() == "view") {
        return error("'" + spec_.table +
                     "' is a view; archive from a table (rows are deleted after archiving)");
      }
    }

    // Columns.
    std::vector<Column> columns;
    std::vector<std::string> column_names;
    int pk_columns = 0;
    std::string pk_name;
    {
      STRATA_ASSIGN_OR_RETURN(
          Statement st,
          Statement::prepare(*conn,
                             "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?, ?) "
                             "ORDER BY cid",
                             where_, op));
      STRATA_TRY(st.bind(1, Value::of_text(info->table_name)));
      STRATA_TRY(st.bind(2, Value::of_text(schema_arg)));
      for (;;) {
        STRATA_ASSIGN_OR_RETURN(bool row, st.step(where_, op));
        if (!row) break;
        std::string name = st.column_value(0).as_text();
        Value declared = st.column_value(1);
        bool not_null = sqlite3_column_int(st.get(), 2) != 0;
        int pk = sqlite3_column_int(st.get(), 3);
        if (pk > 0) {
          ++pk_columns;
          pk_name = name;
        }
        column_names.push_back(name);
        columns.push_back(sqlite::column_for_declared_type(
            std::move(name), declared.is_text() ? declared.as_text() : "", not_null));
      }
    }
    // Excluded columns are left out of the schema and of every read.
    for (const std::string& x : spec_.exclude_columns) {
      auto it = std::find_if(columns.begin(), columns.end(),
                             [&](const Column& c) { return iequals(c.name, x); });
      if (it == columns.end()) {
        return error("excluded column '" + x + "' does not exist in table '" + spec_.table +
                     "' (columns: " + join_names(column_names) + ")");
      }
      columns.erase(it);
    }
    auto find_column = [&](const std::string& name) {
      for (size_t i = 0; i < columns.size(); ++i) {
        if (iequals(columns[i].name, name)) return static_cast<int>(i);
      }
      return -1;
    };

    // The key column: exists, unique, and of a type that binds back as stored.
    info->key_index = find_column(spec_.key_column());
    if (info->key_index < 0) {
      return error("key column '" + spec_.key_column() + "' does not exist in table '" + spec_.table +
                   "' (columns: " + join_names(column_names) + ")");
    }
    const Column& key_col = columns[static_cast<size_t>(info->key_index)];
    bool unique = pk_columns == 1 && iequals(pk_name, key_col.name);
    if (!unique) {
      STRATA_ASSIGN_OR_RETURN(unique,
                              has_unique_index(*conn, info->table_name, schema_arg, key_col.name));
    }
    if (!unique) {
      return error("key column '" + spec_.key_column() + "' of table '" + spec_.table +
                   "' is not unique: add a primary key or unique index, or choose another key");
    }
    if (key_col.type != Type::kInt64 && key_col.type != Type::kString &&
        key_col.type != Type::kBytes && key_col.type != Type::kDouble) {
      return error("key column '" + key_col.name + "' of table '" + spec_.table +
                   "' is declared '" + key_col.source_type + "' (" + type_name(key_col.type) +
                   "); choose an integer or text key");
    }
    info->key = quote_identifier(key_col.name);
    info->key_is_blob = key_col.type == Type::kBytes;

    // The time column: exists; its values read back as timestamps.
    if (!spec_.time_column.empty()) {
      info->time_index = find_column(spec_.time_column);
      if (info->time_index < 0) {
        return error("time column '" + spec_.time_column + "' does not exist in table '" +
                     spec_.table + "' (columns: " + join_names(column_names) + ")");
      }
      Column& time_col = columns[static_cast<size_t>(info->time_index)];
      info->time = quote_identifier(time_col.name);
      STRATA_ASSIGN_OR_RETURN(info->time_encoding, detect_time_encoding(*conn, *info, time_col));
      time_col.type = Type::kTimestamp;
      if (info->time_index == info->key_index &&
          !(info->time_encoding.kind == TimeEncoding::Kind::kEpochInt &&
            info->time_encoding.unit_micros == 1)) {
        return error("table '" + spec_.table + "': the key column '" + key_col.name +
                     "' cannot also be the time column unless it holds epoch microseconds "
                     "(choose another key)");
      }
    }

    info->schema = std::make_shared<const Schema>(std::move(columns));
    for (size_t i = 0; i < info->schema->size(); ++i) {
      if (i > 0) info->select_list += ", ";
      info->select_list += quote_identifier((*info->schema)[i].name);
    }
    return std::shared_ptr<const TableInfo>(std::move(info));
  }

  // True if a non-partial unique index covers exactly `column`.
  Result<bool> has_unique_index(sqlite::Connection& conn, const std::string& table,
                                const std::string& schema, const std::string& column) {
    const char* op = "describing the indexes of";
    STRATA_ASSIGN_OR_RETURN(
        Statement indexes,
        Statement::prepare(conn,
                           "SELECT name FROM pragma_index_list(?, ?) WHERE \"unique\" AND NOT "
                           "partial",
                           where_, op));
    STRATA_TRY(indexes.bind(1, Value::of_text(table)));
    STRATA_TRY(indexes.bind(2, Value::of_text(schema)));
    std::vector<std::string> names;
    for (;;) {
      STRATA_ASSIGN_OR_RETURN(bool row, indexes.step(where_, op));
      if (!row) break;
      names.push_back(indexes.column_value(0).as_text());
    }
    STRATA_ASSIGN_OR_RETURN(
        Statement cols,
        Statement::prepare(conn, "SELECT name FROM pragma_index_info(?, ?)", where_, op));
    for (const std::string& index : names) {
      STRATA_TRY(cols.bind(1, Value::of_text(index)));
      STRATA_TRY(cols.bind(2, Value::of_text(schema)));
      std::vector<Value> covered;
      for (;;) {
        STRATA_ASSIGN_OR_RETURN(bool row, cols.step(where_, op));
        if (!row) break;
        covered.push_back(cols.column_value(0));
      }
      cols.reset();
      if (covered.size() == 1 && covered[0].is_text() && iequals(covered[0].as_text(), column)) {
        return true;
      }
    }
    return false;
  }

  // From one stored value; from the declared type when the column holds no values yet.
  Result<TimeEncoding> detect_time_encoding(sqlite::Connection& conn, const TableInfo& info,
                                            const Column& col) {
    const char* op = "sampling the time column of";
    STRATA_ASSIGN_OR_RETURN(
        Statement st,
        Statement::prepare(conn,
                           "SELECT " + info.time + ", " + info.key + " FROM " + info.qualified +
                               " WHERE " + info.time + " IS NOT NULL LIMIT 1",
                           where_, op));
    STRATA_ASSIGN_OR_RETURN(bool row, st.step(where_, op));
    if (!row) {
      TimeEncoding enc;
      if (col.type == Type::kInt64) {
        enc = sqlite::detect_int_encoding(0);
      } else if (col.type == Type::kDouble) {
        enc = sqlite::detect_real_encoding(0);
      } else {
        enc.kind = TimeEncoding::Kind::kText;  // SQLite's CURRENT_TIMESTAMP layout
      }
      return enc;
    }
    switch (sqlite3_column_type(st.get(), 0)) {
      case SQLITE_INTEGER:
        return sqlite::detect_int_encoding(sqlite3_column_int64(st.get(), 0));
      case SQLITE_FLOAT:
        return sqlite::detect_real_encoding(sqlite3_column_double(st.get(), 0));
      default: {
        Value sample = st.column_value(0);
        Result<TimeEncoding> enc = sqlite::detect_text_encoding(sample.as_text());
        if (!enc.is_ok()) {
          return error("table '" + spec_.table + "' time column '" + col.name + "' at key " +
                       st.column_value(1).to_string() + ": " + enc.status().message());
        }
        return enc;
      }
    }
  }

  // The selection predicate: time bounds, key bounds, and the extra SQL (the policy's and the
  // task's; the same text is added once).
  Status add_predicate(SqlBuilder& b, const TableInfo& info, const Predicate& p) const {
    if ((p.time_before || p.time_from) && info.time_index < 0) {
      return error("table '" + spec_.table +
                   "': the selection needs a time column, but none is configured");
    }
    if (p.time_from) {
      b.cond()
          .sql(info.time + " >= ")
          .param(sqlite::encode_cutoff(info.time_encoding, *p.time_from));
    }
    if (p.time_before) {
      b.cond()
          .sql(info.time + " < ")
          .param(sqlite::encode_cutoff(info.time_encoding, *p.time_before));
    }
    if (p.key_from && !p.key_from->is_null()) {
      b.cond().sql(info.key + " >= ").param(*p.key_from, info.key_is_blob);
    }
    if (p.key_below && !p.key_below->is_null()) {
      b.cond().sql(info.key + " < ").param(*p.key_below, info.key_is_blob);
    }
    if (!spec_.where.empty()) b.cond().sql("(" + spec_.where + ")");
    if (!p.where.empty()) b.cond().sql("(" + p.where + ")");
    return Status::ok();
  }

  void add_range(SqlBuilder& b, const TableInfo& info, const KeyRange& r) const {
    if (!r.lo.is_null() && !r.hi.is_null()) {
      b.cond().sql(info.key + " BETWEEN ").param(r.lo, info.key_is_blob);
      b.sql(" AND ").param(r.hi, info.key_is_blob);
    } else if (!r.lo.is_null()) {
      b.cond().sql(info.key + " >= ").param(r.lo, info.key_is_blob);
    } else if (!r.hi.is_null()) {
      b.cond().sql(info.key + " <= ").param(r.hi, info.key_is_blob);
    }
  }

  // SELECT <columns> ... ORDER BY key LIMIT n; `after_last` adds "key > ?" as the last parameter.
  Status build_read(SqlBuilder& b, const TableInfo& info, const Predicate& p, const Shard& shard,
                    size_t batch_rows, bool after_last) const {
    b.sql("SELECT " + info.select_list + " FROM " + info.qualified);
    add_range(b, info, shard.range);
    STRATA_TRY(add_predicate(b, info, p));
    if (after_last) b.cond().placeholder(info.key + " > ?", info.key + " > <last key read>");
    b.sql(" ORDER BY " + info.key + " LIMIT " + std::to_string(batch_rows));
    return Status::ok();
  }

  // DELETE ... WHERE key IN (n placeholders) AND <range> AND <predicate>.
  Status build_delete(SqlBuilder& b, const TableInfo& info, const Predicate& p, const Shard& shard,
                      size_t keys, std::string_view shown_keys) const {
    std::string list = "(";
    for (size_t i = 0; i < keys; ++i) list += i == 0 ? "?" : ",?";
    list += ")";
    b.sql("DELETE FROM " + info.qualified).cond().sql(info.key + " IN ");
    b.placeholder(list, shown_keys);
    add_range(b, info, shard.range);
    return add_predicate(b, info, p);
  }

  Status bind_all(Statement& st, const std::vector<BoundParam>& params, int first) const {
    for (size_t i = 0; i < params.size(); ++i) {
      STRATA_TRY(st.bind(first + static_cast<int>(i), params[i].value, params[i].blob));
    }
    return Status::ok();
  }

  // Integer keys k, k+1, ..., k+n-1 without NULLs: the archived set holds every integer of the
  // range, so a range DELETE removes exactly the same rows as the IN list, in one statement that
  // walks the key index once.
  static bool is_contiguous_run(const ColumnVector& keys) {
    if (keys.storage() != Storage::kInt || keys.null_count() != 0 || keys.size() < 2) return false;
    const int64_t first = keys.int_at(0);
    for (size_t i = 1; i < keys.size(); ++i) {
      if (keys.int_at(i) != first + static_cast<int64_t>(i)) return false;
    }
    return true;
  }

  Status delete_run(sqlite::Connection& conn, const TableInfo& info, const Predicate& p,
                    const Shard& shard, const ColumnVector& keys, uint64_t& deleted) {
    const char* op = "purging from";
    SqlBuilder b;
    // typeof() keeps a REAL or TEXT value that happens to sort inside the range out of it.
    b.sql("DELETE FROM " + info.qualified).cond().sql(info.key + " BETWEEN ");
    b.param(Value::of_int(keys.int_at(0)))
        .sql(" AND ")
        .param(Value::of_int(keys.int_at(keys.size() - 1)));
    b.cond().sql("typeof(" + info.key + ") = 'integer'");
    add_range(b, info, shard.range);
    STRATA_TRY(add_predicate(b, info, p));
    STRATA_ASSIGN_OR_RETURN(Statement stmt, Statement::prepare(conn, b.text(), where_, op));
    STRATA_TRY(bind_all(stmt, b.params(), 1));
    STRATA_ASSIGN_OR_RETURN(bool row, stmt.step(where_, op));
    (void)row;
    deleted += static_cast<uint64_t>(sqlite3_changes64(conn.get()));
    return Status::ok();
  }

  Status delete_in_chunks(sqlite::Connection& conn, const TableInfo& info, const Predicate& p,
                          const Shard& shard, const ColumnVector& keys, uint64_t& deleted) {
    const char* op = "purging from";
    std::optional<Statement> stmt;
    size_t stmt_keys = 0;
    std::vector<BoundParam> params;
    for (size_t begin = 0; begin < keys.size(); begin += kDeleteChunk) {
      size_t n = std::min(kDeleteChunk, keys.size() - begin);
      if (!stmt || stmt_keys != n) {
        SqlBuilder b;
        STRATA_TRY(build_delete(b, info, p, shard, n, ""));
        stmt.reset();
        STRATA_ASSIGN_OR_RETURN(Statement s, Statement::prepare(conn, b.text(), where_, op));
        stmt.emplace(std::move(s));
        stmt_keys = n;
        params = b.params();
      }
      sqlite3_stmt* st = stmt->get();
      for (size_t i = 0; i < n; ++i) {
        int index = static_cast<int>(i + 1);
        size_t row = begin + i;
        int rc = SQLITE_OK;
        if (keys.is_null(row)) {
          rc = sqlite3_bind_null(st, index);
        } else if (keys.storage() == Storage::kInt) {
          rc = sqlite3_bind_int64(st, index, keys.int_at(row));
        } else if (keys.storage() == Storage::kDouble) {
          rc = sqlite3_bind_double(st, index, keys.double_at(row));
        } else {
          std::string_view k = keys.text_at(row);
          rc = info.key_is_blob
                   ? sqlite3_bind_blob64(st, index, k.data(), k.size(), SQLITE_STATIC)
                   : sqlite3_bind_text64(st, index, k.data(), k.size(), SQLITE_STATIC, SQLITE_UTF8);
        }
        if (rc != SQLITE_OK) return sqlite::sqlite_status(rc, conn.errmsg(), where_, op);
      }
      STRATA_TRY(bind_all(*stmt, params, static_cast<int>(n + 1)));
      Result<bool> r = stmt->step(where_, op);
      stmt->reset();
      if (!r.is_ok()) return r.status();
      deleted += static_cast<uint64_t>(sqlite3_changes64(conn.get()));
    }
    return Status::ok();
  }

  const SourceSpec spec_;
  const ErrorContext where_;
  std::mutex mu_;
  std::shared_ptr<ConnectionPool> pool_;
  std::shared_ptr<const TableInfo> info_;
};

}  // namespace

Result<std::unique_ptr<Source>> open_sqlite_source(const SourceSpec& spec) {
  // Parsed unexpanded: ${ENV} references stay unexpanded in every message.
  STRATA_ASSIGN_OR_RETURN(Uri uri, parse_uri(spec.uri));
  if (uri.scheme != "sqlite") {
    return Status::permanent("source URI scheme '" + uri.scheme +
                             "' is not sqlite (expected sqlite://PATH)");
  }
  for (const auto& [key, value] : uri.query) {
    if (key != "busy_timeout_ms") {
      return Status::permanent("sqlite " + uri.path + ": unknown URI option '" + key +
                               "' (known: busy_timeout_ms)");
    }
  }
  if (spec.table.empty()) {
    return Status::permanent("sqlite " + uri.path + ": no table given (set the source's table)");
  }
  if (spec.key_columns.empty() || spec.key_columns.front().empty()) {
    return Status::permanent("sqlite " + uri.path + ": no key column given for table '" +
                             spec.table + "' (set the source's key)");
  }
  if (spec.key_columns.size() > 1) {
    return Status::permanent("sqlite " + uri.path + ": table '" + spec.table +
                             "' is keyed on several columns, which the sqlite source does not "
                             "support yet; key it on one unique column (an INTEGER PRIMARY KEY or "
                             "a column with a unique index)");
  }
  return std::unique_ptr<Source>(
      std::make_unique<SqliteSource>(spec, resolve_path(spec.base_dir, uri.path)));
}

}  // namespace strata
